"""Length-grouped, seeded, rank-sharded batches with dynamic padding.

The sample order is a pure function of (seed, epoch, micro and global batch size), not of the
number of processes: a resumed job rebuilds the same order and skips the samples it already
consumed, so it continues exactly where the interrupted one stopped, at any world size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def epoch_order(lengths: list[int], micro_batch: int, global_batch: int, seed: int, epoch: int,
                grouped: bool = True, group_factor: int = 50) -> list[int]:
    """The epoch's sequence of sample indices, cut to whole optimizer steps of `global_batch`.

    It depends on (seed, epoch, micro_batch, global_batch) and never on the number of processes:
    a run resumed at another world size with the same global batch consumes exactly the same
    samples at every step (elastic resume), and step k is always `order[k*G:(k+1)*G]`.
    Grouping: shuffle, cut into mega-batches of about `group_factor` micro-batches (whole steps),
    sort each by length, then shuffle whole steps: similar lengths share a batch and a step
    (little padding, balanced ranks) yet the order stays random.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    usable = len(order) - len(order) % global_batch
    if grouped:
        lengths_arr = np.asarray(lengths)
        mega = global_batch * max(1, (micro_batch * group_factor) // global_batch)
        order = np.concatenate([chunk[np.argsort(-lengths_arr[chunk], kind="stable")]
                                for chunk in np.split(order, range(mega, len(order), mega))])
        steps = [order[i:i + global_batch] for i in range(0, usable, global_batch)]
        order = np.concatenate([steps[i] for i in rng.permutation(len(steps))]) if steps else order[:0]
    return order[:usable].tolist()


def epoch_batches(lengths: list[int], micro_batch: int, global_batch: int, world: int, seed: int, epoch: int,
                  grouped: bool = True, group_factor: int = 50) -> list[list[list[int]]]:
    """Per rank, the epoch's micro-batches (lists of row indices) in the order that rank runs them.

    Step k's `global_batch` samples are cut into micro-batches; micro-batch j of the step goes to
    rank j % world as its accumulation slot j // world. So neighbouring (similar-length) batches
    run at the same time on different ranks, and every rank gets the same number of batches.
    """
    if global_batch % (micro_batch * world):
        raise ValueError(f"global batch {global_batch} is not a multiple of micro batch {micro_batch} x {world} processes")
    order = epoch_order(lengths, micro_batch, global_batch, seed, epoch, grouped, group_factor)
    batches = [order[i:i + micro_batch] for i in range(0, len(order), micro_batch)]
    return [batches[r::world] for r in range(world)]


def eval_batches(lengths: list[int], batch_size: int, world: int) -> list[list[list[int]]]:
    """Sorted by length (order does not matter for evaluation), sharded round-robin over ranks;
    unlike training, nothing is dropped: ranks may get one batch more or less."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches = [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    return [batches[r::world] for r in range(world)]


@dataclass
class Collator:
    """Pads a batch to its own longest row (not to max_length) with the tokenizer's pad rules."""

    tokenizer: object

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        features = [{k: row[k] for k in _MODEL_INPUTS if k in row} for row in rows]
        batch = self.tokenizer.pad(features, return_tensors="pt")
        batch["labels"] = torch.tensor([row["label"] for row in rows])
        return dict(batch)


def padded_fraction(batch: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(pad tokens, all tokens) of a collated batch."""
    mask = batch["attention_mask"]
    return int(mask.numel() - mask.sum()), int(mask.numel())
