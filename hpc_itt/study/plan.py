"""The experiment's layout on disk and the jobs of each stage, derived from a StudyConfig.

    <output_dir>/intermediate/<model>/<task>/               training run (checkpoints/, result.json)
    <output_dir>/intermediate/<model>/<task>/consolidated/  HF checkpoint + manifest.json
    <output_dir>/target/<model>/<task>/<target>/<arm>/seed<k>/   one grid cell (metrics.json, DONE)
    <output_dir>/report/                                    report.md, report.csv
    <logdir>/<study>/{intermediate,target}/...              TensorBoard, same tree
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path

from hpc_itt.config.registry import resolve_model, resolve_task
from hpc_itt.config.schema import StudyConfig, TrainConfig
from hpc_itt.train.head import SequenceHead
from hpc_itt.train.loop import TrainJob

DONE = "DONE"
NO_TASK = "none"  # the task of cells that use no intermediate task and do not depend on one
METRICS = "metrics.json"


@dataclass(frozen=True)
class Cell:
    model: str
    task: str
    target: str
    arm: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.model}/{self.task}/{self.target}/{self.arm}/seed{self.seed}"


def root(study: StudyConfig) -> Path:
    return Path(study.output_dir)


def intermediate_dir(study: StudyConfig, model: str, task: str) -> Path:
    return root(study) / "intermediate" / model / task


def consolidated_dir(study: StudyConfig, model: str, task: str) -> Path:
    return intermediate_dir(study, model, task) / "consolidated"


def cell_dir(study: StudyConfig, cell: Cell) -> Path:
    return root(study) / "target" / cell.key


def tb_dir(study: StudyConfig, *parts: str) -> Path:
    return Path(study.logdir) / study.name / Path(*parts)


def intermediate_pairs(study: StudyConfig) -> list[tuple[str, str]]:
    """(model, task) pairs that need an intermediate run: only when some cell uses ITT.
    (The grid of target cells is `hpc_itt.targets.cells`: it depends on each target's suite.)"""
    if "itt" not in study.arms:
        return []
    return list(itertools.product(study.models, study.tasks))


def jobs_folder(study: StudyConfig, stage: str) -> Path:
    """submitit's folder for a stage's jobs (`%j`: one per job id)."""
    return root(study) / "jobs" / stage / "%j"


def pending_intermediate(study: StudyConfig) -> list[tuple[str, str]]:
    """Intermediate runs not consolidated yet."""
    return [(m, t) for m, t in intermediate_pairs(study)
            if not (consolidated_dir(study, m, t) / "manifest.json").is_file()]


def is_done(study: StudyConfig, cell: Cell) -> bool:
    return (cell_dir(study, cell) / DONE).is_file()


def read_metrics(study: StudyConfig, cell: Cell) -> dict | None:
    path = cell_dir(study, cell) / METRICS
    return json.loads(path.read_text()) if is_done(study, cell) and path.is_file() else None


def intermediate_dataset(study: StudyConfig, task: str):
    """The task's intermediate dataset; `xtreme.intermediate_languages` narrows a multilingual mixture."""
    dataset = resolve_task(task).intermediate
    source = getattr(dataset, study.data.source)
    if source is None or not source.xtreme or len(source.languages) < 2:
        return dataset
    keep, parallel = study.xtreme.intermediate_languages, study.xtreme.intermediate_parallel
    source = replace(source, languages=[lang for lang in source.languages if not keep or lang in keep],
                     parallel=source.parallel if parallel is None else parallel)
    return replace(dataset, **{study.data.source: source})


def intermediate_job(study: StudyConfig, model: str, task: str, model_source: str) -> TrainJob:
    spec = resolve_task(task)
    return TrainJob(
        name=f"intermediate {model}/{task}", model_source=model_source,
        head=SequenceHead.for_dataset(intermediate_dataset(study, task), study.data, spec.kind), data=study.data,
        train=study.intermediate,
        out_dir=str(intermediate_dir(study, model, task)), tb_dir=str(tb_dir(study, "intermediate", model, task)),
        seed=study.intermediate_seed, launcher=study.cluster.launcher)


def cell_source(study: StudyConfig, cell: Cell, model_source: str) -> str:
    """The encoder a cell starts from: the consolidated ITT checkpoint, or the model itself."""
    return str(consolidated_dir(study, cell.model, cell.task)) if cell.arm == "itt" else model_source


def cell_hparams(study: StudyConfig, cell: Cell, train: TrainConfig, epochs: int) -> dict:
    """The TensorBoard HParams of a grid cell."""
    return {"model": cell.model, "task": cell.task, "target": cell.target, "arm": cell.arm, "seed": cell.seed,
            "intermediate_task": cell.task if cell.arm == "itt" else "none",
            "intermediate_epochs": study.intermediate.epochs if cell.arm == "itt" else 0,
            "lr": train.lr, "epochs": epochs, "precision": train.precision,
            "micro_batch_size": train.micro_batch_size, "max_length": train.max_length}


def model_sources(study: StudyConfig, download: bool = False) -> dict[str, str]:
    from hpc_itt.train.models import model_source

    return {name: model_source(resolve_model(name), download=download) for name in study.models}
