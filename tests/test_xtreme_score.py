"""XTREME-R scoring and reporting with known numbers: the score convention (task, category,
overall), the report on a hand-made grid (every printed number checked), the grid layout, the
config checks and the dry run's compute estimate."""
import csv
import io
import json
import math
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO, finish_cell

from hpc_itt import report, targets
from hpc_itt.config.load import load_study
from hpc_itt.errors import UserError
from hpc_itt.study import plan
from hpc_itt.study.provenance import Ledger
from hpc_itt.xtreme import estimate, score, tasks
from hpc_itt.xtreme import report as xreport

LOCAL = "configs/studies/xtreme_local.yaml"
FULL = "configs/studies/xtreme_r.yaml"
ALL_TASKS = ["xnli", "xcopa", "udpos", "panx", "xquad", "mlqa", "tydiqa", "tatoeba", "lareqa", "mewslix"]
N_LANGS = {"xnli": 15, "xcopa": 11, "udpos": 38, "panx": 48, "xquad": 12, "mlqa": 7, "tydiqa": 9, "tatoeba": 41,
           "lareqa": 11, "mewslix": 11}


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch):
    """Relative config paths (study files, data.xtreme_dir) are read from the working directory."""
    monkeypatch.chdir(REPO)


# ---- 1. task scores ------------------------------------------------------------------------------
def test_qa_task_score_is_mean_of_f1_and_em_by_default_or_f1_alone():
    per_language = {"en": {"f1": 60.0, "exact_match": 40.0}, "ar": {"f1": 50.0, "exact_match": 30.0},
                    "de": {"f1": 0.0, "exact_match": 0.0}}  # not asked for: ignored
    # mean F1 = 55, mean EM = 35
    assert score.task_score("mlqa", per_language, ("en", "ar")) == pytest.approx(45.0)
    assert score.task_score("mlqa", per_language, ("en", "ar"), qa_metric="mean_f1_em") == pytest.approx(45.0)
    assert score.task_score("mlqa", per_language, ("en", "ar"), qa_metric="f1") == pytest.approx(55.0)
    # all three languages: F1 (60+50+0)/3 = 36.667, EM (40+30+0)/3 = 23.333 -> 30
    assert score.task_score("xquad", per_language, ("en", "ar", "de")) == pytest.approx(30.0)
    assert score.task_score("tydiqa", per_language, ("en", "ar", "de"), qa_metric="f1") == pytest.approx(110 / 3)


@pytest.mark.parametrize("task, metric", [
    ("xnli", "accuracy"), ("xcopa", "accuracy"), ("tatoeba", "accuracy"),
    ("udpos", "f1"), ("panx", "f1"),
    ("lareqa", "map@20"), ("mewslix", "map@20"),
])
def test_non_qa_tasks_average_their_own_metric(task, metric):
    assert tasks.TASKS[task].metric == metric
    langs = tasks.TASKS[task].languages[:3]
    decoys = {"accuracy": -100.0, "f1": -200.0, "exact_match": -300.0, "map@20": -400.0}
    per_language = {lang: dict(decoys, **{metric: value}) for lang, value in zip(langs, (90.0, 60.0, 30.0))}
    assert score.task_score(task, per_language, langs) == pytest.approx(60.0)
    # qa_metric only concerns QA tasks
    assert score.task_score(task, per_language, langs, qa_metric="f1") == pytest.approx(60.0)


def test_task_score_over_all_languages_of_the_task():
    langs = tasks.TASKS["xnli"].languages
    per_language = {lang: {"accuracy": float(i)} for i, lang in enumerate(langs)}  # 0..14: mean 7
    assert score.task_score("xnli", per_language, langs) == pytest.approx(7.0)


def test_a_missing_language_gives_no_task_score():
    per_language = {"en": {"accuracy": 80.0}, "ar": {"accuracy": 70.0}}
    assert score.task_score("xnli", per_language, ("en", "ar", "zh")) is None
    qa = {"en": {"f1": 60.0, "exact_match": 40.0}}
    assert score.task_score("mlqa", qa, ("en", "ar")) is None
    assert score.task_score("mlqa", qa, ("en", "ar"), qa_metric="f1") is None
    assert score.task_score("xnli", per_language, ()) is None


# ---- 2. categories and overall -------------------------------------------------------------------
TEN = {"xnli": 80.0, "xcopa": 60.0, "udpos": 70.0, "panx": 60.0, "xquad": 70.0, "mlqa": 60.0, "tydiqa": 50.0,
       "tatoeba": 40.0, "lareqa": 30.0, "mewslix": 20.0}


