"""Checks a model folder passes before `_cached` publishes it."""

from __future__ import annotations

import pathlib

from .cache import AssetError

_SMOKE_TEXT = "The movie was surprisingly good, and the actors clearly enjoyed it."


def _check_weights_complete(folder: pathlib.Path) -> None:
    """A dropped or renamed key would silently become a random init; fail the build instead."""
    from transformers import AutoModel

    _, info = AutoModel.from_pretrained(folder, output_loading_info=True, local_files_only=True)
    problems = {k for k in set(info["missing_keys"]) | set(info["unexpected_keys"]) if not k.startswith("pooler.")}
    if problems:
        raise AssetError(f"{folder.name}: weights do not match the config: {', '.join(sorted(problems))}")


def _smoke_test(folder: pathlib.Path) -> None:
    """Catch a tokenizer/config mismatch (ids beyond the embedding) before the asset is published."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2, local_files_only=True)
    batch = tokenizer([_SMOKE_TEXT], return_tensors="pt")
    if int(batch["input_ids"].max()) >= model.config.vocab_size:
        raise AssetError(f"{folder.name}: tokenizer ids exceed vocab_size {model.config.vocab_size}")
    with torch.no_grad():
        model(**batch)
