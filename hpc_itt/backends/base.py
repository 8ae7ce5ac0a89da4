"""The protocol every backend implements, and the typed shape of a job.

A stage never names its resources: it asks for a shape, and the backend turns the shape into its
executor's parameters (processes, nodes, GPUs, time limit)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hpc_itt.config.schema import ClusterConfig, StudyConfig


@dataclass(frozen=True)
class JobShape:
    nodes: int
    tasks_per_node: int
    gpus_per_node: int
    timeout_min: int
    min_nodes: int | None = None  # elastic: the scheduler may start it on min_nodes..nodes nodes

    @classmethod
    def distributed(cls, cluster: ClusterConfig) -> JobShape:
        """The intermediate training job: every node and process of the profile (one per GPU)."""
        elastic = cluster.min_nodes if cluster.min_nodes and cluster.min_nodes < cluster.nodes else None
        return cls(cluster.nodes, cluster.tasks_per_node, cluster.gpus_per_node, cluster.timeout_min, elastic)

    @classmethod
    def single(cls, cluster: ClusterConfig) -> JobShape:
        """One process on at most one GPU: a consolidation, a target cell, the report, TensorBoard."""
        return cls(1, 1, min(cluster.gpus_per_node, 1), cluster.target_timeout_min)


class Backend:
    """Subclass, implement, and register it in `hpc_itt.backends.BACKENDS`."""

    name: str
    # Jobs outlive the process that submitted them (a scheduler holds them): a recorded job with
    # no result yet is still in the scheduler's hands, not abandoned.
    detached: bool = False

    def executor(self, cluster: ClusterConfig, folder: Path, shape: JobShape, name: str,
                 after: str | None = None):
        """A submitit executor for jobs of this shape; `after`: a dependency on other jobs."""
        raise NotImplementedError

    def check_reachable(self) -> None:
        """Raise a one-line UserError when jobs cannot be submitted from here."""

    def run(self, study: StudyConfig, stage: str, sources: dict[str, str]) -> int:
        """Run or submit a stage (intermediate, consolidate, target, all) whose inputs are
        prepared; returns the exit code."""
        raise NotImplementedError

    def live_jobs(self) -> dict[str, str]:
        """{job id: state} of this user's jobs still queued or running in the scheduler."""
        return {}

    def job_states(self, job_ids: list[str]) -> tuple[dict[str, str], str | None]:
        """({job id: pending/running/failed/cancelled/timeout}, why states are unknown or None)."""
        return {}, None

    def preview(self, study: StudyConfig, stage: str) -> str | None:
        """What a submission would write (the dry run prints it); None: nothing beyond the plan."""
        return None

    def tensorboard(self, study: StudyConfig, port: int) -> int:
        """Serve TensorBoard over the study's logs, bound to 127.0.0.1."""
        raise NotImplementedError