def test_category_scores_and_overall_by_hand():
    categories = score.category_scores(TEN, ALL_TASKS)
    # XCOPA only in classification (no separate multiple-choice group)
    assert categories == pytest.approx({"classification": 70.0, "structured prediction": 65.0,
                                        "question answering": 60.0, "retrieval": 30.0})
    assert list(categories) == ["classification", "structured prediction", "question answering", "retrieval"]
    # the overall is the mean of the ten tasks (540 / 10), not of the four categories (56.25)
    assert score.overall(TEN, ALL_TASKS) == pytest.approx(54.0)
    memberships = [t for members in tasks.CATEGORIES.values() for t in members]
    assert sorted(memberships) == sorted(ALL_TASKS) and memberships.count("xcopa") == 1


def test_categories_over_a_subset_of_tasks():
    # only the study's tasks count; scores of other tasks are ignored; untouched categories are left out
    assert score.category_scores(TEN, ["xnli", "mlqa"]) == pytest.approx(
        {"classification": 80.0, "question answering": 60.0})
    assert score.overall(TEN, ["xnli", "mlqa"]) == pytest.approx(70.0)
    assert score.category_scores(TEN, ["xcopa", "tydiqa", "xquad"]) == pytest.approx(
        {"classification": 60.0, "question answering": 60.0})


def test_a_missing_task_gives_no_category_and_no_overall():
    partial = {k: v for k, v in TEN.items() if k != "tydiqa"}
    categories = score.category_scores(partial, ALL_TASKS)
    assert categories["question answering"] is None
    assert categories["classification"] == pytest.approx(70.0) and categories["retrieval"] == pytest.approx(30.0)
    assert score.overall(partial, ALL_TASKS) is None
    with_none = dict(TEN, panx=None)
    assert score.category_scores(with_none, ALL_TASKS)["structured prediction"] is None
    assert score.overall(with_none, ALL_TASKS) is None
    assert score.overall({}, []) is None


def test_is_full_suite():
    assert score.is_full_suite(ALL_TASKS) and score.is_full_suite(list(reversed(ALL_TASKS)))
    assert score.is_full_suite(tasks.expand(["xtreme-r"]))
    assert not score.is_full_suite(ALL_TASKS[:-1])
    assert not score.is_full_suite(["xnli", "mlqa"])
    assert not score.is_full_suite([])


# ---- 3. the report on a hand-made grid -----------------------------------------------------------
# Per-seed task bases; per language the value is base + OFFSET[lang] (offsets sum to 0, so the mean
# over languages is the base). MLQA: F1 = base + offset, EM = F1 - 12, so (F1 + EM) / 2 = base - 6.
OFFSET = {"en": 6.0, "ar": -2.0, "zh": -4.0}
XNLI = {"none": {1: 60, 2: 62, 3: 64}, "nli-en": {1: 70, 2: 71, 3: 75}, "nli-multi": {1: 74, 2: 70, 3: 78}}
MLQA_F1 = {"none": {1: 50, 2: 54, 3: 52}, "nli-en": {1: 56, 2: 58, 3: 60}, "nli-multi": {1: 58, 2: 54, 3: 65}}
EM_GAP = 12.0
#                    XNLI            MLQA (F1+EM)/2   overall = (XNLI + MLQA) / 2
# no ITT             60, 62, 64      44, 48, 46       52, 55, 55      -> 54.0 ± 1.732
# ITT: nli-en        70, 71, 75      50, 52, 54       60, 61.5, 64.5  -> 62.0 ± 2.291
# ITT: nli-multi     74, 70, 78      52, 48, 59       63, 59, 68.5    -> 63.5 ± 4.770
NO, EN, MULTI = "no ITT", "ITT: nli-en", "ITT: nli-multi"


def cell_metrics(cell: plan.Cell) -> dict:
    """A cell's result.json as a head stores it: fractions (the report shows them 0-100)."""
    if cell.target == "xnli":
        languages = {lang: {"accuracy": XNLI[cell.task][cell.seed] + off} for lang, off in OFFSET.items()}
    else:
        languages = {lang: {"f1": MLQA_F1[cell.task][cell.seed] + off,
                            "exact_match": MLQA_F1[cell.task][cell.seed] + off - EM_GAP}
                     for lang, off in OFFSET.items()}
    return {"test": {}, "languages": {lang: {m: v / 100 for m, v in scores.items()} for lang, scores in languages.items()}}


