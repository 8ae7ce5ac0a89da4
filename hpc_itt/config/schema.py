"""The typed shape of every config. The dataclass fields are the schema: `validate.build` checks
YAML against them once, at the edge, and the core only ever sees these plain objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from hpc_itt.backends import BACKENDS
from hpc_itt.errors import choices

Precision = Literal["fp32", "bf16", "fp16"]
Launcher = Literal["submitit", "mpi"]  # how ranks find each other (hpc_itt.train.distributed)


def rule(ok, valid: str) -> dict:
    """A field's range check, beside the field: `ok(value)` must hold; `valid` says what does."""
    return {"rule": (ok, valid)}


class Invalid(ValueError):
    """A rule across fields failed: (the field to name, the message)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
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
    # xtreme, asset: languages mixed in equal shares (an asset's other languages are its translations,
    # `<asset>.<lang>`); parallel: they translate the same rows (XNLI-MT): take disjoint slices
    languages: list[str] = field(default_factory=lambda: ["en"])
    parallel: bool = False

    def check(self) -> None:
        if sum(x is not None for x in (self.hub, self.asset, self.path, self.xtreme)) != 1:
            raise Invalid("", "a dataset source needs exactly one of hub, asset, path, xtreme")


@dataclass
class DatasetSpec:
    """A dataset in a task, with the source a cluster user loads (hub) and one that works offline."""

    description: str = ""
    num_labels: int = field(default=2, metadata=rule(lambda v: v >= 1, "an integer >= 1"))  # 1 for regression
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

    epochs: int = field(default=3, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    lr: float = field(default=5e-5, metadata=rule(lambda v: 0 < v < 1, "a float in (0, 1)"))
    micro_batch_size: int = field(default=16, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    grad_accum: int = field(default=1, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    # Set it to keep one global batch across world sizes (elastic resume on other node counts):
    # grad_accum is then global / (micro x processes) and the run's identity no longer names a world size.
    global_batch_size: Optional[int] = field(default=None, metadata=rule(lambda v: v is None or v >= 1, "null or an integer >= 1"))
    max_length: int = field(default=128, metadata=rule(lambda v: 8 <= v <= 4096, "an integer in [8, 4096]"))
    warmup_ratio: float = field(default=0.06, metadata=rule(lambda v: 0 <= v < 1, "a float in [0, 1)"))
    weight_decay: float = field(default=0.01, metadata=rule(lambda v: v >= 0, "a float >= 0"))
    grad_clip: float = field(default=1.0, metadata=rule(lambda v: v >= 0, "a float >= 0 (0 disables clipping)"))
    zero_stage: int = field(default=2, metadata=rule(lambda v: v in (0, 1, 2, 3), "one of 0, 1, 2, 3"))
    precision: Precision = "bf16"
    save_every_steps: int = field(default=0, metadata=rule(lambda v: v >= 0, "an integer >= 0"))  # 0: checkpoint at each epoch end only
    log_every_steps: int = field(default=10, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    max_train_examples: Optional[int] = field(default=None, metadata=rule(lambda v: v is None or v >= 1, "null or an integer >= 1"))
    max_eval_examples: Optional[int] = field(default=None, metadata=rule(lambda v: v is None or v >= 1, "null or an integer >= 1"))
    select: Literal["best", "last"] = "best"  # which checkpoint the stage hands on

    def check(self) -> None:
        if self.zero_stage == 1 and self.precision == "bf16":
            # DeepSpeed runs this combination with its BF16_Optimizer, whose checkpoints zero_to_fp32
            # refuses ("is not a zero checkpoint"): the run could never be consolidated.
            raise Invalid("zero_stage", "zero_stage 1 with bf16 cannot be consolidated by DeepSpeed "
                                        "(valid with bf16: 0, 2, 3)")


@dataclass
class DataConfig:
    source: Literal["hub", "offline"] = "hub"
    train_fraction: float = field(default=0.7, metadata=rule(lambda v: 0 < v < 1, "a float in (0, 1)"))  # the seed study's 70% training split
    eval_fraction: float = field(default=0.15, metadata=rule(lambda v: 0 < v < 1, "a float in (0, 1)"))  # validation (model selection); the rest is the test split
    split_seed: int = 42
    length_grouped: bool = True
    num_proc: int = field(default=1, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    xtreme_dir: Optional[str] = None  # output of the XTREME repository's download_data.sh; None: the hub

    def check(self) -> None:
        if self.train_fraction + self.eval_fraction >= 1:
            raise Invalid("eval_fraction", f"train_fraction + eval_fraction must be < 1 to leave a test split "
                                           f"(got {self.train_fraction} + {self.eval_fraction})")


@dataclass
class XtremeConfig:
    """XTREME-R targets (`targets: [xtreme-r]` or task names): languages, scoring, hyperparameters."""

    languages: dict[str, list[str]] = field(default_factory=dict)  # task -> a subset of its languages
    max_eval_per_language: Optional[int] = field(default=None, metadata=rule(lambda v: v is None or v >= 1, "null or an integer >= 1"))  # cap on test examples per language (reduced runs)
    qa_metric: Literal["mean_f1_em", "f1"] = "mean_f1_em"  # evaluate.py's (F1+EM)/2, or F1 only
    eval_split: Literal["test", "dev"] = "test"  # dev: per-language dev sets (XTREME's download strips test labels)
    task_defaults: bool = True  # lr / epochs / max_length of the XTREME scripts per task; else `target`
    retrieval_layer: Optional[int] = field(default=None, metadata=rule(lambda v: v is None or v >= 0, "null or an integer >= 0"))  # Tatoeba's pooled layer; None: num_layers // 2 + 1 (7 of 12)
    doc_stride: int = field(default=128, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    intermediate_languages: Optional[list[str]] = None  # restrict multilingual XTREME intermediate data (reduced runs)
    intermediate_parallel: Optional[bool] = None  # override the task's `parallel` (None: as the task says)
    gpu_samples_per_s: float = field(default=800.0, metadata=rule(lambda v: v > 0, "a number > 0"))  # dry-run estimate: training samples/s of a base model on one GPU


@dataclass
class DjangoConfig:
    """The `django` target: zero-shot sentence retrieval (language -> English) on the translation
    catalogues of the `django` wheel (hpc_itt.data.django_translations)."""

    languages: list[str] = field(default_factory=list)  # empty: every language with >= min_pairs pairs
    min_pairs: int = field(default=100, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    max_pairs_per_language: Optional[int] = field(default=None, metadata=rule(lambda v: v is None or v >= 2, "null or an integer >= 2"))  # cap per language (reduced runs)
    layer: Optional[int] = field(default=None, metadata=rule(lambda v: v is None or v >= 0, "null or an integer >= 0"))  # hidden layer mean-pooled; None: num_layers // 2 + 1, as Tatoeba


@dataclass
class ClusterConfig:
    """Where jobs run. `kind` picks the backend; the rest maps onto its executors' parameters."""

    kind: str = field(default="local", metadata=rule(lambda v: v in BACKENDS, choices(BACKENDS)))  # a backend in hpc_itt.backends
    nodes: int = field(default=1, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    # Elastic: the scheduler may start or requeue the intermediate job on min_nodes..nodes nodes
    # (sbatch --nodes=min-max); the run resumes at whatever world size it gets.
    min_nodes: Optional[int] = field(default=None, metadata=rule(lambda v: v is None or v >= 1, "null or an integer >= 1"))
    tasks_per_node: int = field(default=2, metadata=rule(lambda v: v >= 1, "an integer >= 1"))  # processes of the intermediate job on each node (one per GPU on clusters)
    gpus_per_node: int = field(default=0, metadata=rule(lambda v: v >= 0, "an integer >= 0"))
    cpus_per_task: int = field(default=1, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    mem_gb: int = 0
    timeout_min: int = field(default=60, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    target_timeout_min: int = 60
    array_parallelism: int = field(default=2, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    partition: Optional[str] = None
    account: Optional[str] = None
    qos: Optional[str] = None
    constraint: Optional[str] = None
    setup: list[str] = field(default_factory=list)
    extra_sbatch: dict[str, str] = field(default_factory=dict)
    launcher: Launcher = "submitit"

    def check(self) -> None:
        if self.min_nodes is not None and self.min_nodes > self.nodes:
            raise Invalid("min_nodes", f"min_nodes {self.min_nodes} is more than nodes {self.nodes} (valid: 1..{self.nodes})")


@dataclass
class StudyConfig:
    """An experiment: the grid models × tasks × targets × seeds × arms and how to train it."""

    name: str = "study"
    output_dir: str = "outputs/study"
    logdir: str = "logs"
    models: list[str] = field(default_factory=lambda: ["bert-base"], metadata=rule(lambda v: len(v) >= 1, "a non-empty list"))
    tasks: list[str] = field(default_factory=lambda: ["sentiment"], metadata=rule(lambda v: len(v) >= 1, "a non-empty list"))
    targets: list[str] = field(default_factory=lambda: ["domain", "crosslingual"])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3], metadata=rule(lambda v: len(v) >= 1 and len(set(v)) == len(v), "a non-empty list of distinct integers"))
    arms: list[Arm] = field(default_factory=lambda: ["itt", "no_itt"], metadata=rule(lambda v: len(v) >= 1 and len(set(v)) == len(v), "a non-empty list of distinct arms"))
    intermediate_seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    intermediate: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=100))
    target: TrainConfig = field(default_factory=TrainConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    xtreme: XtremeConfig = field(default_factory=XtremeConfig)
    django: DjangoConfig = field(default_factory=DjangoConfig)

    def check(self) -> None:
        wanted, micro = self.intermediate.global_batch_size, self.intermediate.micro_batch_size
        if self.cluster.min_nodes is not None and wanted is None:
            raise Invalid("intermediate.global_batch_size", "cluster.min_nodes needs a fixed global batch "
                          "(set intermediate.global_batch_size), or the run would change with the allocation")
        for nodes in range(self.cluster.min_nodes or self.cluster.nodes, self.cluster.nodes + 1):
            world = nodes * self.cluster.tasks_per_node
            if wanted is not None and wanted % (micro * world):
                raise Invalid("intermediate.global_batch_size",
                              f"{wanted} is not a multiple of micro_batch_size {micro} x {world} processes "
                              f"({nodes} nodes x {self.cluster.tasks_per_node} tasks)")
