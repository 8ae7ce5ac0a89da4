"""hpc_itt.data.django_translations on the real catalogues of the installed django wheel: the checks
tests/test_django_target.py does not make (every language, not only de/ja; an oracle independent of
the module's own regex; the Tatoeba path through hpc_itt.xtreme.data.retrieval_items).

Measured with Django 5.2.19: 99 catalogue languages (en, en_AU and en_GB among them; en has 0 pairs),
96 non-English with >= 1 pair, 76 with >= 100 pairs, 61 with >= 150, at most 204 (bg, ckb, cs,
pt_BR, zh_Hans); de 194, fr 202, ja 202, sw 128, ar 199."""
from __future__ import annotations

import gettext
import re

import pytest

from hpc_itt.data import django_translations as d
from hpc_itt.errors import UserError
from hpc_itt.xtreme import data

# Stricter than the module's own pattern (any printf conversion letter, `%*d`, any brace field,
# any tag-like `<...>`), so that the check does not just repeat the implementation.
PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*(\d+|\*)?(\.\d+)?[a-zA-Z%]|\{[^{}]*\}")
TAG = re.compile(r"</?[A-Za-z!][^>]*>")


def test_enough_languages_and_no_english():
    assert len(d.languages(100)) >= 72 and len(d.languages(150)) >= 58  # measured 76 and 61
    assert {"de", "fr", "ja", "ar", "sw", "zh_Hans", "pt_BR"} <= set(d.languages(100))
    assert not {lang for lang in d.languages(1) if lang == "en" or lang.startswith("en_")}
    assert d.catalogue_languages() == sorted(d.catalogue_languages())
    assert {"en", "de", "zh_Hans", "pt_BR"} <= set(d.catalogue_languages())


def test_every_record_is_a_clean_bitext_row():
    for lang in d.languages(1):
        records = d.pairs(lang)
        assert records == d.pairs(lang)  # deterministic, and callers get copies of the cache
        assert [r["id"] for r in records] == sorted(r["id"] for r in records)
        assert len({r["id"] for r in records}) == len(records)
        assert len({r["source"] for r in records}) == len({r["target"] for r in records}) == len(records)
        for r in records:
            assert set(r) == {"id", "source", "target"} and all(isinstance(v, str) for v in r.values())
            assert not PLACEHOLDER.search(r["source"] + " " + r["target"]), (lang, r)
            assert not TAG.search(r["source"] + " " + r["target"]), (lang, r)
            assert "\x00" not in r["target"] and "\x04" not in r["target"]
            assert len(r["target"].split()) >= 3 and r["source"].strip() and r["source"] != r["target"]


def test_ids_are_the_same_english_in_every_language():
    de, fr = ({r["id"]: r["target"] for r in d.pairs(lang)} for lang in ("de", "fr"))
    shared = set(de) & set(fr)
    assert len(shared) >= 150 and all(de[i] == fr[i] for i in shared)


def test_a_known_german_admin_pair_from_the_catalogue_itself():
    path = next(p for p in d._catalogues()["de"] if p.parts[-5:-3] == ("admin", "locale"))
    with open(path, "rb") as fh:
        assert gettext.GNUTranslations(fh).gettext("No fields changed.") == "Keine Felder geändert."
    record = next(r for r in d.pairs("de") if r["target"] == "No fields changed.")
    assert record["source"] == "Keine Felder geändert."
    assert record["id"] == "b81cc6e2021a"  # sha1("No fields changed.")[:12], stable across runs


def test_placeholder_and_short_entries_are_dropped():
    targets = {r["target"] for r in d.pairs("de")}
    assert "Change selected %(model)s" not in targets and "Add link" not in targets


def test_unknown_language_is_one_line_naming_the_choices():
    with pytest.raises(UserError) as err:
        d.pairs("xx_YY")
    message = str(err.value)
    assert "\n" not in message and "'xx_YY'" in message and "valid:" in message
    assert "de, " in message and "zh_Hans" in message


def test_records_feed_the_tatoeba_retrieval_table():
    records = d.pairs("sw")
    items = data.retrieval_items(records)
    queries = [i for i in items if i["role"] == "query"]
    candidates = [i for i in items if i["role"] == "candidate"]
    assert len(queries) == len(candidates) == len(records) >= 100
    assert [q["text"] for q in queries] == [r["source"] for r in records]
    assert [c["text"] for c in candidates] == [r["target"] for r in records]
    assert all(q["gold"] == [f"c{i}"] for i, q in enumerate(queries))