def make_study(tmp_path, *extra, skip=()):
    study = load_study(LOCAL, [f"output_dir={tmp_path}/out", f"logdir={tmp_path}/logs", "seeds=[1,2,3]",
                               "targets=[xnli,mlqa]", "models=[tiny-xlmr]", "tasks=[nli-en,nli-multi]",
                               "xtreme.languages.xnli=[en,ar,zh]", "xtreme.languages.mlqa=[en,ar,zh]", *extra])
    for cell in targets.cells(study):
        if cell.key in skip:
            continue
        finish_cell(study, cell, cell_metrics(cell))
    return study


@pytest.fixture
def study(tmp_path):
    return make_study(tmp_path)


def test_hand_made_grid_layout(study):
    assert study.targets == ["xnli", "mlqa"] and study.tasks == ["nli-en", "nli-multi"]
    keys = [c.key for c in targets.cells(study)]
    assert len(keys) == 18 and len(set(keys)) == 18  # no ITT 2 x 3 shared + ITT 2 tasks x 2 x 3
    assert sum(k.startswith("tiny-xlmr/none/") for k in keys) == 6
    assert xreport.arms(study) == [(NO, "none", "no_itt"), (EN, "nli-en", "itt"), (MULTI, "nli-multi", "itt")]
    assert xreport.columns(study) == ["xnli", "mlqa", "classification", "question answering", "overall"]


def test_summarise_means_and_stds_per_arm(study):
    table = xreport.summarise(study, xreport.collect(study, Ledger(study)))
    assert list(table) == ["tiny-xlmr"] and list(table["tiny-xlmr"]) == [NO, EN, MULTI]
    expected = {
        NO: {"xnli": [60, 62, 64], "mlqa": [44, 48, 46], "overall": [52, 55, 55]},
        EN: {"xnli": [70, 71, 75], "mlqa": [50, 52, 54], "overall": [60, 61.5, 64.5]},
        MULTI: {"xnli": [74, 70, 78], "mlqa": [52, 48, 59], "overall": [63, 59, 68.5]},
    }
    hand = {NO: {"xnli": (62.0, 2.0), "mlqa": (46.0, 2.0), "overall": (54.0, math.sqrt(3))},
            EN: {"xnli": (72.0, math.sqrt(7)), "mlqa": (52.0, 2.0), "overall": (62.0, math.sqrt(5.25))},
            MULTI: {"xnli": (74.0, 4.0), "mlqa": (53.0, math.sqrt(31)), "overall": (63.5, math.sqrt(22.75))}}
    for label, cols in expected.items():
        entry = table["tiny-xlmr"][label]
        assert list(entry["per_seed"]) == [1, 2, 3]
        for col, values in cols.items():
            assert [entry["per_seed"][s][col] for s in (1, 2, 3)] == pytest.approx(values)
            mean, std, n = entry["stats"][col]
            assert (mean, std) == pytest.approx(hand[label][col]) and n == 3
        # each category has one task here: classification = XNLI, question answering = MLQA
        assert entry["stats"]["classification"] == pytest.approx(entry["stats"]["xnli"])
        assert entry["stats"]["question answering"] == pytest.approx(entry["stats"]["mlqa"])


def test_qa_metric_f1_changes_mlqa_and_overall(tmp_path):
    study = make_study(tmp_path, "xtreme.qa_metric=f1")
    entry = xreport.summarise(study, xreport.collect(study, Ledger(study)))["tiny-xlmr"][NO]
    assert [entry["per_seed"][s]["mlqa"] for s in (1, 2, 3)] == pytest.approx([50, 54, 52])
    assert [entry["per_seed"][s]["overall"] for s in (1, 2, 3)] == pytest.approx([55, 58, 58])
    assert "(QA: F1)" in xreport.markdown(study, xreport.collect(study, Ledger(study)))


def t_df2(t: float) -> float:
    """Two-sided p of Student's t with 2 degrees of freedom (closed form)."""
    return 1 - abs(t) / math.sqrt(2 + t * t)


T975_DF2 = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))  # t quantile 0.975, df 2: 4.3027


