"""The Slurm backend: the protocol's calls, each handed to the module that does it."""
from __future__ import annotations

from pathlib import Path

from hpc_itt.backends import tensorboard_server
from hpc_itt.backends.base import Backend, JobShape
from hpc_itt.backends.slurm import chain, jobs, preview
from hpc_itt.backends.slurm import executor as slurm_executor
from hpc_itt.config.schema import ClusterConfig, StudyConfig
from hpc_itt.console import say
from hpc_itt.study.plan import jobs_folder


class SlurmBackend(Backend):
    name = "slurm"
    detached = True

    def executor(self, cluster: ClusterConfig, folder: Path, shape: JobShape, name: str,
                 after: str | None = None):
        return slurm_executor.make(cluster, folder, shape, name, after)

    def check_reachable(self) -> None:
        slurm_executor.require_slurm()

    def run(self, study: StudyConfig, stage: str, sources: dict[str, str]) -> int:
        return chain.submit_chain(study, stage, sources)

    def live_jobs(self) -> dict[str, str]:
        return jobs.live_jobs()

    def job_states(self, job_ids: list[str]) -> tuple[dict[str, str], str | None]:
        return jobs.sacct_states(job_ids)

    def preview(self, study: StudyConfig, stage: str) -> str | None:
        return preview.sbatch_preview(study, stage)

    def tensorboard(self, study: StudyConfig, port: int) -> int:
        job = self.executor(study.cluster, jobs_folder(study, "tensorboard"), JobShape.single(study.cluster),
                            "itt-tensorboard").submit(tensorboard_server.TensorBoardJob(study, port))
        say(f"submitted TensorBoard job {job.job_id}; once it runs, its log shows the ssh command: {job.paths.stdout}")
        return 0
