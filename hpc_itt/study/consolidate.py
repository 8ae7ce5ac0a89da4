"""ZeRO checkpoint → one Hugging Face checkpoint (safetensors) + manifest, written atomically.

The consolidated folder is an ordinary `from_pretrained` folder: the fp32 weights (ZeRO-1/2/3
through DeepSpeed's zero_to_fp32; ZeRO-0 from the replicated module states), the tokenizer, and
`manifest.json` with the config, data fingerprint, steps, metrics and the sha256 of every file.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from hpc_itt.errors import UserError
from hpc_itt.train import checkpoint

MANIFEST = "manifest.json"


def consolidate(train_dir: str | Path, out_dir: str | Path, model_source: str, num_labels: int, kind: str,
                select: str = "best", auto_class: str | None = None) -> dict:
    """`auto_class` names the transformers Auto* class of the trained model when it is not a
    sequence classifier with `num_labels` (e.g. AutoModelForMultipleChoice)."""
    train_dir, out_dir = Path(train_dir), Path(out_dir)
    if (out_dir / MANIFEST).is_file():
        return json.loads((out_dir / MANIFEST).read_text())
    ckpt = train_dir / "checkpoints"
    pointer = checkpoint.BEST if select == "best" else checkpoint.LATEST
    tag = checkpoint.read_pointer(ckpt, pointer)
    if tag is None:
        raise UserError(f"no checkpoint to consolidate: {ckpt / pointer} is missing (did the intermediate stage run?)")
    state_dict = fp32_state_dict(ckpt, tag)
    model = _model_with(state_dict, model_source, num_labels, kind, ckpt / tag, auto_class)
    tmp = out_dir.parent / f".tmp-{out_dir.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    from hpc_itt.train.models import load_tokenizer

    load_tokenizer(model_source).save_pretrained(tmp)
    manifest = _manifest(tmp, train_dir, tag, model_source, kind, num_labels, len(state_dict))
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a folder without a manifest is an earlier, unfinished attempt
    os.replace(tmp, out_dir)
    return manifest


def fp32_state_dict(ckpt: Path, tag: str) -> dict[str, torch.Tensor]:
    folder = ckpt / tag
    try:
        if any(folder.glob("*zero_pp_rank_*")):
            from deepspeed.utils.zero_to_fp32 import (
                get_fp32_state_dict_from_zero_checkpoint,
            )

            return get_fp32_state_dict_from_zero_checkpoint(str(ckpt), tag=tag)
        # ZeRO-0 writes no partitioned state: every rank held the whole module.
        states = torch.load(folder / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=True)
        return {k: v.float() for k, v in states["module"].items()}
    except (OSError, RuntimeError, KeyError, ValueError, EOFError) as err:
        raise UserError(f"corrupt checkpoint {folder}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None


def _model_with(state_dict, model_source: str, num_labels: int, kind: str, where: Path, auto_class: str | None):
    import transformers
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_source)
    if auto_class is None:
        auto_class = "AutoModelForSequenceClassification"
        config.num_labels = num_labels
        config.problem_type = "regression" if kind == "regression" else "single_label_classification"
    model = getattr(transformers, auto_class).from_config(config)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise UserError(f"checkpoint {where} does not match {model_source}: missing {missing[:3]}, "
                        f"unexpected {unexpected[:3]}")
    return model


def _manifest(folder: Path, train_dir: Path, tag: str, model_source: str, kind: str, num_labels: int,
              tensors: int) -> dict:
    result_path = train_dir / "result.json"
    result = json.loads(result_path.read_text()) if result_path.is_file() else {}
    return {
        "format": "hpc_itt.consolidated/v1",
        "source_checkpoint": str(train_dir / "checkpoints" / tag),
        "tag": tag, "base_model": model_source, "kind": kind, "num_labels": num_labels, "tensors": tensors,
        "steps": result.get("steps"), "selected": result.get("selected"),
        "validation": result.get("validation"), "test": result.get("test"),
        "data": result.get("data"), "train_config": result.get("train_config"),
        "files": {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()},
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(out_dir: str | Path) -> None:
    """Raise if any file of a consolidated checkpoint differs from its manifest."""
    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST
    if not manifest_path.is_file():
        raise UserError(f"not a consolidated checkpoint (no {MANIFEST}): {out_dir}")
    for name, digest in json.loads(manifest_path.read_text())["files"].items():
        if not (out_dir / name).is_file() or sha256_file(out_dir / name) != digest:
            raise UserError(f"corrupt consolidated checkpoint: {out_dir / name} does not match its sha256 in {MANIFEST}")