def test_deltas_and_paired_t_test(study):
    rows = xreport.deltas(study, xreport.summarise(study, xreport.collect(study, Ledger(study))))
    assert [r["comparison"] for r in rows] == [f"{EN} − {NO}", f"{MULTI} − {NO}", f"{MULTI} − {EN}"]
    by = {r["comparison"]: r for r in rows}
    en_no, multi_no, multi_en = by[f"{EN} − {NO}"], by[f"{MULTI} − {NO}"], by[f"{MULTI} − {EN}"]
    cols = ["xnli", "mlqa", "classification", "question answering", "overall"]
    assert [en_no[c] for c in cols] == pytest.approx([10.0, 6.0, 10.0, 6.0, 8.0])
    assert [multi_no[c] for c in cols] == pytest.approx([12.0, 7.0, 12.0, 7.0, 9.5])
    assert [multi_en[c] for c in cols] == pytest.approx([2.0, 1.0, 2.0, 1.0, 1.5])
    # ITT: nli-en − no ITT, overall per seed: 8, 6.5, 9.5 -> mean 8, sd 1.5, t = 8 / (1.5 / sqrt 3) = 9.2376
    t = en_no["test"]
    assert t["paired_n"] == 3 and t["verdict"] == "positive"
    assert t["p_value"] == pytest.approx(t_df2(8 / (1.5 / math.sqrt(3))), abs=1e-6)
    assert t["p_value"] == pytest.approx(0.011517, abs=1e-5)
    half = T975_DF2 * 1.5 / math.sqrt(3)
    assert (t["ci_low"], t["ci_high"]) == pytest.approx((8 - half, 8 + half), abs=1e-6)
    # ITT: nli-multi − no ITT: 11, 4, 13.5 (sd 4.924): p = 0.079, not significant
    assert multi_no["test"]["verdict"] == "not significant"
    assert multi_no["test"]["p_value"] == pytest.approx(t_df2(9.5 / (math.sqrt(24.25) / math.sqrt(3))), abs=1e-6)
    # ITT: nli-multi − ITT: nli-en: 3, -2.5, 4 (sd 3.5): p = 0.535
    assert multi_en["test"]["verdict"] == "not significant"
    assert multi_en["test"]["p_value"] == pytest.approx(t_df2(1.5 / (3.5 / math.sqrt(3))), abs=1e-6)


def test_deltas_with_two_seeds_are_too_few_to_test(tmp_path):
    study = make_study(tmp_path, "seeds=[1,2]")
    rows = xreport.deltas(study, xreport.summarise(study, xreport.collect(study, Ledger(study))))
    en_no = rows[0]
    assert en_no["overall"] == pytest.approx((8 + 6.5) / 2)
    assert en_no["test"]["paired_n"] == 2 and en_no["test"]["verdict"] == "too few seeds"
    assert en_no["test"]["p_value"] is None


def test_markdown_tables(study):
    md = xreport.markdown(study, xreport.collect(study, Ledger(study)))
    assert md.startswith("## XTREME-R (zero-shot cross-lingual transfer)")
    assert "(QA: (F1 + EM) / 2)" in md and "seeds [1, 2, 3]" in md
    # reduced: 2 tasks on 3 languages each
    assert "overall = mean of this study's 2 task(s) on its language sets — not the XTREME-R score" in md
    assert "the XTREME-R score (mean of the 10 tasks)" not in md
    assert "Reduced language sets: xnli: en, ar, zh; mlqa: en, ar, zh" in md
    lines = md.splitlines()
    assert "| model | arm | XNLI | MLQA | classification | question answering | overall |" in lines
    assert "| tiny-xlmr | no ITT | 62.0 ± 2.0 | 46.0 ± 2.0 | 62.0 ± 2.0 | 46.0 ± 2.0 | 54.0 ± 1.7 |" in lines
    assert "| tiny-xlmr | ITT: nli-en | 72.0 ± 2.6 | 52.0 ± 2.0 | 72.0 ± 2.6 | 52.0 ± 2.0 | 62.0 ± 2.3 |" in lines
    assert "| tiny-xlmr | ITT: nli-multi | 74.0 ± 4.0 | 53.0 ± 5.6 | 74.0 ± 4.0 | 53.0 ± 5.6 | 63.5 ± 4.8 |" in lines
    # Δ table: CI 8 ± 3.726 -> [+4.27, +11.73]; 9.5 ± 12.233 -> [-2.73, +21.73]; 1.5 ± 8.694 -> [-7.19, +10.19]
    assert ("| model | comparison | XNLI | MLQA | classification | question answering | overall | 95 % CI (overall) "
            "| p | verdict |") in lines
    assert ("| tiny-xlmr | ITT: nli-en − no ITT | +10.00 | +6.00 | +10.00 | +6.00 | +8.00 | [+4.27, +11.73] "
            "| 0.012 | positive |") in lines
    assert ("| tiny-xlmr | ITT: nli-multi − no ITT | +12.00 | +7.00 | +12.00 | +7.00 | +9.50 | [-2.73, +21.73] "
            "| 0.079 | not significant |") in lines
    assert ("| tiny-xlmr | ITT: nli-multi − ITT: nli-en | +2.00 | +1.00 | +2.00 | +1.00 | +1.50 | [-7.19, +10.19] "
            "| 0.535 | not significant |") in lines
    # per language, mean over seeds: XNLI base means 62 / 72 / 74; MLQA F1 base means 52 / 58 / 59
    assert "### XNLI per language — tiny-xlmr" in lines and "### MLQA per language — tiny-xlmr" in lines
    assert "| language | no ITT accuracy | ITT: nli-en accuracy | ITT: nli-multi accuracy |" in lines
    assert "| en | 68.0 | 78.0 | 80.0 |" in lines
    assert "| ar | 60.0 | 70.0 | 72.0 |" in lines
    assert "| zh | 58.0 | 68.0 | 70.0 |" in lines
    assert ("| language | no ITT f1 | no ITT exact_match | ITT: nli-en f1 | ITT: nli-en exact_match | "
            "ITT: nli-multi f1 | ITT: nli-multi exact_match |") in lines
    assert "| en | 58.0 | 46.0 | 64.0 | 52.0 | 65.0 | 53.0 |" in lines
    assert "| zh | 48.0 | 36.0 | 54.0 | 42.0 | 55.0 | 43.0 |" in lines
    assert "Partial XTREME-R grid" not in md


