"""`--stage status`: every cell of an experiment, from disk and (for jobs a scheduler holds) the
backend's job states (Slurm: squeue and sacct).

A cell is `done` only when its DONE marker exists. Otherwise the state comes from the scheduler
for the job that last ran it (`job.json`, written at submission): pending, running, failed,
cancelled, timeout; a finished job without a DONE marker is `failed`; no job at all is `missing`;
a local job that ended without either marker (its submitter was interrupted) is `incomplete`.
"""
from __future__ import annotations

from pathlib import Path

from hpc_itt import backends, targets
from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError
from hpc_itt.study import lease, plan
from hpc_itt.study.job_records import FAILED, cell_job, run_jobs


def cell_states(study: StudyConfig) -> list[dict]:
    return _cell_states(study)[0]


def _cell_states(study: StudyConfig) -> tuple[list[dict], str | None]:
    from hpc_itt.study.provenance import Ledger

    ledger, rows = Ledger(study), []
    for cell in targets.cells(study):
        folder = plan.cell_dir(study, cell)
        job = cell_job(folder)
        state = _disk_state(folder, job)
        if state == "done" and not ledger.done(cell):
            state = "stale"  # made with other settings: not counted (--rerun-changed)
        elif state != "done" and lease.holder(folder):
            state = "running"  # a live process holds its lease (a local job, or a Slurm job renewing it)
        rows.append({"cell": cell, "job": job, "state": state})
    return rows, _merge_scheduler_states(rows)


def _disk_state(folder: Path, job: dict) -> str:
    if (folder / plan.DONE).is_file():
        return "done"
    if (folder / FAILED).is_file():
        return "failed"
    if not job:
        return "missing"
    # a job on this machine that left neither marker was killed with its submitter; a scheduler's
    # job may still be queued or running: its scheduler says
    return "submitted" if _backend_of(job).detached else "incomplete"


def _backend_of(job: dict):
    return backends.get(job.get("cluster") if job.get("cluster") in backends.BACKENDS else "local")


def _merge_scheduler_states(rows: list[dict]) -> str | None:
    """The scheduler's states for jobs it may still hold; None, or why they are `unknown` (no
    sacct here, sacct failing or not answering: a status query never fails on that)."""
    submitted = [r for r in rows if r["state"] == "submitted"]
    why = None
    for kind in sorted({r["job"]["cluster"] for r in submitted}):
        ids = sorted({r["job"]["job_id"] for r in submitted if r["job"]["cluster"] == kind})
        states, why_not = backends.get(kind).job_states(ids)
        why = why or why_not
        for r in submitted:
            if r["job"]["cluster"] == kind:
                r["state"] = states.get(r["job"]["job_id"], "unknown")
    return why


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
    from hpc_itt.study.provenance import Ledger

    pairs = plan.intermediate_pairs(study)
    if not pairs:
        return []
    ledger, out = Ledger(study), []
    try:
        live = backends.of(study.cluster).live_jobs()
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
