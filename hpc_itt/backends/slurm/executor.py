"""submitit's Slurm executor for a job shape, and the checks around sbatch.

An executor can be built anywhere, Slurm or not: the dry run renders its sbatch scripts from it.
Only submitting needs Slurm, and it checks first (`require_slurm`): no client on PATH or no
controller answering stops with one line (UserError) before anything is written."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import submitit
from submitit.core.utils import FailedJobError, FailedSubmissionError

from hpc_itt.backends.base import JobShape
from hpc_itt.config.schema import ClusterConfig
from hpc_itt.errors import UserError

PROBE_TIMEOUT_S = 15
_WHAT_TO_DO = "submit from a Slurm login node, plan with --dry-run, or run with --cluster local"


class SlurmExecutor(submitit.SlurmExecutor):
    """submitit's SlurmExecutor, unchanged in what it writes and submits, except that:

    - it can be constructed where Slurm is absent. submitit refuses in `SlurmExecutor.__init__`
      (`if not self.affinity() > 0`, and `affinity()` is `shutil.which("srun")`), which made
      `--dry-run` and the sbatch preview need a Slurm client. Here that check moves to submission;
    - a submission first checks that Slurm is reachable, and an sbatch failure (unreachable
      controller, rejected partition, ...) is one UserError line instead of submitit's echo of
      sbatch's whole stderr followed by a traceback;
    - `nodes` may be a range "min-max" (elastic jobs), which submitit writes as given but would
      multiply as a string when counting the job's tasks.
    """

    def _num_tasks(self) -> int:
        # the tasks every allocation of an elastic job has: rank 0's result is task 0's
        nodes = self.parameters.get("nodes", 1)
        low = int(str(nodes).split("-")[0])
        return low * max(1, self.parameters.get("ntasks_per_node", 1))

    @classmethod
    def affinity(cls) -> int:
        return 2  # as submitit's where srun exists; reachability is checked when submitting

    def _internal_process_submissions(self, delayed_submissions):
        require_slurm()
        with sbatch_errors():
            return super()._internal_process_submissions(delayed_submissions)


def make(cluster: ClusterConfig, folder: Path, shape: JobShape, name: str, after: str | None = None) -> SlurmExecutor:
    executor = SlurmExecutor(folder=folder, max_num_timeout=30)
    extra = dict(cluster.extra_sbatch)
    if after:
        extra["dependency"] = after
    # What AutoExecutor(cluster="slurm").update_parameters does: the generic names through the
    # Slurm executor's own _convert_parameters (name → job_name, timeout_min → time, mem_gb →
    # "<n>GB", ...), Slurm-specific ones as they are.
    nodes = f"{shape.min_nodes}-{shape.nodes}" if shape.min_nodes else shape.nodes
    generic = dict(name=name, nodes=nodes, tasks_per_node=shape.tasks_per_node,
                   cpus_per_task=cluster.cpus_per_task, timeout_min=shape.timeout_min)
    if shape.gpus_per_node:
        generic["gpus_per_node"] = shape.gpus_per_node
    if cluster.mem_gb:
        generic["mem_gb"] = cluster.mem_gb
    specific = dict(array_parallelism=cluster.array_parallelism, setup=list(cluster.setup),
                    additional_parameters=extra,
                    srun_args=["--cpu-bind=none"] + (["--mpi=pmix"] if cluster.launcher == "mpi" else []))
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(cluster, key):
            specific[key] = getattr(cluster, key)
    executor.update_parameters(**executor._convert_parameters(generic), **specific)
    return executor


# ---- is Slurm reachable from here? ---------------------------------------------------------------
_reachable: set[tuple] = set()  # environments already probed successfully in this process


def require_slurm() -> None:
    """Raise a one-line UserError unless Slurm's client is on PATH and its controller answers.
    Cheap: one `sinfo -h -o %P` (at most PROBE_TIMEOUT_S), once per process and environment."""
    env_key = (os.environ.get("PATH", ""), os.environ.get("SLURM_CONF", ""))
    if env_key in _reachable:
        return
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if missing:
        raise UserError(f"--cluster slurm: Slurm is not installed or not on PATH here (no {' or '.join(missing)}); "
                        f"{_WHAT_TO_DO}")
    sinfo = shutil.which("sinfo")
    if sinfo is not None:  # without sinfo, sbatch's own failure is still one line (sbatch_errors)
        try:
            out = subprocess.run([sinfo, "-h", "-o", "%P"], capture_output=True, text=True,
                                 timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise UserError(f"--cluster slurm: the Slurm controller did not answer `sinfo` within {PROBE_TIMEOUT_S} s "
                            f"(check `scontrol ping` and SLURM_CONF); {_WHAT_TO_DO}") from None
        except OSError as err:
            raise UserError(f"--cluster slurm: cannot run {sinfo}: {err}; {_WHAT_TO_DO}") from None
        if out.returncode != 0:
            raise UserError(f"--cluster slurm: the Slurm controller is not reachable (`sinfo` exit {out.returncode}: "
                            f"{one_line(out.stderr or out.stdout)}); check `scontrol ping` and SLURM_CONF; "
                            f"{_WHAT_TO_DO}")
    _reachable.add(env_key)


@contextlib.contextmanager
def sbatch_errors():
    """sbatch failing → one UserError line. submitit prints sbatch's whole stderr itself before
    raising (CommandFunction); that copy is held back here and printed only if nothing failed."""
    held = io.StringIO()
    try:
        with contextlib.redirect_stderr(held):
            yield
    except (FailedJobError, FailedSubmissionError, subprocess.SubprocessError, FileNotFoundError) as err:
        if isinstance(err, FileNotFoundError) and Path(str(err.filename)).name != "sbatch":
            raise  # a missing job folder or the like: not Slurm's answer
        raise UserError(f"--cluster slurm: sbatch failed: {one_line(str(err) or held.getvalue())}; "
                        f"check `sinfo` and the cluster profile (partition, account, qos), or plan with "
                        f"--dry-run") from None
    sys.stderr.write(held.getvalue())


def one_line(text: str, limit: int = 300) -> str:
    """The line of a Slurm client's output that says what went wrong: the last `fatal`, else the
    last `error`, else the last non-empty line (a 56-line `sbatch: fatal` block ends with it)."""
    lines = [" ".join(line.split()) for line in str(text).splitlines() if line.strip()]
    if not lines:
        return "no output"
    for word in ("fatal", "error"):
        hits = [line for line in lines if word in line.lower()]
        if hits:
            lines = hits
            break
    line = lines[-1]
    return line if len(line) <= limit else line[: limit - 3] + "..."
