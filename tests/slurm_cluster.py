"""Local Slurm clusters for tests (one node, or several in network namespaces) (see slurm/local/README.md).

Import the fixture into a test module (or a conftest) to use it::

    from slurm_cluster import slurm_cluster, wait_state  # noqa: F401

    def test_x(slurm_cluster, tmp_path):
        ex = slurm_cluster.executor(tmp_path / "%j", timeout_min=60)
        assert ex.submit(int, "3").result() == 3

The session fixture runs ``slurm/local/start.sh`` once (a no-op taking under a second when the
daemons already run) and leaves the daemons running; ``slurm/local/stop.sh`` stops them. It skips
only when the tests cannot own a cluster (not root, or packages missing and apt unusable); any other
start failure is an error.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pytest

REPO = Path(__file__).resolve().parents[1]
START = REPO / "slurm" / "local" / "start.sh"
STOP = REPO / "slurm" / "local" / "stop.sh"
DEFAULT_BASE = "/tmp/hpc-itt-slurm"
RC_NOT_ROOT, RC_NO_APT = 2, 3  # start.sh exit codes that mean "cannot run here"
TERMINAL_STATES = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
     "BOOT_FAIL", "DEADLINE"}
)


@dataclass
class SlurmCluster:
    base: Path
    partition: str
    env: dict[str, str] = field(default_factory=dict)  # what a client needs: SLURM_CONF
    start_seconds: float = 0.0

    def executor(self, folder: str | os.PathLike, **params: Any):
        """A submitit slurm executor on this cluster (partition set, timeout_min=10 unless given)."""
        import submitit

        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        params.setdefault("timeout_min", 10)
        ex.update_parameters(slurm_partition=self.partition, **params)
        return ex

    def listening(self) -> dict[str, list[str]]:
        """Local addresses of the TCP listeners of this cluster's own daemons (by their pid files;
        other clusters on this machine are not counted), e.g. {"slurmctld": ["127.0.0.1:6817"]}."""
        pid_files = [*(self.base / "run").glob("*.pid"), self.base / "mysql" / "run" / "mysqld.pid"]
        pids = {f.read_text().strip() for f in pid_files if f.is_file()}
        found: dict[str, list[str]] = {}
        for line in _run(["ss", "-Hltnp"]).splitlines():
            for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
                if pid in pids:
                    found.setdefault(name, []).append(line.split()[3])
        return found


def _skip_reason() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "local Slurm cluster needs root (SlurmUser=root, mknod, apt-get)"
    if shutil.which("bash") is None:
        return "local Slurm cluster needs bash"
    return None


def start_cluster(base: str | os.PathLike | None = None, partition: str | None = None, nodes: int = 1,
                  port_base: int | None = None) -> SlurmCluster:
    """Run slurm/local/start.sh and return the cluster; pytest.skip / pytest.fail on failure.
    `nodes` > 1: one network namespace per node (see slurm/local/README.md)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    env = dict(os.environ)
    if base is not None:
        env["SLURM_LOCAL_BASE"] = str(base)
    if partition is not None:
        env["SLURM_PARTITION"] = partition
    if port_base is not None:
        env["SLURM_PORT_BASE"] = str(port_base)
    env["SLURM_NODES"] = str(nodes)
    base = Path(env.get("SLURM_LOCAL_BASE", DEFAULT_BASE))
    partition = env.get("SLURM_PARTITION", "debug")
    (base / "log").mkdir(parents=True, exist_ok=True)
    out_path = base / "log" / "start.out"
    t0 = time.monotonic()
    # Output goes to a file, not a pipe: the daemons must never hold our pipe open.
    with open(out_path, "w") as out:
        rc = subprocess.run(["bash", str(START)], stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, env=env, timeout=600).returncode
    seconds = time.monotonic() - t0
    output = out_path.read_text(errors="replace")
    if rc in (RC_NOT_ROOT, RC_NO_APT):
        pytest.skip(f"local Slurm cluster unavailable: {output.strip().splitlines()[-1:]}")
    if rc != 0:
        pytest.fail(f"slurm/local/start.sh failed (rc={rc}):\n{output[-6000:]}", pytrace=False)
    conf = str(base / "etc" / "slurm.conf")
    return SlurmCluster(base=base, partition=partition, env={"SLURM_CONF": conf}, start_seconds=seconds)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterable[SlurmCluster]:
    """Session-wide local Slurm cluster; exports SLURM_CONF into os.environ for submitit/sbatch."""
    cluster = start_cluster()
    old = {k: os.environ.get(k) for k in cluster.env}
    os.environ.update(cluster.env)
    try:
        yield cluster
    finally:  # daemons stay up (stop: slurm/local/stop.sh); only the environment is restored
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (subprocess.TimeoutExpired, OSError):
        return ""


def preempt(job, settle: float = 1.0) -> None:
    """Slurm's preemption as submitit's `job._interrupt()` sends it (SIGTERM, then USR2), with the two
    signals `settle` seconds apart. Sent 5 ms apart, slurmd may deliver USR2 first: the handler then
    spawns `scontrol requeue`, and the SIGTERM that follows kills that child (Python's handlers do not
    survive exec), so the job fails instead of requeueing (seen once in CI under load)."""
    subprocess.check_call(["scancel", str(job.job_id), "--signal", "SIGTERM"])
    time.sleep(settle)
    subprocess.check_call(["scancel", str(job.job_id), "--signal", "USR2"])


def job_state(job_id: str | int) -> str:
    """Current state of a job (array task ids like ``123_4`` work): squeue first (live, exact),
    then sacct (finished jobs). The first word only, e.g. ``CANCELLED`` for "CANCELLED by 0".
    Returns "" when neither knows the job (yet)."""
    job_id = str(job_id)
    line = _run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"]).strip().splitlines()
    if line and line[0].strip():
        return line[0].split()[0]
    for row in _run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "JobID,State"]).splitlines():
        jid, _, state = row.partition("|")
        if jid == job_id and state.strip():
            return state.split()[0]
    return ""


def wait_state(job_id: str | int, states: str | Iterable[str], timeout: float = 60.0,
               poll: float = 0.25) -> str:
    """Poll squeue/sacct until the job is in one of ``states``; return that state.

    Raises TimeoutError (with the last state seen) after ``timeout`` seconds, or AssertionError
    when the job reaches a terminal state that was not asked for.
    """
    wanted = {states} if isinstance(states, str) else set(states)
    deadline = time.monotonic() + timeout
    state = ""
    while True:
        state = job_state(job_id)
        if state in wanted:
            return state
        if state in TERMINAL_STATES:
            raise AssertionError(f"job {job_id} ended as {state}, expected {sorted(wanted)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} not in {sorted(wanted)} after {timeout} s (last: {state!r})")
        time.sleep(poll)
