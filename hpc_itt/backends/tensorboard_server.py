"""`--stage tensorboard`: one TensorBoard over an experiment's whole log tree.

The backend decides where it runs (hpc_itt.backends). Locally the server runs in the foreground, bound to 127.0.0.1. On Slurm it runs as a small job,
still bound to the compute node's 127.0.0.1; its log prints the `ssh -L` command that tunnels a
laptop port to it through the login node, so nothing is exposed on the cluster network.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError

HOST = "127.0.0.1"


def logdir(study: StudyConfig) -> Path:
    return Path(study.logdir) / study.name


def command(study: StudyConfig, port: int) -> list[str]:
    # --reload_multifile: a requeued run appends a second event file to the same run directory
    return [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir(study)), "--host", HOST,
            "--port", str(port), "--reload_multifile", "true", "--reload_interval", "15"]


def serve_local(study: StudyConfig, port: int) -> int:
    if not logdir(study).is_dir():
        raise UserError(f"no TensorBoard logs yet at {logdir(study)} (run a stage first)")
    _check_port_free(port)
    print(f"TensorBoard on http://{HOST}:{port}/ over {logdir(study)} (Ctrl-C stops it)", flush=True)
    argv = command(study, port)
    os.execv(argv[0], argv)  # become the server: signals to this process reach TensorBoard itself


def _check_port_free(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            raise UserError(f"port {port} on {HOST} is in use (choose another: --port N)") from None


class TensorBoardJob:
    """The server as a Slurm job; its stdout says how to reach it."""

    def __init__(self, study: StudyConfig, port: int):
        self.study, self.port = study, port

    def __call__(self) -> int:
        node = socket.gethostname()
        login = os.environ.get("SLURM_SUBMIT_HOST", "<login-node>")
        print(f"TensorBoard for {logdir(self.study)} on {node}, bound to {HOST}:{self.port}.\n"
              f"From your laptop:  ssh -N -L {self.port}:{HOST}:{self.port} -J {login} {node}\n"
              f"then open http://localhost:{self.port}/", flush=True)
        return subprocess.call(command(self.study, self.port))
