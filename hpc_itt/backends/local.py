"""This machine: submitit's LocalExecutor runs each job as subprocesses (a laptop, a workstation,
CI), its DebugExecutor runs every job in this process (breakpoints work). Both block, stage after
stage (hpc_itt.backends.blocking), and serve TensorBoard in the foreground."""
from __future__ import annotations

from pathlib import Path

import submitit

from hpc_itt.backends import blocking, tensorboard_server
from hpc_itt.backends.base import Backend, JobShape
from hpc_itt.config.schema import ClusterConfig, StudyConfig


class LocalBackend(Backend):
    name = "local"

    def executor(self, cluster: ClusterConfig, folder: Path, shape: JobShape, name: str,
                 after: str | None = None):
        # One node: a distributed shape's processes all start here (`nodes` is Slurm's to place).
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=shape.timeout_min, tasks_per_node=shape.tasks_per_node,
                                   gpus_per_node=shape.gpus_per_node)
        return executor

    def run(self, study: StudyConfig, stage: str, sources: dict[str, str]) -> int:
        return blocking.run(self, study, stage, sources)

    def tensorboard(self, study: StudyConfig, port: int) -> int:
        return tensorboard_server.serve_local(study, port)


class DebugBackend(LocalBackend):
    name = "debug"

    def executor(self, cluster: ClusterConfig, folder: Path, shape: JobShape, name: str,
                 after: str | None = None):
        return submitit.DebugExecutor(folder=folder)
