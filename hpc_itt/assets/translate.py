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
import shutil
import subprocess

from . import debian
from .cache import AssetError

log = logging.getLogger(__name__)

# language -> (Debian package, Apertium mode): the English -> X pairs Debian 12 ships
PAIRS: dict[str, tuple[str, str]] = {
    "ca": ("apertium-eng-cat", "eng-cat"),
    "es": ("apertium-eng-spa", "eng-spa"),
    "gl": ("apertium-en-gl", "en-gl"),
}
_TIMEOUT_S = 3600  # 10k sentences take ~30-70 s


def translate(texts: list[str], lang: str) -> list[str]:
    if lang not in PAIRS:
        raise AssetError(f"no English -> {lang!r} translation (valid: {', '.join(sorted(PAIRS))})")
    mode = ensure_installed(lang)
    lines = [" ".join(text.split()) for text in texts]
    # -u: no '*' marks on unknown words (they stay as they are, like a human translator's names)
    proc = subprocess.run(["apertium", "-u", "-f", "txt", mode], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=_TIMEOUT_S)
    if proc.returncode != 0:
        raise AssetError(f"apertium {mode} failed (exit {proc.returncode}): {debian.last_line(proc.stderr)}")
    out = proc.stdout.split("\n")[:len(lines)]
    if len(out) != len(lines) or proc.stdout.count("\n") != len(lines):
        raise AssetError(f"apertium {mode} returned {proc.stdout.count(chr(10))} lines for {len(lines)} texts")
    return [" ".join(line.split()) for line in out]


def version(lang: str) -> str:
    return debian.versions(["apertium", PAIRS[lang][0]])


def ensure_installed(lang: str) -> str:
    """The pair's Apertium mode, installing Apertium and the pair first where they are missing."""
    package, mode = PAIRS[lang]
    debian.ensure(["apertium", package], lambda: mode in _modes(), f"translating into {lang!r}")
    return mode


def _modes() -> set[str]:
    if shutil.which("apertium") is None:
        return set()
    proc = subprocess.run(["apertium", "-l"], capture_output=True, text=True)
    return {line.strip() for line in proc.stdout.splitlines() if line.strip()}
