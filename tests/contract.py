"""The recorded hub contract (tests/hub_contract/*.json): real schemas read from public sources, and
rows built from them for the converter tests (never hand-invented rows)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import datasets

CONTRACT_DIR = Path(__file__).parent / "hub_contract"
_WORDS = ("the", "film", "river", "quick", "Berlin", "votes", "über", "naïve", "42", "cell", "model", "is", "not")


def path_of(hub_id: str) -> Path:
    return CONTRACT_DIR / (hub_id.replace("/", "__") + ".json")


def load(hub_id: str) -> dict:
    path = path_of(hub_id)
    if not path.is_file():
        raise FileNotFoundError(f"no hub contract for {hub_id}: {path}")
    return json.loads(path.read_text())


def all_contracts() -> dict[str, dict]:
    return {c["id"]: c for c in (json.loads(p.read_text()) for p in sorted(CONTRACT_DIR.glob("*.json")))}


def config_of(hub_id: str, config: str | None) -> dict:
    configs = load(hub_id)["configs"]
    name = config if config is not None else "default"
    if name not in configs:
        raise KeyError(f"{hub_id} has no recorded config {name!r} (recorded: {', '.join(configs)})")
    return configs[name]


def features(hub_id: str, config: str | None = None) -> datasets.Features:
    return datasets.Features.from_dict(config_of(hub_id, config)["features"])


def rows(hub_id: str, config: str | None = None, split: str = "train", n: int = 8, seed: int = 0) -> datasets.Dataset:
    """A `datasets.Dataset` with exactly the recorded features: the recorded real examples of that
    split first, then rows synthesised from the feature types (ClassLabel ids in range, numbers
    within `value_ranges`) up to `n`."""
    entry = config_of(hub_id, config)
    feats = datasets.Features.from_dict(entry["features"])
    examples = list(entry.get("examples", {}).get(split, []))
    rng = random.Random(seed)
    ranges = entry.get("value_ranges", {})
    while len(examples) < n:
        examples.append({k: _value(f, rng, ranges.get(k)) for k, f in feats.items()})
    return datasets.Dataset.from_list(examples[:max(n, len(entry.get("examples", {}).get(split, [])))], features=feats)


def _value(feature, rng: random.Random, value_range=None):
    if isinstance(feature, datasets.ClassLabel):
        return rng.randrange(feature.num_classes)
    if isinstance(feature, dict):
        return {k: _value(f, rng) for k, f in feature.items()}
    inner = getattr(feature, "feature", None)
    if inner is not None or isinstance(feature, list):  # Sequence / List
        item = inner if inner is not None else feature[0]
        return [_value(item, rng) for _ in range(rng.randint(1, 4))]
    dtype = getattr(feature, "dtype", "string")
    if dtype in ("string", "large_string"):
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 9)))
    if dtype == "bool":
        return rng.random() < 0.5
    lo, hi = value_range or (0, 1)
    if dtype.startswith("int") or dtype.startswith("uint"):
        return rng.randint(int(lo), int(hi))
    return rng.uniform(float(lo), float(hi))
