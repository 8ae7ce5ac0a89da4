"""The pointer files (`latest`, `best`) of a checkpoints folder: one line, the tag of a complete
checkpoint folder beside them, written through temp file + rename, always after the folder.
"""
from __future__ import annotations

from pathlib import Path

from hpc_itt import atomic
from hpc_itt.errors import UserError

LATEST, BEST = "latest", "best"


def read_pointer(root: Path, pointer: str = LATEST) -> str | None:
    path = Path(root) / pointer
    if not path.is_file():
        return None
    tag = path.read_text().strip()
    if not tag or not (Path(root) / tag).is_dir():
        raise UserError(f"corrupt checkpoint: {path} points to {tag!r}, which is not a checkpoint folder in {root}")
    return tag


def write_pointer(root: Path, pointer: str, tag: str) -> None:
    atomic.write_text(Path(root) / pointer, tag, fsync=True)
