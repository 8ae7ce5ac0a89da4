"""English dataset assets machine-translated by Apertium (Debian's rule-based MT engine, GPL).

``<asset>.<lang>`` (e.g. ``vader-movie.es``) is the English asset with every text translated into
``lang`` and everything else (id, label, score) kept: the same examples in another language, as
XNLI-MT is MNLI's. Apertium is installed by this module where it is missing (Debian packages, as
root, the way slurm/local/start.sh installs Slurm); the translation runs once and is cached like
every asset. Apertium translates line by line, so one text per line, newlines inside a text
flattened to spaces, and the output must have exactly as many lines (checked).
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess

from .cache import AssetError

log = logging.getLogger(__name__)

# language -> (Debian package, Apertium mode): the English -> X pairs Debian 12 ships
PAIRS: dict[str, tuple[str, str]] = {
    "ca": ("apertium-eng-cat", "eng-cat"),
    "es": ("apertium-eng-spa", "eng-spa"),
    "gl": ("apertium-en-gl", "en-gl"),
}
_TIMEOUT_S = 3600


def translate(texts: list[str], lang: str) -> list[str]:
    if lang not in PAIRS:
        raise AssetError(f"no English -> {lang!r} translation (valid: {', '.join(sorted(PAIRS))})")
    mode = ensure_installed(lang)
    lines = [" ".join(text.split()) for text in texts]
    # -u: no '*' marks on unknown words (they stay as they are, like a human translator's names)
    proc = subprocess.run(["apertium", "-u", "-f", "txt", mode], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=_TIMEOUT_S)
    if proc.returncode != 0:
        raise AssetError(f"apertium {mode} failed (exit {proc.returncode}): {_last_line(proc.stderr)}")
    out = proc.stdout.split("\n")[:len(lines)]
    if len(out) != len(lines) or proc.stdout.count("\n") != len(lines):
        raise AssetError(f"apertium {mode} returned {proc.stdout.count(chr(10))} lines for {len(lines)} texts")
    return [" ".join(line.split()) for line in out]


def version(lang: str) -> str:
    """The Debian versions of the engine and the pair, e.g. 'apertium 3.8.3-1, apertium-eng-spa 0.8.1-2'."""
    packages = ["apertium", PAIRS[lang][0]]
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *packages],
                          capture_output=True, text=True)
    return ", ".join(proc.stdout.split("\n")[:2]).strip(", ") if proc.returncode == 0 else "unknown"


def ensure_installed(lang: str) -> str:
    """The pair's Apertium mode, installing Apertium and the pair first where they are missing."""
    package, mode = PAIRS[lang]
    if mode in _modes():
        return mode
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise AssetError(f"translating into {lang!r} needs Apertium: apt-get install apertium {package} "
                         f"(as root), or build the asset on a machine that has it")
    log.info("installing apertium and %s (apt-get)", package)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "apertium", package]
    proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=_TIMEOUT_S)
    if proc.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env, timeout=_TIMEOUT_S)
        proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=_TIMEOUT_S)
    if proc.returncode != 0 or mode not in _modes():
        raise AssetError(f"could not install apertium {package} (apt-get exit {proc.returncode}): "
                         f"{_last_line(proc.stderr or proc.stdout)}")
    return mode


def _modes() -> set[str]:
    if shutil.which("apertium") is None:
        return set()
    proc = subprocess.run(["apertium", "-l"], capture_output=True, text=True)
    return {line.strip() for line in proc.stdout.splitlines() if line.strip()}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
