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

from hpc_itt import plan
from hpc_itt.config.schema import StudyConfig

JOB = "job.json"
FAILED = "FAILED"
_SACCT = {"PENDING": "pending", "REQUEUED": "pending", "RUNNING": "running", "COMPLETING": "running",
          "COMPLETED": "failed", "FAILED": "failed", "OUT_OF_MEMORY": "failed", "NODE_FAIL": "failed",
          "BOOT_FAIL": "failed", "DEADLINE": "timeout", "TIMEOUT": "timeout", "PREEMPTED": "pending",
          "CANCELLED": "cancelled"}


def record_job(study: StudyConfig, cell: plan.Cell, job) -> None:
    folder = plan.cell_dir(study, cell)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FAILED).unlink(missing_ok=True)
    (folder / JOB).write_text(json.dumps({"job_id": str(job.job_id), "cluster": study.cluster.kind,
                                          "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr)}))


def record_failure(study: StudyConfig, cell: plan.Cell, message: str) -> None:
    (plan.cell_dir(study, cell) / FAILED).write_text(message + "\n")


def cell_states(study: StudyConfig) -> list[dict]:
    rows = []
    for cell in plan.cells(study):
        folder = plan.cell_dir(study, cell)
        job = json.loads((folder / JOB).read_text()) if (folder / JOB).is_file() else {}
        rows.append({"cell": cell, "job": job, "state": _disk_state(folder, job)})
    _merge_sacct(rows)
    return rows


def _disk_state(folder: Path, job: dict) -> str:
    if (folder / plan.DONE).is_file():
        return "done"
    if (folder / FAILED).is_file():
        return "failed"
    if not job:
        return "missing"
    # a local job that left neither marker was killed with its submitter
    return "submitted" if job.get("cluster") == "slurm" else "incomplete"


def _merge_sacct(rows: list[dict]) -> None:
    ids = sorted({r["job"]["job_id"] for r in rows if r["state"] == "submitted"})
    if not ids or shutil.which("sacct") is None:
        for r in rows:
            if r["state"] == "submitted":
                r["state"] = "unknown"
        return
    # Query whole arrays: tasks that never started only appear as one "123_[0-7%2]" record.
    arrays = sorted({i.split("_")[0] for i in ids})
    out = subprocess.run(["sacct", "-n", "-X", "--parsable2", "-o", "JobID,State", "-j", ",".join(arrays)],
                         capture_output=True, text=True, timeout=60)
    states = {}
    for line in out.stdout.splitlines():
        job_id, _, state = line.partition("|")
        for one in _expand(job_id):
            states[one] = _SACCT.get(state.split()[0] if state else "", "unknown")
    for r in rows:
        if r["state"] == "submitted":
            r["state"] = states.get(r["job"]["job_id"], "unknown")


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
    rows = cell_states(study)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    lines = [f"study {study.name!r}: {len(rows)} cells — " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    for r in rows:
        job = r["job"]
        where = f"job {job['job_id']}  log {job['stderr']}" if job and r["state"] != "done" else ""
        lines.append(f"  {r['state']:9} {r['cell'].key}  {where}".rstrip())
    return "\n".join(lines)
