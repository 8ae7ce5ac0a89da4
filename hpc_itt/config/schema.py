"""The typed shape of every config. The dataclass fields are the schema: `validate.build` checks
YAML against them once, at the edge, and the core only ever sees these plain objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

Precision = Literal["fp32", "bf16", "fp16"]
Arm = Literal["itt", "no_itt"]
TaskKind = Literal["classification", "regression"]


@dataclass
class ModelSpec:
    """A registry entry: where the weights come from. Exactly one of hub_id / asset / path."""

    name: str = ""
    hub_id: Optional[str] = None  # canonical hub id, e.g. xlnet/xlnet-base-cased (not a redirected legacy name)
    revision: Optional[str] = None  # hub commit (or branch/tag) the weights are loaded from; None: main
    asset: Optional[str] = None  # a packaged offline model (hpc_itt.assets.model_asset)
    path: Optional[str] = None  # a local HF folder
    offline_alternative: Optional[str] = None  # preset named in the error when the hub is unreachable
    multilingual: bool = False
    aliases: list[str] = field(default_factory=list)


@dataclass
class SourceSpec:
    """One concrete dataset: a hub id, a packaged asset, a local csv/tsv/jsonl/json file, or an
    XTREME-R dataset (read from `data.xtreme_dir` when set, else from its hub ids)."""

    hub: Optional[str] = None
    config: Optional[str] = None
    revision: Optional[str] = None  # hub commit or ref (e.g. refs/convert/parquet); None: main
    data_dir: Optional[str] = None  # hub: a folder inside the repository (the parquet export's <config>)
    split: str = "train"
    asset: Optional[str] = None
    path: Optional[str] = None
    text_fields: list[str] = field(default_factory=lambda: ["text"])
    label_field: str = "label"
    label_map: Optional[dict[str, int]] = None  # raw label (as string) -> class id
    num_labels: Optional[int] = None  # when this source's label space differs from the dataset's
    language: str = "en"
    xtreme: Optional[str] = None  # an hpc_itt.xtreme.formats dataset, e.g. mnli or xnli (translated MNLI)
    languages: list[str] = field(default_factory=lambda: ["en"])  # xtreme: languages mixed, in equal shares
    parallel: bool = False  # xtreme: the languages translate the same rows (XNLI-MT): take disjoint slices


@dataclass
class DatasetSpec:
    """A dataset in a task, with the source a cluster user loads (hub) and one that works offline."""

    description: str = ""
    num_labels: int = 2  # 1 for regression
    hub: Optional[SourceSpec] = None
    offline: Optional[SourceSpec] = None


@dataclass
class TaskSpec:
    name: str = ""
    kind: TaskKind = "classification"
    description: str = ""
    intermediate: DatasetSpec = field(default_factory=DatasetSpec)
    targets: dict[str, DatasetSpec] = field(default_factory=dict)  # e.g. domain, crosslingual


@dataclass
class TrainConfig:
    """One training stage. Batch sizes are per process; the global batch is micro × accum × world."""

    epochs: int = 3
    lr: float = 5e-5
    micro_batch_size: int = 16
    grad_accum: int = 1
    max_length: int = 128
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    zero_stage: int = 2
    precision: Precision = "bf16"
    save_every_steps: int = 0  # 0: checkpoint at each epoch end only
    log_every_steps: int = 10
    max_train_examples: Optional[int] = None
    max_eval_examples: Optional[int] = None
    select: Literal["best", "last"] = "best"  # which checkpoint the stage hands on


@dataclass
class DataConfig:
    source: Literal["hub", "offline"] = "hub"
    train_fraction: float = 0.7  # the seed study's 70% training split
    eval_fraction: float = 0.15  # validation (model selection); the rest is the test split
    split_seed: int = 42
    length_grouped: bool = True
    num_proc: int = 1
    xtreme_dir: Optional[str] = None  # output of the XTREME repository's download_data.sh; None: the hub


@dataclass
class XtremeConfig:
    """XTREME-R targets (`targets: [xtreme-r]` or task names): languages, scoring, hyperparameters."""

    languages: dict[str, list[str]] = field(default_factory=dict)  # task -> a subset of its languages
    max_eval_per_language: Optional[int] = None  # cap on test examples per language (reduced runs)
    qa_metric: Literal["mean_f1_em", "f1"] = "mean_f1_em"  # evaluate.py's (F1+EM)/2, or F1 only
    eval_split: Literal["test", "dev"] = "test"  # dev: per-language dev sets (XTREME's download strips test labels)
    task_defaults: bool = True  # lr / epochs / max_length of the XTREME scripts per task; else `target`
    retrieval_layer: Optional[int] = None  # Tatoeba's pooled layer; None: num_layers // 2 + 1 (7 of 12)
    doc_stride: int = 128
    intermediate_languages: Optional[list[str]] = None  # restrict multilingual XTREME intermediate data (reduced runs)
    intermediate_parallel: Optional[bool] = None  # override the task's `parallel` (None: as the task says)
    gpu_samples_per_s: float = 800.0  # dry-run estimate: training samples/s of a base model on one GPU


@dataclass
class DjangoConfig:
    """The `django` target: zero-shot sentence retrieval (language -> English) on the translation
    catalogues of the `django` wheel (hpc_itt.data.django_translations)."""

    languages: list[str] = field(default_factory=list)  # empty: every language with >= min_pairs pairs
    min_pairs: int = 100
    max_pairs_per_language: Optional[int] = None  # cap per language (reduced runs)
    layer: Optional[int] = None  # hidden layer mean-pooled; None: num_layers // 2 + 1, as Tatoeba


@dataclass
class ClusterConfig:
    """Where jobs run. `kind` picks the submitit executor; the rest maps onto its parameters."""

    kind: Literal["local", "slurm", "debug"] = "local"
    nodes: int = 1
    tasks_per_node: int = 2  # processes of the intermediate job on each node (one per GPU on clusters)
    gpus_per_node: int = 0
    cpus_per_task: int = 1
    mem_gb: int = 0
    timeout_min: int = 60
    target_timeout_min: int = 60
    array_parallelism: int = 2
    partition: Optional[str] = None
    account: Optional[str] = None
    qos: Optional[str] = None
    constraint: Optional[str] = None
    setup: list[str] = field(default_factory=list)
    extra_sbatch: dict[str, str] = field(default_factory=dict)
    launcher: Literal["submitit", "mpi"] = "submitit"


@dataclass
class StudyConfig:
    """An experiment: the grid models × tasks × targets × seeds × arms and how to train it."""

    name: str = "study"
    output_dir: str = "outputs/study"
    logdir: str = "logs"
    models: list[str] = field(default_factory=lambda: ["bert-base"])
    tasks: list[str] = field(default_factory=lambda: ["sentiment"])
    targets: list[str] = field(default_factory=lambda: ["domain", "crosslingual"])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    arms: list[Arm] = field(default_factory=lambda: ["itt", "no_itt"])
    intermediate_seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    intermediate: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=100))
    target: TrainConfig = field(default_factory=TrainConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    xtreme: XtremeConfig = field(default_factory=XtremeConfig)
    django: DjangoConfig = field(default_factory=DjangoConfig)