def test_markdown_says_full_suite_only_without_reduced_languages(tmp_path):
    reduced = load_study(LOCAL, [f"output_dir={tmp_path}/a", "seeds=[1]"])
    assert reduced.targets == ALL_TASKS and reduced.xtreme.languages
    text = xreport.markdown(reduced, xreport.collect(reduced, Ledger(reduced)))
    assert "overall = mean of this study's 10 task(s) on its language sets — not the XTREME-R score" in text
    assert "the XTREME-R score (mean of the 10 tasks)" not in text
    full = load_study(FULL, [f"output_dir={tmp_path}/b", "models=[mbert]", "seeds=[1]"])
    assert not full.xtreme.languages
    text = xreport.markdown(full, xreport.collect(full, Ledger(full)))
    assert "overall = the XTREME-R score (mean of the 10 tasks)." in text and "not the XTREME-R score" not in text
    assert "Reduced language sets" not in text
    # nothing ran: every cell is listed, every score is "–"
    assert "**Partial XTREME-R grid: 30 cell(s) have no result yet:**" in text
    assert "| mbert | no ITT | " + " | ".join(["–"] * 15) + " |" in text


def test_a_missing_cell_is_listed_and_leaves_its_scores_empty(tmp_path):
    gone = "tiny-xlmr/nli-en/mlqa/itt/seed3"
    study = make_study(tmp_path, skip={gone})
    collected = xreport.collect(study, Ledger(study))
    assert [c.key for c in collected["missing"]] == [gone]
    entry = xreport.summarise(study, collected)["tiny-xlmr"][EN]
    seed3 = entry["per_seed"][3]
    assert seed3["xnli"] == pytest.approx(75.0) and seed3["classification"] == pytest.approx(75.0)
    assert seed3["mlqa"] is None and seed3["question answering"] is None and seed3["overall"] is None
    assert entry["stats"]["mlqa"] == pytest.approx((51.0, math.sqrt(2), 2))
    assert entry["stats"]["xnli"][2] == 3 and entry["stats"]["overall"][2] == 2
    md = xreport.markdown(study, xreport.collect(study, Ledger(study)))
    assert "**Partial XTREME-R grid: 1 cell(s) have no result yet:**" in md and f"- `{gone}`" in md
    lines = md.splitlines()
    assert "| tiny-xlmr | ITT: nli-en | 72.0 ± 2.6 | 51.0 ± 1.4 | 72.0 ± 2.6 | 51.0 ± 1.4 | 60.8 ± 1.1 |" in lines
    # the Δ over two common seeds cannot be tested
    assert any(line.startswith("| tiny-xlmr | ITT: nli-en − no ITT | +10.00 | +5.00 |")
               and line.endswith("| – | – | too few seeds |") for line in lines)


def test_a_single_seed_with_a_missing_cell_shows_dashes(tmp_path):
    gone = "tiny-xlmr/none/mlqa/no_itt/seed1"
    study = make_study(tmp_path, "seeds=[1]", skip={gone})
    md = xreport.markdown(study, xreport.collect(study, Ledger(study)))
    lines = md.splitlines()
    assert "| tiny-xlmr | no ITT | 60.0 | – | 60.0 | – | – |" in lines
    assert "| tiny-xlmr | ITT: nli-en | 70.0 | 50.0 | 70.0 | 50.0 | 60.0 |" in lines
    assert f"- `{gone}`" in md
    # its per-language rows are dashes for that arm only
    assert "| en | – | – | 62.0 | 50.0 | 64.0 | 52.0 |" in lines


