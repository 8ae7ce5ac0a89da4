"""Job states from the Slurm scheduler: `squeue` for what is still queued or running (the
accounting database learns of a fresh submission only later), `sacct` for how a job ended."""
from __future__ import annotations

import getpass
import shutil
import subprocess

from hpc_itt.backends.slurm.executor import one_line
from hpc_itt.errors import UserError

TIMEOUT_S = 60
_SACCT = {"PENDING": "pending", "REQUEUED": "pending", "RUNNING": "running", "COMPLETING": "running",
          "COMPLETED": "failed", "FAILED": "failed", "OUT_OF_MEMORY": "failed", "NODE_FAIL": "failed",
          "BOOT_FAIL": "failed", "DEADLINE": "timeout", "TIMEOUT": "timeout", "PREEMPTED": "pending",
          "CANCELLED": "cancelled"}  # COMPLETED: the job ended without the result it was to write


def live_jobs() -> dict[str, str]:
    """{job id: state} of this user's pending and running jobs, array tasks one by one
    (`squeue -r`; pending tasks that never started appear as `123_4` too)."""
    squeue = shutil.which("squeue")
    if squeue is None:
        return {}
    try:
        out = subprocess.run([squeue, "-h", "-r", "-u", getpass.getuser(), "-o", "%i|%T|%r"], capture_output=True,
                             text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (subprocess.TimeoutExpired, OSError) as err:
        raise UserError(f"cannot tell which jobs are still queued: squeue failed ({err}); nothing was submitted") \
            from None
    if out.returncode != 0:
        raise UserError(f"cannot tell which jobs are still queued: squeue failed ({one_line(out.stderr)}); "
                        f"nothing was submitted")
    live = {}
    for line in out.stdout.splitlines():
        job, state, reason = (line.strip().split("|") + ["", ""])[:3]
        if job and reason != "DependencyNeverSatisfied":  # can never run: not in flight, resubmit it
            live[job] = state
    return live


def sacct_states(job_ids: list[str]) -> tuple[dict[str, str], str | None]:
    """({job id: state}, None) — or why the states are unknown (no sacct here, sacct failing or
    not answering): a status query never fails on the scheduler."""
    states: dict[str, str] = {}
    if not job_ids:
        return states, None
    return states, _query_sacct(sorted({i.split("_")[0] for i in job_ids}), states)


def _query_sacct(arrays: list[str], states: dict[str, str]) -> str | None:
    sacct = shutil.which("sacct")
    if sacct is None:
        return "`sacct` is not on PATH here (run --stage status on the cluster's login node)"
    # Query whole arrays: tasks that never started only appear as one "123_[0-7%2]" record.
    try:
        out = subprocess.run([sacct, "-n", "-X", "--parsable2", "-o", "JobID,State", "-j", ",".join(arrays)],
                             capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"`sacct` did not answer within {TIMEOUT_S} s"
    except OSError as err:
        return f"cannot run `sacct`: {err}"
    if out.returncode != 0:
        return f"`sacct` failed (exit {out.returncode}: {one_line(out.stderr or out.stdout)})"
    for line in out.stdout.splitlines():
        job_id, _, state = line.partition("|")
        for one in _expand(job_id):
            states[one] = _SACCT.get(state.split()[0] if state else "", "unknown")
    return None


def _expand(job_id: str) -> list[str]:
    """`123_[0-2,5%2]` → 123_0, 123_1, 123_2, 123_5; anything else as it is."""
    if "_[" not in job_id:
        return [job_id]
    base, _, spec = job_id.partition("_[")
    out = []
    for part in spec.rstrip("]").split("%")[0].split(","):
        low, _, high = part.partition("-")
        out += [f"{base}_{i}" for i in range(int(low), int(high or low) + 1)]
    return out
