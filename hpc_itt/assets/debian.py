"""Debian packages an asset is made from (Apertium, SWORD Bible texts), installed where missing.

As root with apt-get, the way slurm/local/start.sh installs Slurm; elsewhere one line saying what
to install. `apt-get update` runs only when the first install fails (a fresh machine may have no
package lists yet).
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from typing import Callable

from .cache import AssetError

log = logging.getLogger(__name__)
_TIMEOUT_S = 3600


def ensure(packages: list[str], present: Callable[[], bool], what: str) -> None:
    """Install `packages` unless `present()`; `what` names the need in the error line."""
    if present():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise AssetError(f"{what} needs Debian packages: apt-get install {' '.join(packages)} (as root), "
                         f"or build the asset on a machine that has them")
    log.info("installing %s (apt-get)", " ".join(packages))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=_TIMEOUT_S)
    if proc.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env, timeout=_TIMEOUT_S)
        proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=_TIMEOUT_S)
    if proc.returncode != 0 or not present():
        raise AssetError(f"could not install {' '.join(packages)} (apt-get exit {proc.returncode}): "
                         f"{last_line(proc.stderr or proc.stdout)}")


def versions(packages: list[str]) -> str:
    """'apertium 3.8.3-1+b2, apertium-eng-spa 0.8.1-2': what an asset was built from."""
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *packages],
                          capture_output=True, text=True)
    return ", ".join(line for line in proc.stdout.splitlines() if line) if proc.returncode == 0 else "unknown"


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
