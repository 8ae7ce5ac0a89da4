"""What the training loop needs to know about a task, in one object: its tokenized splits, the
model with a fresh head, batches, the loss, predictions and scores.

The loop (`hpc_itt.train.loop`) owns everything else — DeepSpeed, batch order, checkpoints,
resume, TensorBoard — so every task family (sequence classification here; tagging, QA,
multiple choice and retrieval in `hpc_itt.xtreme.heads`) trains and resumes the same way.
A head is pickled into submitit jobs: `prepare` (in the job) is where it binds its tokenizer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from hpc_itt.config.schema import DataConfig, DatasetSpec, TrainConfig
from hpc_itt.train import metrics


class Head:
    primary: str  # the validation metric that selects the best checkpoint
    kind: str  # the task family, recorded in result.json (classification, regression, tagging, ...)
    tokenizer = None

    def prepare(self, tokenizer, train: TrainConfig):
        """{"train", "validation", "test" or "test/<name>"...} of tokenized rows with a `length` column."""
        raise NotImplementedError

    def build_model(self, source: str, seed: int):
        raise NotImplementedError

    def collate(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def to_device(self, batch: dict, engine) -> dict:
        return {k: v.to(engine.device) for k, v in batch.items()}

    def loss(self, engine, batch: dict) -> torch.Tensor:
        return engine(**batch).loss

    def rows(self, batch: dict) -> int:
        """Training examples in a collated batch (for samples/s)."""
        return len(batch["input_ids"])

    def predict(self, engine, batch: dict) -> list:
        """One picklable prediction per row of the batch (gathered over ranks, then `score`d)."""
        raise NotImplementedError

    def score(self, split: str, ds, predictions: list) -> dict[str, float]:
        raise NotImplementedError

    def test_result(self, per_split: dict[str, dict[str, float]]) -> dict:
        """How the test splits' scores appear in result.json (one split: {"test": metrics})."""
        return {"test": per_split["test"]}


@dataclass
class SequenceHead(Head):
    """Sequence classification or regression on one text or a text pair (the ITT study's tasks)."""

    dataset: DatasetSpec
    data: DataConfig
    kind: str
    num_labels: int
    tokenizer: object = field(default=None, repr=False)

    @property
    def primary(self) -> str:
        return metrics.PRIMARY[self.kind]

    @classmethod
    def for_dataset(cls, dataset: DatasetSpec, data: DataConfig, kind: str) -> "SequenceHead":
        """The head of a configured dataset: its label count for the source `data.source` loads."""
        from hpc_itt.data.sources import num_labels

        return cls(dataset, data, kind, num_labels(dataset, data.source))

    def prepare(self, tokenizer, train: TrainConfig):
        from hpc_itt.data.prepare import prepare

        self.tokenizer = tokenizer
        return prepare(self.dataset, self.kind, self.data, tokenizer, train.max_length, train.max_train_examples,
                       train.max_eval_examples)

    def build_model(self, source: str, seed: int):
        from hpc_itt.train.models import build_task_model

        return build_task_model(source, self.num_labels, self.kind, seed)

    def collate(self, rows):
        from hpc_itt.data.batching import Collator

        return Collator(self.tokenizer)(rows)

    def to_device(self, batch, engine):
        out = super().to_device(batch, engine)
        if self.kind == "regression":  # MSE in the model's own dtype
            dtype = next(engine.module.parameters()).dtype
            out["labels"] = out["labels"].to(dtype if dtype.is_floating_point else torch.float32)
        return out

    def predict(self, engine, batch):
        return predict_sequence(engine, batch, self.kind)

    def score(self, split, ds, predictions):
        labels = np.asarray(ds["label"])
        if self.kind == "classification":
            labels = labels.astype(int)
        return metrics.compute(self.kind, np.asarray(predictions), labels)


def predict_sequence(engine, batch: dict, kind: str) -> list:
    """Class ids (or regression values) of a sequence-classification model, one per row: every
    sequence and pair classification head predicts through this."""
    batch = dict(batch)
    batch.pop("labels", None)
    logits = engine(**batch).logits.float().cpu().numpy()
    return list(metrics.predictions_from_logits(kind, logits))
