"""XTREME-R end to end through the CLI on the fixture sample (tests/fixtures/xtreme, the exact
XTREME layout) and a tiny model with the real XLM-R tokenizer: both intermediate tasks (English
MNLI, translated MNLI) → consolidation → every XTREME-R task for no ITT and both ITT arms, trained
on English only and scored on every configured language (non-Latin scripts included) → the
report's XTREME-R tables; a rerun skips everything."""
import json
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

STUDY = "configs/studies/xtreme_local.yaml"


def submit(tmp, *args):
    cmd = [sys.executable, "launch/submit.py", "--config", STUDY, "--cluster", "local", f"output_dir={tmp}/exp",
           f"logdir={tmp}/logs", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xtreme")
    result = submit(tmp, "--stage", "all")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    from hpc_itt.config.load import load_study

    study = load_study(REPO / STUDY, [f"output_dir={tmp}/exp", f"logdir={tmp}/logs"])
    return tmp, study, result


def test_every_cell_scores_every_configured_language(run):
    from hpc_itt import targets
    from hpc_itt.study import plan
    from hpc_itt.xtreme import tasks

    _, study, _ = run
    cells = targets.cells(study)
    assert len(cells) == 10 * 3  # 10 tasks x (no ITT + ITT on nli-en + ITT on nli-multi), one seed
    for cell in cells:
        metrics = plan.read_metrics(study, cell)
        assert metrics is not None, cell.key
        task = tasks.get(cell.target)
        assert list(metrics["languages"]) == study.xtreme.languages[cell.target], cell.key
        expected = set(task.metrics)
        for lang, scores in metrics["languages"].items():
            assert expected <= set(scores) and all(0 <= v <= 1 for v in scores.values()), (cell.key, lang)
        assert metrics["model_source"].endswith("consolidated") == (cell.arm == "itt")


def test_training_learns_on_english(run):
    """Losses fall for each trained family (tagging, QA, multiple choice, dual encoder); Tatoeba
    does not train; XCOPA trains SIQA first and hands its head to COPA."""
    from hpc_itt.study import plan

    _, study, _ = run
    for target in ("udpos", "panx", "xquad", "lareqa", "xnli"):
        cell = plan.Cell("tiny-xlmr", plan.NO_TASK, target, "no_itt", 1)
        losses = [json.loads(line)["loss"] for line in
                  (plan.cell_dir(study, cell) / "train_log.jsonl").read_text().splitlines()]
        assert len(losses) >= 4 and min(losses[-2:]) < losses[0], (target, losses)
    tatoeba = json.loads((plan.cell_dir(study, plan.Cell("tiny-xlmr", "none", "tatoeba", "no_itt", 1))
                          / "result.json").read_text())
    assert tatoeba["steps"] == 0 and tatoeba["selected"] is None
    xcopa = plan.cell_dir(study, plan.Cell("tiny-xlmr", "none", "xcopa", "no_itt", 1))
    manifest = json.loads((xcopa / "phase1-siqa" / "model" / "manifest.json").read_text())
    assert manifest["steps"] > 0
    phase2 = json.loads((xcopa / "phase2-copa" / "result.json").read_text())
    assert phase2["model_source"].endswith("phase1-siqa/model") and phase2["steps"] > 0


def test_report_has_the_xtreme_tables_with_the_cells_numbers(run):
    from hpc_itt.study import plan
    from hpc_itt.xtreme import score

    tmp, study, _ = run
    report = (tmp / "exp" / "report" / "report.md").read_text()
    assert "## XTREME-R" in report and "Partial" not in report
    assert "not the XTREME-R score" in report  # reduced language sets
    for label in ("XNLI", "XCOPA", "UD-POS", "PAN-X", "XQuAD", "MLQA", "TyDiQA", "Tatoeba", "LAReQA", "Mewsli-X"):
        assert f"### {label} per language — tiny-xlmr" in report
    # no-ITT row of the per-arm table: each task score recomputed from the cells' metrics, which are
    # stored as fractions and shown 0-100
    scores = {}
    for target in study.targets:
        langs = plan.read_metrics(study, plan.Cell("tiny-xlmr", "none", target, "no_itt", 1))["languages"]
        langs = {lang: {m: 100 * v for m, v in metrics.items()} for lang, metrics in langs.items()}
        assert all(0 <= v <= 100 for metrics in langs.values() for v in metrics.values())
        scores[target] = score.task_score(target, langs, tuple(study.xtreme.languages[target]))
    overall = score.overall(scores, study.targets)
    row = next(line for line in report.splitlines() if line.startswith("| tiny-xlmr | no ITT |"))
    cells = [c.strip() for c in row.strip("|").split("|")][2:]
    assert cells[:10] == [f"{scores[t]:.1f}" for t in study.targets]
    assert cells[-1] == f"{overall:.1f}"
    for comparison in ("ITT: nli-en − no ITT", "ITT: nli-multi − no ITT", "ITT: nli-multi − ITT: nli-en"):
        assert f"| tiny-xlmr | {comparison} |" in report
    rows = (tmp / "exp" / "report" / "xtreme.csv").read_text().splitlines()
    assert rows[0] == "model,arm,seed,task,language,metric,value"
    assert any(r.startswith("tiny-xlmr,no ITT,1,xnli,zh,accuracy,") for r in rows)


def test_per_language_scalars_reach_tensorboard(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tmp, _, _ = run
    acc = EventAccumulator(str(tmp / "logs" / "xtreme_local" / "target" / "tiny-xlmr" / "none" / "mlqa" / "no_itt"
                               / "seed1"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"test/f1", "test/ar/f1", "test/zh/exact_match", "train/loss"} <= tags


def test_rerun_skips_finished_work(run):
    tmp, _, _ = run
    again = submit(tmp, "--stage", "all")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 cell(s) to run, 30 already done" in again.stdout
