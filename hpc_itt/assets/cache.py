"""The asset cache: where it lives, and building an entry once, atomically, under a lock.

Everything lives under ``assets_dir()``: ``downloads/`` (the wheels and sdists), ``models/``,
``datasets/`` and ``.locks/``. An asset is built in a temporary sibling and ``os.replace``d into place
under an ``fcntl.flock`` lock, so a crash never leaves a half-written asset, concurrent callers build
it once, and once it exists a call returns at once without network access.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pathlib
import shutil
import socket
import tempfile
import time
from typing import Callable, Iterator

from ..errors import UserError

log = logging.getLogger(__name__)

_STALE_TEMP_S = 3600


class AssetError(UserError):
    """An asset could not be produced (bad name, PyPI unreachable, unexpected package contents).

    A UserError so that the CLI reports it as one line instead of a traceback.
    """


def assets_dir() -> pathlib.Path:
    """One cache for all projects on a machine by default; $HPC_ITT_ASSETS moves it (e.g. to scratch)."""
    env = os.environ.get("HPC_ITT_ASSETS")
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "hpc_itt" / "assets"


def _cached(final: pathlib.Path, build: Callable[[pathlib.Path], None]) -> pathlib.Path:
    """Build ``final`` once: in a temp sibling, under a lock, published with one atomic rename.

    ``build(out)`` must create ``out`` (a file or a folder). Readers never take the lock: a path that
    exists is complete, because it only ever appears through ``os.replace``.
    """
    if final.exists():
        log.debug("asset cached: %s", final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _lock(final):
        if final.exists():  # another process built it while we waited
            return final
        _remove_stale_temps(final)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=_temp_prefix(final), dir=final.parent))
        try:
            started = time.monotonic()
            build(tmp / final.name)
            _make_readable(tmp / final.name)
            _publish(tmp / final.name, final)
            log.info("built %s in %.1f s", final, time.monotonic() - started)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _publish(built: pathlib.Path, final: pathlib.Path) -> None:
    """Atomic rename. Should a builder on another node win the race anyway (a file system without
    working flock), renaming a folder onto its folder fails: keep the winner's identical copy."""
    try:
        os.replace(built, final)
    except OSError:
        if not final.exists():
            raise
        log.info("%s was built concurrently elsewhere; keeping that copy", final)


@contextlib.contextmanager
def _lock(final: pathlib.Path) -> Iterator[None]:
    """Serialise builders of one asset across processes; the kernel drops the lock if we crash."""
    locks = final.parent.parent / ".locks"  # final is <assets_dir>/<kind>/<name>
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{final.parent.name}--{final.name}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_readable(path: pathlib.Path) -> None:
    """Some writers (safetensors) create 0600 files; a cache shared by a group must follow the umask."""
    umask = os.umask(0)
    os.umask(umask)
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        item.chmod((0o777 if item.is_dir() else 0o666) & ~umask)


def _temp_prefix(final: pathlib.Path) -> str:
    return f".{final.name}.tmp-{socket.gethostname()}-{os.getpid()}-"


def _remove_stale_temps(final: pathlib.Path) -> None:
    """Delete temp siblings left by killed builders: those of dead processes on this host, and any
    older than an hour (flock is not honoured across nodes on every network file system, so a young
    temp from another host may belong to a live build)."""
    prefix = f".{final.name}.tmp-"
    for stale in final.parent.glob(prefix + "*"):
        host_pid = stale.name[len(prefix) :].rsplit("-", 1)[0]  # <host>-<pid>-<random>
        host, _, pid = host_pid.rpartition("-")
        dead_here = host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))
        if dead_here or time.time() - stale.stat().st_mtime > _STALE_TEMP_S:
            shutil.rmtree(stale, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
