"""Atomic DeepSpeed checkpoints.

Every rank writes its ZeRO shards into `.tmp-<tag>`; after a barrier rank 0 renames the folder to
`<tag>` and only then moves the pointer file (`latest`, `best`) to it, itself written through a
temp file + rename. A job killed at any moment leaves either the previous complete checkpoint or
the new one, never a pointer to half-written shards. The folder must be on a filesystem all ranks
share (it is where a requeued job looks for its state).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from hpc_itt.errors import UserError
from hpc_itt.train import distributed, elastic

# The pointer files live with the conversion command too (elastic reads them), hence their own module.
from hpc_itt.train.pointers import BEST, LATEST, read_pointer, write_pointer


def save(engine, root: Path, tag: str, client_state: dict, pointers: tuple[str, ...] = (LATEST,),
         is_main: bool = True, keep: int = 1) -> None:
    """Collective: every rank must call it at the same step. The folder also records the world
    size and global batch it was made at (`elastic.META`), for a resume at another size."""
    root = Path(root)
    tmp_tag = f".tmp-{tag}"
    if is_main:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root / tmp_tag, ignore_errors=True)
    distributed.barrier()
    engine.save_checkpoint(str(root), tag=tmp_tag, client_state=client_state, save_latest=False)
    distributed.barrier()
    if is_main:
        elastic.write_meta(root / tmp_tag, distributed.world_size(), engine.train_batch_size(),
                           engine.zero_optimization_stage(), _precision(engine))
        if (root / tag).exists():
            shutil.rmtree(root / tag)
        os.replace(root / tmp_tag, root / tag)
        for pointer in pointers:
            write_pointer(root, pointer, tag)
        _prune(root, keep)
    distributed.barrier()


def _precision(engine) -> str:
    return "bf16" if engine.bfloat16_enabled() else "fp16" if engine.fp16_enabled() else "fp32"


def peek(root: Path) -> dict | None:
    """The latest checkpoint's meta (world size, global batch), before any engine exists."""
    tag = read_pointer(root, LATEST)
    return None if tag is None else elastic.read_meta(Path(root) / tag)


def _prune(root: Path, keep: int) -> None:
    """Drop old step folders nobody points to, keeping the newest `keep`."""
    pinned = {p.read_text().strip() for p in (root / LATEST, root / BEST) if p.is_file()}
    elastic.prune(root, pinned)
    steps = sorted((d for d in root.iterdir() if d.is_dir() and d.name.startswith("step")),
                   key=lambda d: int(d.name[4:]) if d.name[4:].isdigit() else -1)
    for old in steps[:-keep] if keep else steps:
        if old.name not in pinned:
            shutil.rmtree(old, ignore_errors=True)


def load(engine, root: Path, pointer: str = LATEST) -> dict | None:
    """Restore engine, optimizer and scheduler from the pointed-to tag; None when there is none."""
    tag = read_pointer(root, pointer)
    if tag is None:
        return None
    load_dir, universal = _load_dir(engine, Path(root), tag)
    built = _group_hyperparameters(engine) if universal and engine.zero_optimization_stage() == 3 else None
    try:
        # DeepSpeed reads this flag from the config given at initialize; whether a load needs the
        # universal format is known only per checkpoint, so it is set for this one load.
        engine._config.load_universal_checkpoint = universal
        path, client_state = engine.load_checkpoint(str(load_dir), tag=tag)
    except Exception as err:  # noqa: BLE001 - torch/DeepSpeed raise many kinds for damaged files
        raise UserError(f"corrupt checkpoint {Path(root) / tag}: {type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else ''}") from None
    finally:
        engine._config.load_universal_checkpoint = False
    if built:
        _repair_zero3_universal_load(engine, built)
    if path is None:
        raise UserError(f"corrupt checkpoint {Path(root) / tag}: DeepSpeed found no model states in it")
    return client_state or {}


def _load_dir(engine, root: Path, tag: str) -> tuple[Path, bool]:
    """Where to load `tag` from at this world size: the folder itself, or (made at another size)
    its universal copy, which rank 0 converts once while the others wait."""
    if not elastic.needs_universal(root / tag, distributed.world_size()):
        return root, False
    if distributed.is_main():
        try:
            elastic.universal_dir(root, tag)
        except Exception as err:  # noqa: BLE001 - DeepSpeed's converter raises many kinds on damaged shards
            raise UserError(f"corrupt checkpoint {root / tag}: converting it to another world size failed: "
                            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None
    distributed.barrier()
    return root / elastic.UNIVERSAL, True



def _group_hyperparameters(engine) -> list[dict]:
    return [{k: v for k, v in group.items() if k not in ("params", "lr", "initial_lr")}
            for group in engine.optimizer.optimizer.param_groups]


def _repair_zero3_universal_load(engine, built: list[dict]) -> None:
    """Two bugs of DeepSpeed's ZeRO-3 universal load (0.19.8, `load_hp_checkpoint_state_from_
    checkpoint_dir_stage3`), each found by a resumed run's losses drifting from an uninterrupted one:
    - every sub-group's Adam state gets the *same* `step` tensor, which torch's AdamW increments in
      place, so the step advanced once per group per update (5 → 7 after one step with 2 groups)
      and the bias correction went wrong (loss 5e-5 off after 2 steps, 1e-3 after 20);
    - param group 0's hyperparameters are copied into every group, so the no-decay group (biases,
      LayerNorm) resumed with weight decay. The groups get back the values the engine was built
      with (the run's settings; lr comes from the restored schedule).
    """
    import torch

    optimizer = engine.optimizer.optimizer
    for state in optimizer.state.values():
        if torch.is_tensor(state.get("step")):
            state["step"] = state["step"].clone()
    for group, values in zip(optimizer.param_groups, built):
        group.update(values)
