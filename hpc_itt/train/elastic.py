"""Resume a ZeRO checkpoint at another world size, through DeepSpeed's universal checkpoints.

DeepSpeed cannot load a ZeRO-1/2/3 checkpoint into another number of processes: the optimizer
state is partitioned by rank (DeepSpeed #2898, #3810, #6441, #7628). Its universal format keeps
every parameter whole (fp32 master weights, Adam's exp_avg / exp_avg_sq, step) and loads at any
size. A run that finds a checkpoint of another world size converts it once, atomically
(`<root>/<tag>` → `<root>/universal/<tag>` through a temp folder and a rename) and loads that.
ZeRO-0 keeps the whole optimizer in one file and loads anywhere as it is.

Each checkpoint folder carries `hpc_itt.json` (world size, global batch, ZeRO stage), read before
the engine is built: the global batch it names is the one the resumed run keeps.

Ahead of time, for a user who changes `cluster.nodes`:
    python -m hpc_itt.train.elastic outputs/<study>/intermediate/<model>/<task>/checkpoints
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import types
import uuid
from pathlib import Path

META = "hpc_itt.json"
UNIVERSAL = "universal"


def write_meta(folder: Path, world_size: int, global_batch: int, zero_stage: int, precision: str) -> None:
    (Path(folder) / META).write_text(json.dumps({"world_size": world_size, "global_batch": global_batch,
                                                 "zero_stage": zero_stage, "precision": precision}))


def read_meta(folder: Path) -> dict:
    """The checkpoint's meta; one saved before hpc_itt wrote it counts its optimizer shards."""
    folder = Path(folder)
    if (folder / META).is_file():
        return json.loads((folder / META).read_text())
    shards = len(list(folder.glob("*_optim_states.pt")))
    return {"world_size": shards or None, "global_batch": None, "zero_stage": None if shards else 0}


def needs_universal(folder: Path, world_size: int) -> bool:
    meta = read_meta(folder)
    return meta.get("zero_stage") != 0 and meta.get("world_size") not in (None, world_size)


def universal_dir(root: Path, tag: str) -> Path:
    """`root/universal/<tag>`, converted now if it is not there yet (call it on one process)."""
    root = Path(root)
    target = root / UNIVERSAL / tag
    if target.is_dir():
        return target
    from deepspeed.checkpoint import ds_to_universal

    tmp = root / UNIVERSAL / f".tmp-{tag}-{uuid.uuid4().hex[:8]}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    args = types.SimpleNamespace(input_folder=str(root / tag), output_folder=str(tmp), num_extract_workers=1,
                                 num_merge_workers=1, keep_temp_folder=False, strict=True,
                                 inject_missing_state=True)
    try:
        # Its prints and tqdm bars would flood the job log; they go beside the checkpoint instead.
        with open(root / UNIVERSAL / f"{tag}.convert.log", "w") as log, \
                contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            ds_to_universal.main(args)
        if (root / tag / META).is_file():
            shutil.copy2(root / tag / META, tmp / META)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        (root / UNIVERSAL / "latest_universal").unlink(missing_ok=True)  # its own pointer: we keep ours
    return target


def prune(root: Path, keep: set[str]) -> None:
    """Drop universal copies of tags no pointer names any more."""
    folder = Path(root) / UNIVERSAL
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_dir() and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
                (folder / f"{entry.name}.convert.log").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    from hpc_itt.errors import UserError
    from hpc_itt.train import pointers

    parser = argparse.ArgumentParser(prog="python -m hpc_itt.train.elastic",
                                     description="Convert a run's checkpoints (latest, best) to DeepSpeed's "
                                                 "universal format, so the run resumes at any world size.")
    parser.add_argument("checkpoints", type=Path, help="the run's checkpoints folder")
    args = parser.parse_args(argv)
    try:
        tags = {pointers.read_pointer(args.checkpoints, p) for p in (pointers.LATEST, pointers.BEST)} - {None}
    except UserError as err:
        print(err, file=sys.stderr)
        return 2
    if not tags:
        print(f"no checkpoint in {args.checkpoints} (valid: a folder with a 'latest' pointer)", file=sys.stderr)
        return 2
    for tag in sorted(tags):
        meta = read_meta(args.checkpoints / tag)
        if meta.get("zero_stage") == 0:
            print(f"{tag}: ZeRO-0, loads at any world size as it is")
            continue
        print(f"{tag}: world size {meta.get('world_size')} → {universal_dir(args.checkpoints, tag)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