def test_a_result_missing_a_language_gives_no_task_score(tmp_path):
    study = make_study(tmp_path, "seeds=[1]")
    cell = plan.Cell("tiny-xlmr", "none", "xnli", "no_itt", 1)
    metrics = cell_metrics(cell)
    del metrics["languages"]["zh"]
    (plan.cell_dir(study, cell) / plan.METRICS).write_text(json.dumps(metrics))
    seed1 = xreport.summarise(study, xreport.collect(study, Ledger(study)))["tiny-xlmr"][NO]["per_seed"][1]
    assert seed1["xnli"] is None and seed1["classification"] is None and seed1["overall"] is None
    assert seed1["mlqa"] == pytest.approx(44.0)
    assert "| tiny-xlmr | no ITT | – | 44.0 | – | 44.0 | – |" in xreport.markdown(study, xreport.collect(study, Ledger(study))).splitlines()


def test_csv_one_row_per_model_arm_seed_task_language_metric(study):
    rows = list(csv.reader(io.StringIO(xreport.to_csv(study, xreport.collect(study, Ledger(study))))))
    assert rows[0] == ["model", "arm", "seed", "task", "language", "metric", "value"]
    body = rows[1:]
    # 3 arms x 3 seeds x (3 languages x accuracy + 3 languages x (f1, exact_match))
    assert len(body) == 3 * 3 * (3 + 6)
    keys = [tuple(r[:6]) for r in body]
    assert len(set(keys)) == len(keys)
    values = {tuple(r[:6]): float(r[6]) for r in body}
    assert values[("tiny-xlmr", "no ITT", "1", "xnli", "en", "accuracy")] == 66.0
    assert values[("tiny-xlmr", "ITT: nli-multi", "3", "mlqa", "zh", "exact_match")] == 65 - 4 - 12
    assert values[("tiny-xlmr", "ITT: nli-en", "2", "mlqa", "ar", "f1")] == 56.0
    assert {r[1] for r in body} == {NO, EN, MULTI} and {r[4] for r in body} == {"en", "ar", "zh"}
    assert {(r[3], r[5]) for r in body} == {("xnli", "accuracy"), ("mlqa", "f1"), ("mlqa", "exact_match")}


def test_csv_leaves_out_missing_cells(tmp_path):
    study = make_study(tmp_path, skip={"tiny-xlmr/nli-en/mlqa/itt/seed3"})
    assert len(xreport.to_csv(study, xreport.collect(study, Ledger(study))).splitlines()) == 1 + 81 - 6


def test_whole_report_writes_markdown_and_xtreme_csv(study):
    written = report.write(study)
    out = plan.root(study) / "report"
    assert written["dir"] == str(out)
    md = (out / "report.md").read_text()
    assert md == written["markdown"] and md.startswith("# ITT study `xtreme_local`")
    assert xreport.markdown(study, xreport.collect(study, Ledger(study))) in md
    assert "| tiny-xlmr | ITT: nli-en − no ITT | +10.00 | +6.00 | +10.00 | +6.00 | +8.00 |" in md
    assert (out / "xtreme.csv").read_text() == xreport.to_csv(study, xreport.collect(study, Ledger(study)))
    assert not (out / "report.csv").exists()  # no non-XTREME target: no ITT-study table
    assert written["rows"] == []


def test_whole_report_returns_missing_xtreme_cells(tmp_path):
    gone = "tiny-xlmr/nli-en/mlqa/itt/seed3"
    study = make_study(tmp_path, skip={gone})
    written = report.write(study)
    assert f"- `{gone}`" in written["markdown"]  # the markdown lists it ...
    assert written["missing"] == [gone]  # ... and so does the stage's result


def test_whole_report_summary_of_an_xtreme_study(study):
    report.write(study)
    summary = (plan.root(study) / "report" / "summary.txt").read_text()
    assert "No target has results for both arms yet." not in summary
    assert "mean score over 2 XTREME-R task(s)" in summary
    assert "tiny-xlmr ITT: nli-en − no ITT: Δ +8.00 (positive)." in summary


