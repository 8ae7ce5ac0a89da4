"""Cache keys for `datasets` tables."""
from __future__ import annotations

import hashlib
import json


def fingerprint(*parts) -> str:
    """A `datasets` fingerprint from plain values: deterministic across processes, unlike the
    hash of a closure, so the Arrow cache is shared by every job that asks for the same data."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]
