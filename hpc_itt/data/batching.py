"""Length-grouped, seeded, rank-sharded batches with dynamic padding.

The batch order is a pure function of (seed, epoch): a resumed job rebuilds the same order and
skips the batches it already consumed, so it continues exactly where the interrupted one stopped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def epoch_batches(lengths: list[int], micro_batch: int, world: int, seed: int, epoch: int,
                  grouped: bool = True, group_factor: int = 50) -> list[list[list[int]]]:
    """Return, per rank, the list of micro-batches (lists of row indices) for one epoch.

    Grouping: shuffle, cut into mega-batches of `group_factor` micro-batches, sort each by length,
    then shuffle the steps — similar lengths share a batch and a step (little padding, balanced
    ranks) yet the order stays random.
    Every rank gets the same number of batches (a remainder that does not fill all ranks is dropped).
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if grouped:
        lengths_arr = np.asarray(lengths)
        mega = micro_batch * world * max(1, group_factor // world)  # whole steps: no step spans two
        order = np.concatenate([chunk[np.argsort(-lengths_arr[chunk], kind="stable")]
                                for chunk in np.split(order, range(mega, len(order), mega))])
    batches = [order[i:i + micro_batch].tolist() for i in range(0, len(order), micro_batch)]
    usable = len(batches) - len(batches) % world
    if grouped:
        # Shuffle steps, not batches: the `world` neighbouring (similar-length) batches of a step
        # go to different ranks, so no rank waits on a much longer batch at the same step.
        steps = [batches[i:i + world] for i in range(0, usable, world)]
        batches = [b for i in rng.permutation(len(steps)) for b in steps[i]]
    return [batches[r:usable:world] for r in range(world)]


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
