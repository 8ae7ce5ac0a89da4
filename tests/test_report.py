"""The report on a grid with known metrics: every number in the table is checked."""
import json
import statistics

import pytest

from hpc_itt import plan, report
from hpc_itt.config.load import load_study

# test accuracy per (target, arm, seed); values chosen by hand
KNOWN = {("domain", "itt", 1): 0.80, ("domain", "itt", 2): 0.84, ("domain", "itt", 3): 0.82,
         ("domain", "no_itt", 1): 0.70, ("domain", "no_itt", 2): 0.72, ("domain", "no_itt", 3): 0.74,
         ("crosslingual", "itt", 1): 0.60, ("crosslingual", "itt", 2): 0.64,
         ("crosslingual", "no_itt", 1): 0.66, ("crosslingual", "no_itt", 2): 0.70, ("crosslingual", "no_itt", 3): 0.68}


@pytest.fixture
def study(tmp_path):
    study = load_study(None, [f"output_dir={tmp_path}", "seeds=[1,2,3]", "models=[tiny-bert]"])
    for (target, arm, seed), accuracy in KNOWN.items():
        out = plan.cell_dir(study, plan.Cell("tiny-bert", "sentiment", target, arm, seed))
        out.mkdir(parents=True)
        (out / plan.METRICS).write_text(json.dumps({"test": {"accuracy": accuracy, "macro_f1": 0.0}}))
        (out / plan.DONE).write_text("")
    return study


def test_table_numbers(study):
    rows, missing = report.collect(study)
    domain = next(r for r in rows if r["target"] == "domain")
    assert domain["itt_mean"] == pytest.approx(0.82) and domain["no_itt_mean"] == pytest.approx(0.72)
    assert domain["itt_std"] == pytest.approx(0.02) and domain["no_itt_std"] == pytest.approx(0.02)
    assert domain["delta"] == pytest.approx(0.10) and domain["itt_n"] == 3
    cross = next(r for r in rows if r["target"] == "crosslingual")
    assert cross["itt_mean"] == pytest.approx(0.62) and cross["itt_n"] == 2
    assert cross["itt_std"] == pytest.approx(statistics.stdev([0.60, 0.64]))
    assert cross["delta"] == pytest.approx(0.62 - 0.68)
    assert [c.key for c in missing] == ["tiny-bert/sentiment/crosslingual/itt/seed3"]


def test_written_markdown_and_csv(study):
    written = report.write(study)
    md = (plan.root(study) / "report" / "report.md").read_text()
    assert "| tiny-bert | sentiment | domain | accuracy | 0.7200 ± 0.0200 (n=3) | 0.8200 ± 0.0200 (n=3) | +0.1000 |" in md
    assert "| tiny-bert | sentiment | crosslingual | accuracy | 0.6800 ± 0.0200 (n=3) | 0.6200 ± 0.0283 (n=2) | -0.0600 |" in md
    assert "Partial grid: 1 cell(s)" in md and "`tiny-bert/sentiment/crosslingual/itt/seed3`" in md
    csv_lines = (plan.root(study) / "report" / "report.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == report.COLUMNS and len(csv_lines) == 3
    assert written["missing"] == ["tiny-bert/sentiment/crosslingual/itt/seed3"]


def test_a_cell_without_done_marker_is_missing(study):
    cell = plan.Cell("tiny-bert", "sentiment", "domain", "itt", 1)
    (plan.cell_dir(study, cell) / plan.DONE).unlink()  # metrics.json alone: an unfinished write
    rows, missing = report.collect(study)
    assert cell in missing and next(r for r in rows if r["target"] == "domain")["itt_n"] == 2
