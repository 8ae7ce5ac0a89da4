"""The `django` target suite end to end: a zero-shot retrieval cell per arm, scored per language,
reported in its own section; planned, recorded and reported through the target registry only."""
from __future__ import annotations

import json

import pytest

from hpc_itt import targets
from hpc_itt.config.load import load_study
from hpc_itt.errors import UserError
from hpc_itt.study import pipeline, plan


def study(tmp_path, *extra):
    return load_study(None, ["targets=[django]", "arms=[no_itt]", "seeds=[1]", "tasks=[sentiment]",
                             "django.languages=[de,fr]", "django.max_pairs_per_language=40",
                             f"output_dir={tmp_path / 'out'}", f"logdir={tmp_path / 'logs'}", *extra],
                      cluster="debug")


def test_the_grid_shares_no_itt_cells_and_names_the_suite(tmp_path):
    s = study(tmp_path, "tasks=[sentiment,classification]", "arms=[itt,no_itt]", "data.source=hub")
    keys = [c.key for c in targets.cells(s)]
    assert keys == ["minilm-l2/sentiment/django/itt/seed1", "minilm-l2/none/django/no_itt/seed1",
                    "minilm-l2/classification/django/itt/seed1"]
    assert [suite.name for suite, _ in targets.suites_in(s)] == ["django"]


def test_unknown_language_is_one_line(tmp_path):
    with pytest.raises(UserError) as err:
        study(tmp_path, "django.languages=[xx]")
    assert "django.languages: 'xx'" in str(err.value) and "valid:" in str(err.value)


@pytest.mark.slow
def test_a_zero_shot_cell_is_scored_per_language_and_reported(tmp_path):
    s = study(tmp_path)
    assert pipeline.execute(s, "all") == 0
    cell = targets.cells(s)[0]
    metrics = json.loads((plan.cell_dir(s, cell) / "metrics.json").read_text())
    per_language = {lang: scores["accuracy"] for lang, scores in metrics["languages"].items()}
    assert set(per_language) == {"de", "fr"}
    assert all(0 <= v <= 1 for v in per_language.values())  # stored as fractions
    assert metrics["test"]["accuracy"] == pytest.approx(sum(per_language.values()) / 2)
    assert max(per_language.values()) > 3 / 40  # real English weights beat chance (1/40) by 3x on real text
    report = (plan.root(s) / "report" / "report.md").read_text()
    assert "## Django sentence retrieval" in report
    row = next(line for line in report.splitlines() if line.startswith("| minilm-l2 | no ITT |"))
    assert f"{100 * per_language['de']:.1f}" in row and f"{100 * per_language['fr']:.1f}" in row  # shown 0-100
    assert (plan.root(s) / "report" / "django.csv").is_file()


# ---- the data: real catalogues of the installed django wheel (5.2.19: 99 catalogues; 76 languages
# with >= 100 usable pairs, 61 with >= 150; de 194, fr 202, ja 202, sw 128, ar 199 pairs) ----------
def test_catalogues_give_clean_stable_pairs():
    from hpc_itt.data import django_translations as d

    assert len(d.languages(100)) >= 70 and len(d.languages(150)) >= 55
    assert not any(d.ENGLISH.match(lang) for lang in d.languages(1))
    de = d.pairs("de")
    assert len(de) >= 180 and de == d.pairs("de")
    assert len({r["id"] for r in de}) == len(de) and len({r["source"] for r in de}) == len(de)
    assert {"source": "Das alte Passwort war falsch. Bitte neu eingeben.",
            "target": "Your old password was entered incorrectly. Please enter it again."}.items() <= \
        next(r for r in de if r["target"].startswith("Your old password")).items()
    for record in de + d.pairs("ja"):
        assert not d._PLACEHOLDER.search(record["source"] + record["target"])
        assert len(record["target"].split()) >= 3


def test_unknown_catalogue_is_one_line():
    from hpc_itt.data import django_translations as d

    with pytest.raises(UserError, match=r"no Django catalogue for language 'klingon' \(valid: .*de.*\)"):
        d.pairs("klingon")
