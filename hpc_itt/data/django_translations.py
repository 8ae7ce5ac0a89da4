"""Parallel sentences from the translation catalogues the `django` wheel ships.

Format: GNU gettext `.mo` files, `django/conf/locale/<lang>/LC_MESSAGES/django.mo` and
`django/contrib/<app>/locale/<lang>/LC_MESSAGES/django.mo`, read with the standard library's
`gettext.GNUTranslations` (whose `_catalog` maps msgid -> msgstr; plural entries are keyed by
(msgid, n) tuples, context-qualified ones by "context\\x04msgid"; fuzzy entries are never
compiled into .mo files). The records are Tatoeba's bitext records: source = the sentence in the
language, target = its English original (the msgid).

Kept: singular, context-free entries whose English has >= 3 words and no placeholder (%s,
%(name)s, %d, {0}, {name}) or HTML tag, and whose translation differs from the English. First
catalogue in path order wins for a repeated msgid; a repeated translation is dropped (two English
rows with one translation would make the gold ambiguous). Measured with Django 5.2.19: see
tests/test_django_target.py."""
from __future__ import annotations

import gettext
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from hpc_itt.errors import UserError, choices

ENGLISH = re.compile(r"^en(_|$)")
_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdifr%]|\{[^}]*\}|<[^>]+>")


def _root() -> Path:
    import django

    return Path(django.__file__).parent


@lru_cache(maxsize=None)
def _catalogues() -> dict[str, tuple[Path, ...]]:
    found: dict[str, list[Path]] = {}
    for path in sorted(_root().glob("**/locale/*/LC_MESSAGES/django.mo")):
        found.setdefault(path.parent.parent.name, []).append(path)
    return {lang: tuple(paths) for lang, paths in sorted(found.items())}


def catalogue_languages() -> list[str]:
    return list(_catalogues())


def _usable(english: str, translated: str) -> bool:
    return (len(english.split()) >= 3 and translated.strip() and translated.strip() != english.strip()
            and not _PLACEHOLDER.search(english) and not _PLACEHOLDER.search(translated))


@lru_cache(maxsize=None)
def _pairs(lang: str) -> tuple[tuple[str, str], ...]:
    if lang not in _catalogues():
        raise UserError(f"no Django catalogue for language {lang!r} (valid: {choices(catalogue_languages())})")
    by_english: dict[str, str] = {}
    for path in _catalogues()[lang]:
        with open(path, "rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog  # the parsed .mo; no public accessor exists
        for english, translated in catalog.items():
            if isinstance(english, str) and english and "\x04" not in english and english not in by_english \
                    and _usable(english, translated):
                by_english[english] = translated.strip()
    seen, out = set(), []
    for english, translated in sorted(by_english.items(), key=lambda kv: _id(kv[0])):
        if translated not in seen:
            seen.add(translated)
            out.append((english.strip(), translated))
    return tuple(out)


def _id(english: str) -> str:
    return hashlib.sha1(english.encode()).hexdigest()[:12]


def pairs(lang: str) -> list[dict]:
    """Bitext records {"id", "source" (in `lang`), "target" (English)}, in a stable order."""
    return [{"id": _id(english), "source": translated, "target": english} for english, translated in _pairs(lang)]


def languages(min_pairs: int = 100) -> list[str]:
    """Languages (not English) with at least `min_pairs` usable pairs."""
    return [lang for lang in catalogue_languages() if not ENGLISH.match(lang) and len(_pairs(lang)) >= min_pairs]
