"""Nested config values as flat `a.b.c` keys: how run settings are recorded and compared."""
from __future__ import annotations

import dataclasses


def flat(prefix: str, value) -> dict:
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(flat(f"{prefix}.{key}", item))
        return out
    return {prefix: value}
