"""`--stage status`: every cell of an experiment, from disk and (for Slurm jobs) `sacct`.

A cell is `done` only when its DONE marker exists. Otherwise the state comes from the scheduler
for the job that last ran it (`job.json`, written at submission): pending, running, failed,
cancelled, timeout; a finished job without a DONE marker is `failed`; no job at all is `missing`;
a local job that ended without either marker (its submitter was interrupted) is `incomplete`.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from hpc_itt import atomic, lease, plan, targets
from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError

JOB = "job.json"
FAILED = "FAILED"
_SACCT = {"PENDING": "pending", "REQUEUED": "pending", "RUNNING": "running", "COMPLETING": "running",
          "COMPLETED": "failed", "FAILED": "failed", "OUT_OF_MEMORY": "failed", "NODE_FAIL": "failed",
          "BOOT_FAIL": "failed", "DEADLINE": "timeout", "TIMEOUT": "timeout", "PREEMPTED": "pending",
          "CANCELLED": "cancelled"}
SACCT_TIMEOUT_S = 60


def record_job(study: StudyConfig, cell: plan.Cell, job) -> None:
    folder = plan.cell_dir(study, cell)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FAILED).unlink(missing_ok=True)
    (folder / JOB).write_text(json.dumps({"job_id": str(job.job_id), "cluster": study.cluster.kind,
                                          "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr)}))


def record_failure(study: StudyConfig, cell: plan.Cell, message: str) -> None:
    if not plan.is_done(study, cell):  # a cell is done or failed, never both
        atomic.write_text(plan.cell_dir(study, cell) / FAILED, message + "\n")


RUN_JOBS = "jobs.json"  # in an intermediate run's folder: its intermediate and consolidation job


def record_run_job(folder: Path, stage: str, job) -> None:
    """The Slurm job of an intermediate run's stage (intermediate, consolidate), for status and
    for resubmissions that must not queue a second job on the same folder."""
    path = Path(folder) / RUN_JOBS
    jobs = json.loads(path.read_text()) if path.is_file() else {}
    jobs[stage] = {"job_id": str(job.job_id), "stderr": str(job.paths.stderr)}
    atomic.write_text(path, json.dumps(jobs))


def run_jobs(folder: Path) -> dict:
    path = Path(folder) / RUN_JOBS
    return json.loads(path.read_text()) if path.is_file() else {}


def live_jobs() -> dict[str, str]:
    """{job id: state} of this user's pending and running Slurm jobs, array tasks one by one
    (`squeue -r`; pending tasks that never started appear as `123_4` too). squeue, not sacct:
    the accounting database learns of a fresh submission only later."""
    import getpass

    squeue = shutil.which("squeue")
    if squeue is None:
        return {}
    try:
        out = subprocess.run([squeue, "-h", "-r", "-u", getpass.getuser(), "-o", "%i|%T|%r"], capture_output=True,
                             text=True, timeout=SACCT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (subprocess.TimeoutExpired, OSError) as err:
        raise UserError(f"cannot tell which jobs are still queued: squeue failed ({err}); nothing was submitted") \
            from None
    if out.returncode != 0:
        from hpc_itt.executors import one_line

        raise UserError(f"cannot tell which jobs are still queued: squeue failed ({one_line(out.stderr)}); "
                        f"nothing was submitted")
    live = {}
    for line in out.stdout.splitlines():
        job, state, reason = (line.strip().split("|") + ["", ""])[:3]
        if job and reason != "DependencyNeverSatisfied":  # can never run: not in flight, resubmit it
            live[job] = state
    return live


def cell_states(study: StudyConfig) -> list[dict]:
    return _cell_states(study)[0]


def _cell_states(study: StudyConfig) -> tuple[list[dict], str | None]:
    from hpc_itt.provenance import Ledger

    ledger, rows = Ledger(study), []
    for cell in targets.cells(study):
        folder = plan.cell_dir(study, cell)
        job = json.loads((folder / JOB).read_text()) if (folder / JOB).is_file() else {}
        state = _disk_state(folder, job)
        if state == "done" and not ledger.done(cell):
            state = "stale"  # made with other settings: not counted (--rerun-changed)
        elif state != "done" and lease.holder(folder):
            state = "running"  # a live process holds its lease (a local job, or a Slurm job renewing it)
        rows.append({"cell": cell, "job": job, "state": state})
    return rows, _merge_sacct(rows)


def _disk_state(folder: Path, job: dict) -> str:
    if (folder / plan.DONE).is_file():
        return "done"
    if (folder / FAILED).is_file():
        return "failed"
    if not job:
        return "missing"
    # a local job that left neither marker was killed with its submitter
    return "submitted" if job.get("cluster") == "slurm" else "incomplete"


def _merge_sacct(rows: list[dict]) -> str | None:
    """Scheduler states for the Slurm jobs; None, or why they are `unknown` (no sacct here, sacct
    failing or not answering: a status query never fails on that)."""
    ids = sorted({r["job"]["job_id"] for r in rows if r["state"] == "submitted"})
    states: dict[str, str] = {}
    why = None
    if ids:
        why = _query_sacct(sorted({i.split("_")[0] for i in ids}), states)
    for r in rows:
        if r["state"] == "submitted":
            r["state"] = states.get(r["job"]["job_id"], "unknown")
    return why


def _query_sacct(arrays: list[str], states: dict[str, str]) -> str | None:
    sacct = shutil.which("sacct")
    if sacct is None:
        return "`sacct` is not on PATH here (run --stage status on the cluster's login node)"
    # Query whole arrays: tasks that never started only appear as one "123_[0-7%2]" record.
    try:
        out = subprocess.run([sacct, "-n", "-X", "--parsable2", "-o", "JobID,State", "-j", ",".join(arrays)],
                             capture_output=True, text=True, timeout=SACCT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"`sacct` did not answer within {SACCT_TIMEOUT_S} s"
    except OSError as err:
        return f"cannot run `sacct`: {err}"
    if out.returncode != 0:
        from hpc_itt.executors import one_line

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


def table(study: StudyConfig) -> str:
    rows, why = _cell_states(study)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    lines = [f"study {study.name!r}: {len(rows)} cells — " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    lines += _run_lines(study)
    if counts.get("stale"):
        lines.append(f"  {counts['stale']} stale: results made with other settings, not counted; "
                     f"rerun them with --rerun-changed")
    if why:
        lines.append(f"  Slurm job states unknown: {why}; disk states (done, failed) are exact")
    for r in rows:
        job = r["job"]
        where = f"job {job['job_id']}  log {job['stderr']}" if job and r["state"] != "done" else ""
        lines.append(f"  {r['state']:9} {r['cell'].key}  {where}".rstrip())
    return "\n".join(lines)


def _run_lines(study: StudyConfig) -> list[str]:
    """One line per intermediate run: consolidated, stale, running, or its jobs' scheduler states."""
    from hpc_itt.provenance import Ledger

    pairs = plan.intermediate_pairs(study)
    if not pairs:
        return []
    ledger, out = Ledger(study), []
    try:
        live = live_jobs() if study.cluster.kind == "slurm" else {}
    except UserError:  # status never fails on the scheduler: the states are unknown
        live = {}
    for model, task in pairs:
        folder = plan.intermediate_dir(study, model, task)
        found = ledger.intermediate_state(model, task)[0]
        if found in ("changed", "unrecorded"):
            state = "stale"
        elif ledger.consolidated(model, task):
            state = "consolidated"
        elif lease.holder(folder):
            state = "running"
        else:
            jobs = run_jobs(folder)
            queued = [f"{stage} job {j['job_id']} {live[j['job_id']].lower()}" for stage, j in jobs.items()
                      if j["job_id"] in live]
            state = ", ".join(queued) or ("trained, not consolidated" if (folder / "result.json").is_file()
                                          else "not started" if not jobs else "failed or cancelled (see its log)")
        out.append(f"  intermediate {model}/{task}: {state}")
    return out
