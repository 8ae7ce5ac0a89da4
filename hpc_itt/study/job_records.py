"""Which job last ran what, on disk beside the work: `job.json` in a cell's folder, `jobs.json`
in an intermediate run's folder, and a cell's FAILED marker. Written when a job is submitted, so
`--stage status` finds its log and its scheduler state, and a resubmission does not queue a second
job on a folder that one is still queued for."""
from __future__ import annotations

import json
from pathlib import Path

from hpc_itt import atomic
from hpc_itt.config.schema import StudyConfig
from hpc_itt.study import plan

JOB = "job.json"
FAILED = "FAILED"
RUN_JOBS = "jobs.json"  # in an intermediate run's folder: its intermediate and consolidation job


def record_job(study: StudyConfig, cell: plan.Cell, job) -> None:
    folder = plan.cell_dir(study, cell)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FAILED).unlink(missing_ok=True)
    (folder / JOB).write_text(json.dumps({"job_id": str(job.job_id), "cluster": study.cluster.kind,
                                          "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr)}))


def cell_job(folder: Path) -> dict:
    """The recorded job of a cell's folder ({} when none was submitted)."""
    path = Path(folder) / JOB
    return json.loads(path.read_text()) if path.is_file() else {}


def record_failure(study: StudyConfig, cell: plan.Cell, message: str) -> None:
    if not plan.is_done(study, cell):  # a cell is done or failed, never both
        atomic.write_text(plan.cell_dir(study, cell) / FAILED, message + "\n")


def record_run_job(folder: Path, stage: str, job) -> None:
    """The job of an intermediate run's stage (intermediate, consolidate), for status and for
    resubmissions that must not queue a second job on the same folder."""
    path = Path(folder) / RUN_JOBS
    jobs = json.loads(path.read_text()) if path.is_file() else {}
    jobs[stage] = {"job_id": str(job.job_id), "stderr": str(job.paths.stderr)}
    atomic.write_text(path, json.dumps(jobs))


def run_jobs(folder: Path) -> dict:
    path = Path(folder) / RUN_JOBS
    return json.loads(path.read_text()) if path.is_file() else {}