# ---- 4. the grid --------------------------------------------------------------------------------
def test_no_itt_xtreme_cells_are_shared_across_tasks(tmp_path):
    study = load_study(FULL, [f"output_dir={tmp_path}/out"])
    assert study.models == ["mbert", "xlmr-base", "xlmr-large"] and study.targets == ALL_TASKS
    cells = targets.cells(study)
    assert len(cells) == 3 * 10 * (3 + 2 * 3) == 270
    assert len(set(cells)) == 270
    no_itt = [c for c in cells if c.arm == "no_itt"]
    itt = [c for c in cells if c.arm == "itt"]
    assert len(no_itt) == 90 and {c.task for c in no_itt} == {plan.NO_TASK}
    assert len(itt) == 180 and sum(c.task == "nli-en" for c in itt) == 90 and sum(c.task == "nli-multi" for c in itt) == 90
    assert plan.Cell("xlmr-large", "none", "panx", "no_itt", 2) in cells
    assert plan.Cell("xlmr-large", "nli-multi", "panx", "itt", 2) in cells
    assert plan.cell_dir(study, plan.Cell("mbert", "none", "xnli", "no_itt", 1)) == \
        tmp_path / "out" / "target" / "mbert" / "none" / "xnli" / "no_itt" / "seed1"


def test_only_xtreme_no_itt_cells_are_shared(tmp_path):
    study = load_study(None, [f"output_dir={tmp_path}/out", "seeds=[1,2]", "targets=[domain,xnli]",
                              "data.xtreme_dir=tests/fixtures/xtreme"])
    keys = {c.key for c in targets.cells(study)}
    model = study.models[0]
    assert keys == {f"{model}/sentiment/domain/itt/seed1", f"{model}/sentiment/domain/itt/seed2",
                    f"{model}/sentiment/domain/no_itt/seed1", f"{model}/sentiment/domain/no_itt/seed2",
                    f"{model}/sentiment/xnli/itt/seed1", f"{model}/sentiment/xnli/itt/seed2",
                    f"{model}/none/xnli/no_itt/seed1", f"{model}/none/xnli/no_itt/seed2"}


# ---- 5. config errors ----------------------------------------------------------------------------
def one_line_error(path, overrides) -> str:
    with pytest.raises(UserError) as err:
        load_study(path, overrides)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_languages_of_an_unknown_task():
    message = one_line_error(LOCAL, ["xtreme.languages.xnlu=[en]"])
    assert message == ("unknown XTREME-R task 'xnlu' (valid: lareqa, mewslix, mlqa, panx, tatoeba, tydiqa, udpos, "
                       "xcopa, xnli, xquad)")


def test_a_language_outside_the_tasks_list():
    message = one_line_error(LOCAL, ["xtreme.languages.mlqa=[en,fr]"])  # French is in XNLI, not MLQA
    assert message == ("xtreme.languages.mlqa: 'fr' is not an XTREME-R language of mlqa "
                       "(valid: ar, de, en, es, hi, vi, zh)")


def test_xtreme_r_expands_to_the_ten_tasks_in_order(tmp_path):
    assert load_study(LOCAL, ["targets=[xtreme-r]"]).targets == ALL_TASKS
    assert load_study(FULL, [f"output_dir={tmp_path}"]).targets == ALL_TASKS
    assert list(tasks.TASKS) == ALL_TASKS
    # a task named next to the suite is not repeated; its position is kept
    assert load_study(LOCAL, ["targets=[mlqa,xtreme-r]"]).targets == ["mlqa"] + [t for t in ALL_TASKS if t != "mlqa"]


def test_unknown_target_lists_the_xtreme_tasks():
    message = one_line_error(LOCAL, ["targets=[xnil]"])
    assert message.startswith("task 'nli-en' has no target 'xnil' (valid: ")
    valid = message.split("(valid: ")[1].rstrip(")").split(", ")
    assert set(ALL_TASKS) | {"xtreme-r"} <= set(valid)


def test_offline_xtreme_without_xtreme_dir(tmp_path):
    message = one_line_error(FULL, [f"output_dir={tmp_path}", "data.source=offline"])
    assert "data.xtreme_dir" in message and "offline" in message
    message = one_line_error(LOCAL, ["data.xtreme_dir=null"])
    assert "data.xtreme_dir" in message
    # the hub needs no folder
    assert load_study(FULL, [f"output_dir={tmp_path}"]).data.xtreme_dir is None


