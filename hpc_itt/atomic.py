"""Write a small file so that readers see the old content or the new one, never a torn write."""
from __future__ import annotations

import os
from pathlib import Path


def write_text(path: str | Path, text: str, fsync: bool = False) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # concurrent writers of one path do not collide
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        if fsync:  # pointers name checkpoints that must survive a node crash
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
