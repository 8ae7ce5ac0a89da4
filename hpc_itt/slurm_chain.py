"""Slurm: the whole chain is submitted at once and the command returns.

    intermediate job (nodes x tasks) ─afterok→ consolidation job ─afterok→ target array ─afterany→ report job

The caller (pipeline.execute) has already prepared, on the login node, everything the jobs read
(hpc_itt.readiness); work still queued or running is not submitted again.
"""
from __future__ import annotations

import contextlib
import json
import time

from hpc_itt import executors, lease, plan, status, targets
from hpc_itt.config.files import REPO_ROOT
from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError
from hpc_itt.plan import jobs_folder, pending_intermediate
from hpc_itt.console import say
from hpc_itt.status import record_job


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
    from hpc_itt.stages import ConsolidateStage, IntermediateStage, ReportStage, TargetCell

    cluster = study.cluster
    live = status.live_jobs()
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
        jobs = _array(executors.make(cluster, jobs_folder(study, "intermediate"), "intermediate", "itt-intermediate"),
                      [IntermediateStage(study, m, t, sources[m]) for m, t in pairs])
        _record(study, pairs, "intermediate", jobs, submitted)
        say(f"submitted intermediate job {_id(jobs)}: array of {len(pairs)} ({', '.join(f'{m}/{t}' for m, t in pairs)}), "
            f"each {cluster.nodes} node(s) x {cluster.tasks_per_node} task(s)")
        after = f"aftercorr:{_id(jobs)}"
    if pairs:
        jobs = _array(executors.make(cluster, jobs_folder(study, "consolidate"), "consolidate", "itt-consolidate",
                                     dependency=after),
                      [ConsolidateStage(study, m, t, sources[m]) for m, t in pairs])
        _record(study, pairs, "consolidate", jobs, submitted)
        say(f"submitted consolidation job {_id(jobs)}: array of {len(pairs)}" + (f" ({after})" if after else ""))
        after_ids.append(_id(jobs))
    if stage not in ("target", "all"):
        return
    todo = [c for c in targets.cells(study) if not plan.is_done(study, c)]
    in_flight = [c for c in todo if _job_of(plan.cell_dir(study, c)) in live or lease.holder(plan.cell_dir(study, c))]
    todo = [c for c in todo if c not in in_flight]
    if in_flight:
        say(f"{len(in_flight)} cell(s) already queued or running: skipped")
    if not todo:
        say("target grid: nothing to submit" if in_flight else "target grid: every cell is done")
        return
    after = f"afterok:{':'.join(after_ids)}" if after_ids else None
    executor = executors.make(cluster, jobs_folder(study, "target"), "target", "itt-target", dependency=after)
    with executor.batch():
        jobs = [executor.submit(TargetCell(study, cell, sources[cell.model])) for cell in todo]
    for cell, job in zip(todo, jobs):
        record_job(study, cell, job)
    array_id = jobs[0].job_id.split("_")[0]
    submitted.append(array_id)
    say(f"submitted target array {array_id}: {len(todo)} cell(s), at most {cluster.array_parallelism} at once"
        + (f" ({after})" if after else ""))
    report = executors.make(cluster, jobs_folder(study, "report"), "report", "itt-report",
                            dependency=f"afterany:{array_id}").submit(ReportStage(study))
    say(f"submitted report job {report.job_id} (afterany:{array_id})")


def _queued(study: StudyConfig, pair: tuple[str, str], live: dict[str, str]) -> dict[str, str]:
    """{stage: job id} of an intermediate run's jobs still queued or running."""
    jobs = status.run_jobs(plan.intermediate_dir(study, *pair))
    return {stage: job["job_id"] for stage, job in jobs.items() if job["job_id"] in live}


def _job_of(folder) -> str | None:
    path = folder / status.JOB
    return json.loads(path.read_text()).get("job_id") if path.is_file() else None


def _record(study: StudyConfig, pairs, stage: str, jobs: list, submitted: list[str]) -> None:
    submitted.append(_id(jobs))
    for (model, task), job in zip(pairs, jobs):
        status.record_run_job(plan.intermediate_dir(study, model, task), stage, job)


def _id(jobs: list) -> str:
    return jobs[0].job_id.split("_")[0]


def _array(executor, stages: list) -> list:
    with executor.batch():
        jobs = [executor.submit(stage) for stage in stages]
    return jobs
