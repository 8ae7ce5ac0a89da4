"""submitit executors from a cluster profile: the same stage callables run in-process (debug), as
local subprocesses (a laptop), or as Slurm jobs and arrays."""
from __future__ import annotations

from pathlib import Path

import submitit

from hpc_itt.config.schema import ClusterConfig

# Per stage: (processes per node, nodes). Only the intermediate stage is distributed; the
# consolidation and each target cell are single-process, single-GPU jobs.
def shape(cluster: ClusterConfig, stage: str) -> tuple[int, int]:
    if stage == "intermediate":
        return cluster.tasks_per_node, cluster.nodes
    return 1, 1


def make(cluster: ClusterConfig, folder: Path, stage: str, name: str, dependency: str | None = None):
    tasks, nodes = shape(cluster, stage)
    gpus = min(cluster.gpus_per_node, tasks) if stage != "intermediate" else cluster.gpus_per_node
    timeout = cluster.timeout_min if stage == "intermediate" else cluster.target_timeout_min
    if cluster.kind == "debug":
        return submitit.DebugExecutor(folder=folder)
    if cluster.kind == "local":
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=timeout, tasks_per_node=tasks, gpus_per_node=gpus)
        return executor
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=30)
    extra = dict(cluster.extra_sbatch)
    if dependency:
        extra["dependency"] = dependency
    params = dict(name=name, nodes=nodes, tasks_per_node=tasks, cpus_per_task=cluster.cpus_per_task,
                  timeout_min=timeout, slurm_array_parallelism=cluster.array_parallelism,
                  slurm_setup=list(cluster.setup), slurm_additional_parameters=extra,
                  slurm_srun_args=["--cpu-bind=none"] + (["--mpi=pmix"] if cluster.launcher == "mpi" else []))
    if gpus:
        params["gpus_per_node"] = gpus
    if cluster.mem_gb:
        params["mem_gb"] = cluster.mem_gb
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(cluster, key):
            params[f"slurm_{key}"] = getattr(cluster, key)
    executor.update_parameters(**params)
    return executor
