"""Slurm: the whole chain is submitted at once and the command returns.

    intermediate job (nodes x tasks) ─afterok→ consolidation job ─afterok→ target array ─afterany→ report job

Datasets are tokenized here first (`prepare`, on the login node, which has hub access) so that the
jobs only read the shared `datasets` cache.
"""
from __future__ import annotations

from hpc_itt import executors, plan
from hpc_itt.config.schema import StudyConfig
from hpc_itt.pipeline import jobs_folder, pending_intermediate, prepare, say
from hpc_itt.status import record_job


def submit_chain(study: StudyConfig, stage: str, sources: dict[str, str]) -> int:
    from hpc_itt.stages import ConsolidateStage, IntermediateStage, ReportStage, TargetCell

    cluster = study.cluster
    if stage in ("prepare", "all"):
        prepare(study, sources)
    consolidations = []
    if stage in ("intermediate", "consolidate", "all"):
        for model, task in pending_intermediate(study):
            after = None
            if stage != "consolidate":
                train = executors.make(cluster, jobs_folder(study, "intermediate"), "intermediate",
                                       f"itt-{model}-{task}").submit(IntermediateStage(study, model, task, sources[model]))
                say(f"submitted intermediate {model}/{task}: job {train.job_id} ({cluster.nodes} node(s) x "
                    f"{cluster.tasks_per_node} task(s))")
                after = f"afterok:{train.job_id}"
            job = executors.make(cluster, jobs_folder(study, "consolidate"), "consolidate", f"consolidate-{model}-{task}",
                                 dependency=after).submit(ConsolidateStage(study, model, task, sources[model]))
            consolidations.append(job.job_id)
            say(f"submitted consolidation {model}/{task}: job {job.job_id}" + (f" ({after})" if after else ""))
    if stage in ("target", "all"):
        todo = [c for c in plan.cells(study) if not plan.is_done(study, c)]
        after = f"afterok:{':'.join(consolidations)}" if consolidations else None
        if todo:
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
            say(f"submitted report: job {report.job_id} (afterany:{array_id})")
        else:
            say("target grid: every cell is done")
    say(f"watch: squeue --me; logs under {plan.root(study)}/jobs; "
        f"tensorboard --logdir {study.logdir}/{study.name} --host 127.0.0.1")
    return 0
