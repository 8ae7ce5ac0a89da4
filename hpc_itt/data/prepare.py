"""Seeded train/validation/test split and cached tokenization.

Every step carries an explicit `datasets` fingerprint derived from its inputs, so the tokenized
splits land in the `datasets` cache once (in `--stage prepare` or the first job) and every cell of
a grid that uses the same tokenizer reuses the same Arrow files instead of tokenizing again.
"""
from __future__ import annotations

import datasets

from hpc_itt.config.schema import DataConfig, DatasetSpec
from hpc_itt.data.fingerprint import fingerprint
from hpc_itt.data.sources import describe, load_raw, normalise, num_labels, source_of
from hpc_itt.errors import UserError

SPLITS = ("train", "validation", "test")


def tokenizer_id(tokenizer) -> str:
    """Content hash of the vocabulary: a consolidated checkpoint's copy of a tokenizer hashes
    the same as the original, so both arms of a grid share one tokenized cache."""
    vocab = sorted(tokenizer.get_vocab().items())
    return fingerprint(type(tokenizer).__name__, vocab, tokenizer.padding_side, tokenizer.model_max_length)


def load_splits(dataset: DatasetSpec, kind: str, data: DataConfig) -> datasets.DatasetDict:
    source = source_of(dataset, data.source)
    raw = load_raw(source, data.xtreme_dir)
    norm = normalise(raw, source, num_labels(dataset, data.source), kind)
    shuffled = norm.shuffle(seed=data.split_seed)
    n = len(shuffled)
    n_train, n_eval = int(n * data.train_fraction), int(n * data.eval_fraction)
    if min(n_train, n_eval, n - n_train - n_eval) < 1:
        raise UserError(f"dataset {describe(source)} has {n} usable rows: too few for a "
                        f"{data.train_fraction}/{data.eval_fraction}/rest split")
    bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_eval), "test": (n_train + n_eval, n)}
    return datasets.DatasetDict({k: shuffled.select(range(*b)) for k, b in bounds.items()})


def cap(splits: datasets.DatasetDict, max_train: int | None, max_eval: int | None) -> datasets.DatasetDict:
    out = {}
    for name, ds in splits.items():
        limit = max_train if name == "train" else max_eval
        out[name] = ds.select(range(min(limit, len(ds)))) if limit else ds
    return datasets.DatasetDict(out)


def tokenize(splits: datasets.DatasetDict, tokenizer, max_length: int, num_proc: int = 1) -> datasets.DatasetDict:
    tok_id = tokenizer_id(tokenizer)
    encode = text_encoder(tokenizer, max_length, pairs="text_b" in splits["train"].column_names)
    text_columns = [c for c in ("text_a", "text_b") if c in splits["train"].column_names]
    return datasets.DatasetDict({
        name: ds.map(encode, batched=True, remove_columns=text_columns, num_proc=num_proc if len(ds) > 1000 else None,
                     new_fingerprint=fingerprint(ds._fingerprint, tok_id, max_length, "tokenize-v1"),
                     desc=f"tokenize {name}")
        for name, ds in splits.items()
    })


def text_encoder(tokenizer, max_length: int, pairs: bool):
    """The batched map function that tokenizes `text_a` (and `text_b`: a sentence pair) with a
    `length` column. Every sequence and pair classification dataset goes through it, as an
    intermediate task or as a target (the XTREME-R pair head too)."""
    def encode(batch):
        args = (batch["text_a"], batch["text_b"]) if pairs else (batch["text_a"],)
        enc = tokenizer(*args, truncation=True, max_length=max_length)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return enc

    return encode


def prepare(dataset: DatasetSpec, kind: str, data: DataConfig, tokenizer, max_length: int,
            max_train: int | None = None, max_eval: int | None = None) -> datasets.DatasetDict:
    splits = cap(load_splits(dataset, kind, data), max_train, max_eval)
    return tokenize(splits, tokenizer, max_length, data.num_proc)


def data_fingerprint(splits: datasets.DatasetDict) -> dict:
    return {name: {"fingerprint": ds._fingerprint, "rows": len(ds)} for name, ds in splits.items()}
