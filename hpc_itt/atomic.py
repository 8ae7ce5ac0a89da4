"""Write a file so that readers see the old content or the new one, never a torn write, and
concurrent writers of one path (two processes, or two hosts on a shared filesystem) never collide:
each writes its own uniquely named temporary file beside the target and renames it over it."""
from __future__ import annotations

import contextlib
import os
import socket
import uuid
from pathlib import Path


@contextlib.contextmanager
def replacing(path: str | Path, suffix: str = ".tmp"):
    """Yield a fresh temporary path beside `path`; it replaces `path` when the block succeeds and
    is removed when it fails. `suffix` keeps an extension that writers infer the format from."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # not mkstemp: its 0600 file would keep the report and results from the rest of a group
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str, fsync: bool = False) -> None:
    with replacing(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            if fsync:  # pointers name checkpoints that must survive a node crash
                fh.flush()
                os.fsync(fh.fileno())
