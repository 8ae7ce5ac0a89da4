"""Slurm: the whole chain is submitted at once and the command returns.

    intermediate job (nodes x tasks) ─aftercorr→ consolidation job ─afterok→ target array ─afterany→ report job

The caller (pipeline.execute) has already prepared, on the login node, everything the jobs read
(hpc_itt.study.readiness); work still queued or running is not submitted again.
"""
from __future__ import annotations

import contextlib
import time

from hpc_itt import targets
from hpc_itt.backends.base import JobShape
from hpc_itt.backends.slurm import executor as slurm_executor
from hpc_itt.backends.slurm.jobs import live_jobs
from hpc_itt.config.files import REPO_ROOT
from hpc_itt.config.schema import StudyConfig
from hpc_itt.console import say
from hpc_itt.errors import UserError
from hpc_itt.study import job_records, lease, plan
from hpc_itt.study.plan import jobs_folder, pending_intermediate

# The chain's steps: (job name, shape). The dry run's preview renders the same jobs.
STEPS = {"intermediate": ("itt-intermediate", JobShape.distributed),
         "consolidate": ("itt-consolidate", JobShape.single),
         "target": ("itt-target", JobShape.single),
         "report": ("itt-report", JobShape.single)}


def step_executor(study: StudyConfig, step: str, after: str | None = None):
    name, shape = STEPS[step]
    return slurm_executor.make(study.cluster, jobs_folder(study, step), shape(study.cluster), name, after)


def submit_chain(study: StudyConfig, stage: str, sources: dict[str, str]) -> int:
    """The stage's jobs, submitted at once (the caller has prepared, on this node, what they need)."""
    submitted: list[str] = []
    try:
        with code_snapshot(study):
            _submit(study, stage, sources, submitted)
    except UserError as err:
        if not submitted:
            raise
        raise UserError(f"{err} (already submitted: job(s) {', '.join(submitted)}; `scancel {' '.join(submitted)}` "
                        f"before you rerun)") from None
    say(f"watch: squeue --me; python launch/submit.py --stage status ...; logs under {plan.root(study)}/jobs; "
        f"tensorboard --logdir {study.logdir}/{study.name} --host 127.0.0.1")
    return 0


@contextlib.contextmanager
def code_snapshot(study: StudyConfig):
    """Jobs start in a snapshot of the tracked code taken now (submitit's RsyncSnapshot), so a job
    that is requeued next week does not run whatever the checkout holds by then."""
    from submitit.helpers import RsyncSnapshot

    if not (REPO_ROOT / ".git").exists() or not RsyncSnapshot.available():
        yield  # an installed (non-editable) package cannot change under a queued job
        return
    target = plan.root(study) / "code" / time.strftime("%Y%m%d-%H%M%S")
    with RsyncSnapshot(snapshot_dir=target, root_dir=REPO_ROOT):
        say(f"code snapshot for these jobs: {target}")
        yield


def _submit(study: StudyConfig, stage: str, sources: dict[str, str], submitted: list[str]) -> None:
    """At most 4 sbatch calls, whatever the grid's size: intermediate array → consolidation array
    (task i after task i: `aftercorr`) → target array (after every consolidation) → report.
    Work whose job is still queued or running (squeue, from the job ids recorded at submission) is
    not submitted again; cells that need an intermediate run still in flight wait for its job."""
    from hpc_itt.study.stages import (
        ConsolidateStage,
        IntermediateStage,
        ReportStage,
        TargetCell,
    )

    cluster = study.cluster
    live = live_jobs()
    pairs = pending_intermediate(study) if stage in ("intermediate", "consolidate", "all") else []
    waiting = {p: _queued(study, p, live) for p in pairs}
    pairs = [p for p in pairs if not waiting[p]]
    for (model, task), queued in waiting.items():
        if queued:
            say(f"intermediate {model}/{task}: {', '.join(f'{s} job {j}' for s, j in queued.items())} already "
                f"queued or running: skipped")
    after_ids = [queued.get("consolidate") or queued["intermediate"] for queued in waiting.values() if queued]
    after = None
    if pairs and stage != "consolidate":
        jobs = _array(step_executor(study, "intermediate"), [IntermediateStage(study, m, t, sources[m]) for m, t in pairs])
        _record(study, pairs, "intermediate", jobs, submitted)
        say(f"submitted intermediate job {_id(jobs)}: array of {len(pairs)} ({', '.join(f'{m}/{t}' for m, t in pairs)}), "
            f"each {cluster.nodes} node(s) x {cluster.tasks_per_node} task(s)")
        after = f"aftercorr:{_id(jobs)}"
    if pairs:
        jobs = _array(step_executor(study, "consolidate", after), [ConsolidateStage(study, m, t, sources[m]) for m, t in pairs])
        _record(study, pairs, "consolidate", jobs, submitted)
        say(f"submitted consolidation job {_id(jobs)}: array of {len(pairs)}" + (f" ({after})" if after else ""))
        after_ids.append(_id(jobs))
    if stage not in ("target", "all"):
        return
    todo = [c for c in targets.cells(study) if not plan.is_done(study, c)]
    in_flight = [c for c in todo if job_records.cell_job(plan.cell_dir(study, c)).get("job_id") in live
                 or lease.holder(plan.cell_dir(study, c))]
    todo = [c for c in todo if c not in in_flight]
    if in_flight:
        say(f"{len(in_flight)} cell(s) already queued or running: skipped")
    if not todo:
        say("target grid: nothing to submit" if in_flight else "target grid: every cell is done")
        return
    after = f"afterok:{':'.join(after_ids)}" if after_ids else None
    jobs = _array(step_executor(study, "target", after), [TargetCell(study, cell, sources[cell.model]) for cell in todo])
    for cell, job in zip(todo, jobs):
        job_records.record_job(study, cell, job)
    array_id = _id(jobs)
    submitted.append(array_id)
    say(f"submitted target array {array_id}: {len(todo)} cell(s), at most {cluster.array_parallelism} at once"
        + (f" ({after})" if after else ""))
    report = step_executor(study, "report", f"afterany:{array_id}").submit(ReportStage(study))
    say(f"submitted report job {report.job_id} (afterany:{array_id})")


def _queued(study: StudyConfig, pair: tuple[str, str], live: dict[str, str]) -> dict[str, str]:
    """{stage: job id} of an intermediate run's jobs still queued or running."""
    jobs = job_records.run_jobs(plan.intermediate_dir(study, *pair))
    return {stage: job["job_id"] for stage, job in jobs.items() if job["job_id"] in live}


def _record(study: StudyConfig, pairs, stage: str, jobs: list, submitted: list[str]) -> None:
    submitted.append(_id(jobs))
    for (model, task), job in zip(pairs, jobs):
        job_records.record_run_job(plan.intermediate_dir(study, model, task), stage, job)


def _id(jobs: list) -> str:
    return jobs[0].job_id.split("_")[0]


def _array(executor, stages: list) -> list:
    with executor.batch():
        jobs = [executor.submit(stage) for stage in stages]
    return jobs
