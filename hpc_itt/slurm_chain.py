"""Slurm: the whole chain is submitted at once and the command returns.

    intermediate job (nodes x tasks) ─afterok→ consolidation job ─afterok→ target array ─afterany→ report job

Datasets are tokenized here first (`prepare`, on the login node, which has hub access) so that the
jobs only read the shared `datasets` cache.
"""
from __future__ import annotations

import contextlib
import time

from hpc_itt import executors, plan
from hpc_itt.config.load import REPO_ROOT
from hpc_itt.config.schema import StudyConfig
from hpc_itt.pipeline import jobs_folder, pending_intermediate, prepare, say
from hpc_itt.status import record_job


def submit_chain(study: StudyConfig, stage: str, sources: dict[str, str]) -> int:
    if stage in ("prepare", "all"):
        prepare(study, sources)
    if stage == "prepare":
        return 0
    with code_snapshot(study):
        _submit(study, stage, sources)
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


def _submit(study: StudyConfig, stage: str, sources: dict[str, str]) -> None:
    """At most 4 sbatch calls, whatever the grid's size: intermediate array → consolidation array
    (task i after task i: `aftercorr`) → target array (after every consolidation) → report."""
    from hpc_itt.stages import ConsolidateStage, IntermediateStage, ReportStage, TargetCell

    cluster = study.cluster
    after = None
    pairs = pending_intermediate(study) if stage in ("intermediate", "consolidate", "all") else []
    if pairs and stage != "consolidate":
        train_array = _array(executors.make(cluster, jobs_folder(study, "intermediate"), "intermediate", "itt-intermediate"),
                             [IntermediateStage(study, m, t, sources[m]) for m, t in pairs])
        say(f"submitted intermediate job {train_array}: array of {len(pairs)} ({', '.join(f'{m}/{t}' for m, t in pairs)}), "
            f"each {cluster.nodes} node(s) x {cluster.tasks_per_node} task(s)")
        after = f"aftercorr:{train_array}"
    if pairs:
        merge_array = _array(executors.make(cluster, jobs_folder(study, "consolidate"), "consolidate", "itt-consolidate",
                                            dependency=after),
                             [ConsolidateStage(study, m, t, sources[m]) for m, t in pairs])
        say(f"submitted consolidation job {merge_array}: array of {len(pairs)}" + (f" ({after})" if after else ""))
        after = f"afterok:{merge_array}"
    if stage not in ("target", "all"):
        return
    todo = [c for c in plan.cells(study) if not plan.is_done(study, c)]
    if not todo:
        say("target grid: every cell is done")
        return
    executor = executors.make(cluster, jobs_folder(study, "target"), "target", "itt-target", dependency=after)
    with executor.batch():
        jobs = [executor.submit(TargetCell(study, cell, sources[cell.model])) for cell in todo]
    for cell, job in zip(todo, jobs):
        record_job(study, cell, job)
    array_id = jobs[0].job_id.split("_")[0]
    say(f"submitted target array {array_id}: {len(todo)} cell(s), at most {cluster.array_parallelism} at once"
        + (f" ({after})" if after else ""))
    report = executors.make(cluster, jobs_folder(study, "report"), "report", "itt-report",
                            dependency=f"afterany:{array_id}").submit(ReportStage(study))
    say(f"submitted report job {report.job_id} (afterany:{array_id})")


def _array(executor, stages: list) -> str:
    with executor.batch():
        jobs = [executor.submit(stage) for stage in stages]
    return jobs[0].job_id.split("_")[0]