def test_relative_xtreme_dir_is_made_absolute(tmp_path, monkeypatch):
    study = load_study(LOCAL)
    assert study.data.xtreme_dir == str(REPO / "tests" / "fixtures" / "xtreme")
    assert os.path.isabs(study.data.xtreme_dir)
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path)
    study = load_study(REPO / LOCAL, ["data.xtreme_dir=mine"])
    assert study.data.xtreme_dir == str(tmp_path.resolve() / "mine")
    message = one_line_error(REPO / LOCAL, ["data.xtreme_dir=nowhere"])
    assert message == f"data.xtreme_dir: {tmp_path.resolve() / 'nowhere'} is not a directory"


# ---- 6. dry run and compute estimate -------------------------------------------------------------
def test_dry_run_lists_the_xtreme_grid_and_estimate(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "launch/submit.py", "--stage", "target", "--config", FULL, "--dry-run",
                             f"output_dir={tmp_path}/out", f"logdir={tmp_path}/logs"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "target grid: 270 cells = 3 model(s) x 2 task(s) x 10 target(s) x 2 arm(s) x 3 seed(s)" in out
    assert "XTREME-R grid: 270 cell(s)" in out and "800 training samples/s" in out
    assert out.count("[pending]") == 270
    rows = {m.group(1): (int(m.group(2)), int(m.group(3)), float(m.group(4)), float(m.group(5)))
            for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s+[\d,]+\s+\d+\s+(\d+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)}
    assert list(rows) == ALL_TASKS
    assert {t: r[0] for t, r in rows.items()} == N_LANGS
    assert all(r[1] == 27 for r in rows.values())
    study = load_study(FULL, [f"output_dir={tmp_path}/out"])
    cells = targets.cells(study)
    total = sum(estimate.gpu_hours(study, c.model, c.target) for c in cells)
    evaluations = 27 * sum(N_LANGS.values())
    assert f"targets: {evaluations} (cell, language) evaluations, about {total:.0f} GPU-hours" in out
    itt = estimate.intermediate_hours(study)  # 2 tasks x (2 base + 1 large x 3.5) x 384k rows x 2 epochs / 800/s
    assert itt == pytest.approx(2 * (2 + 3.5) * 384_000 * 2 / 800 / 3600)
    assert f"intermediate: 6 run(s) of 2 epoch(s) over 384,000 rows, about {itt:.0f} GPU-hours; " \
           f"total about {total + itt:.0f} GPU-hours" in out
    for target, (_, _, per_cell, hours) in rows.items():
        mine = sum(estimate.gpu_hours(study, c.model, target) for c in cells if c.target == target)
        assert hours == pytest.approx(mine, abs=0.051) and per_cell == pytest.approx(mine / 27, abs=0.0051)
    assert not (tmp_path / "out").exists()


def test_gpu_hours_by_hand_and_scaling(tmp_path):
    study = load_study(FULL, [f"output_dir={tmp_path}"])
    # XNLI: 392,702 x 5 epochs at 128 tokens, plus 15 languages x 5,010 test rows / 3 (inference)
    xnli = (392_702 * 5 + 15 * 5_010 / 3) / 800 / 3600
    assert estimate.gpu_hours(study, "xlmr-base", "xnli") == pytest.approx(xnli)
    assert estimate.gpu_hours(study, "mbert", "xnli") == pytest.approx(xnli)
    # MLQA at 384 tokens (x3): 87,599 x 3 epochs, 7 languages x 5,000
    assert estimate.gpu_hours(study, "xlmr-base", "mlqa") == pytest.approx((87_599 * 3 * 3 + 7 * 5_000 * 3 / 3) / 800 / 3600)
    # Tatoeba trains nothing: 41 languages x (1,000 + 1,000) encoded
    assert estimate.gpu_hours(study, "xlmr-base", "tatoeba") == pytest.approx(41 * 2_000 / 3 / 800 / 3600)
    slow = load_study(FULL, [f"output_dir={tmp_path}", "xtreme.gpu_samples_per_s=400"])
    for target in ALL_TASKS:
        base = estimate.gpu_hours(study, "xlmr-base", target)
        assert base > 0
        assert estimate.gpu_hours(slow, "xlmr-base", target) == pytest.approx(2 * base)
        assert estimate.gpu_hours(study, "xlmr-large", target) == pytest.approx(3.5 * base)
        assert estimate.gpu_hours(study, "my-large-model", target) == pytest.approx(3.5 * base)
    # fewer languages, fewer evaluation hours
    reduced = load_study(FULL, [f"output_dir={tmp_path}", "xtreme.languages.tatoeba=[ar,zh]"])
    assert estimate.gpu_hours(reduced, "xlmr-base", "tatoeba") == pytest.approx(2 * 2_000 / 3 / 800 / 3600)
