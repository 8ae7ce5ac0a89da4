"""Example records → cached `datasets` tables.

The readers in `formats` return plain records; here they become Arrow tables through a jsonl file
named by a content fingerprint, so `datasets` caches every later `map` (tokenisation) on disk and
each cell of a grid — both arms, every seed — reuses the same tokenized files.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import datasets

from hpc_itt import atomic
from hpc_itt.data.fingerprint import fingerprint

_STR, _INT = datasets.Value("string"), datasets.Value("int64")
_STRS = datasets.Sequence(datasets.Value("string"))
FEATURES = {  # record kind (by its keys) -> Arrow schema; explicit, so empty lists never confuse inference
    ("id", "label", "text_a", "text_b"): {"id": _STR, "text_a": _STR, "text_b": _STR, "label": _INT},
    ("choices", "context", "id", "label", "question"): {"id": _STR, "context": _STR, "question": _STR,
                                                        "choices": _STRS, "label": _INT},
    ("id", "tags", "tokens"): {"id": _STR, "tokens": _STRS, "tags": _STRS},
    ("answers", "context", "id", "question"): {"id": _STR, "context": _STR, "question": _STR,
                                               "answers": {"text": _STRS, "answer_start": datasets.Sequence(_INT)}},
    ("candidate", "candidate_context", "id", "query", "query_context"): {
        "id": _STR, "query": _STR, "query_context": _STR, "candidate": _STR, "candidate_context": _STR},
    ("context", "gold", "id", "role", "text"): {"id": _STR, "text": _STR, "context": _STR, "role": _STR,
                                                "gold": _STRS},
}


def cache_dir() -> Path:
    return Path(os.environ.get("HPC_ITT_XTREME_CACHE", Path.home() / ".cache" / "hpc_itt" / "xtreme"))


def to_dataset(records: list[dict], *key) -> datasets.Dataset:
    """An Arrow-backed dataset of `records`, fingerprinted by `key` and the records' content."""
    if not records:
        raise ValueError(f"no records for {key}")
    features = datasets.Features(FEATURES[tuple(sorted(records[0]))])
    lines = [json.dumps({k: r.get(k) for k in features}, ensure_ascii=False) for r in records]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    path = cache_dir() / f"{fingerprint(*key, digest)}.jsonl"
    if not path.is_file():  # cells of an array may race here; the write is atomic
        atomic.write_text(path, "\n".join(lines) + "\n")
    return datasets.load_dataset("json", data_files=str(path), split="train", features=features)


def retrieval_items(loaded: dict | list[dict]) -> list[dict]:
    """One table for a retrieval test set: queries then candidates, told apart by `role`.
    Tatoeba's bitext becomes queries (the language's sentences) whose gold is the English row."""
    if isinstance(loaded, list):
        queries = [{"id": f"q{i}", "text": r["source"], "context": "", "role": "query", "gold": [f"c{i}"]}
                   for i, r in enumerate(loaded)]
        candidates = [{"id": f"c{i}", "text": r["target"], "context": "", "role": "candidate", "gold": []}
                      for i, r in enumerate(loaded)]
        return queries + candidates
    return ([{**q, "role": "query", "gold": list(q["gold"])} for q in loaded["queries"]]
            + [{**c, "role": "candidate", "gold": []} for c in loaded["candidates"]])
