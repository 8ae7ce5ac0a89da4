"""The report on a grid with known metrics: every number in the table is checked."""
import statistics

import pytest
from conftest import finish_cell

from hpc_itt import report
from hpc_itt.config.load import load_study
from hpc_itt.stats import paired
from hpc_itt.study import plan
from hpc_itt.study.provenance import Ledger
from hpc_itt.targets import sequence

# test accuracy per (target, arm, seed); values chosen by hand
KNOWN = {("domain", "itt", 1): 0.80, ("domain", "itt", 2): 0.84, ("domain", "itt", 3): 0.82,
         ("domain", "no_itt", 1): 0.70, ("domain", "no_itt", 2): 0.72, ("domain", "no_itt", 3): 0.74,
         ("crosslingual", "itt", 1): 0.60, ("crosslingual", "itt", 2): 0.64,
         ("crosslingual", "no_itt", 1): 0.66, ("crosslingual", "no_itt", 2): 0.70, ("crosslingual", "no_itt", 3): 0.68}


@pytest.fixture
def study(tmp_path):
    study = load_study(None, [f"output_dir={tmp_path}", "seeds=[1,2,3]", "models=[tiny-bert]"])
    for (target, arm, seed), accuracy in KNOWN.items():
        finish_cell(study, plan.Cell("tiny-bert", "sentiment", target, arm, seed),
                    {"test": {"accuracy": accuracy, "macro_f1": 0.0}})
    return study


def test_table_numbers(study):
    rows, missing = sequence.collect(study, Ledger(study))
    domain = next(r for r in rows if r["target"] == "domain")
    assert domain["itt_mean"] == pytest.approx(0.82) and domain["no_itt_mean"] == pytest.approx(0.72)
    assert domain["itt_std"] == pytest.approx(0.02) and domain["no_itt_std"] == pytest.approx(0.02)
    assert domain["delta"] == pytest.approx(0.10) and domain["itt_n"] == 3
    cross = next(r for r in rows if r["target"] == "crosslingual")
    assert cross["itt_mean"] == pytest.approx(0.62) and cross["itt_n"] == 2
    assert cross["itt_std"] == pytest.approx(statistics.stdev([0.60, 0.64]))
    assert cross["delta"] == pytest.approx(0.62 - 0.68)
    assert [c.key for c in missing] == ["tiny-bert/sentiment/crosslingual/itt/seed3"]


def test_paired_t_test_by_hand(study):
    rows, _ = sequence.collect(study, Ledger(study))
    domain = next(r for r in rows if r["target"] == "domain")
    # per-seed differences 0.10, 0.12, 0.08: mean 0.10, sd 0.02, t = 0.10 / (0.02 / sqrt 3) = 8.660,
    # two-sided p (df 2) = 0.01307, half-width t_0.975,2 (4.3027) x 0.02 / sqrt 3 = 0.04968
    assert domain["paired_n"] == 3 and domain["verdict"] == "positive"
    assert domain["p_value"] == pytest.approx(0.01307, abs=5e-5)
    assert domain["ci_low"] == pytest.approx(0.10 - 0.04968, abs=5e-5)
    assert domain["ci_high"] == pytest.approx(0.10 + 0.04968, abs=5e-5)
    cross = next(r for r in rows if r["target"] == "crosslingual")
    assert cross["paired_n"] == 2 and cross["verdict"] == "too few seeds" and cross["p_value"] is None


@pytest.mark.parametrize("itt, no_itt, verdict", [
    ({1: 0.5, 2: 0.6, 3: 0.4}, {1: 0.6, 2: 0.7, 3: 0.5}, "negative"),        # every seed -0.1: p = 0
    ({1: 0.7, 2: 0.6, 3: 0.8}, {1: 0.6, 2: 0.7, 3: 0.7}, "not significant"),  # +0.1, -0.1, +0.1
    ({1: 0.7, 2: 0.7, 3: 0.7}, {1: 0.7, 2: 0.7, 3: 0.7}, "not significant"),  # no difference at all
])
def test_verdicts(itt, no_itt, verdict):
    assert paired(itt, no_itt)["verdict"] == verdict


def test_written_markdown_csv_latex_plots_and_summary(study):
    written = report.write(study)
    md = (plan.root(study) / "report" / "report.md").read_text()
    assert ("| tiny-bert | sentiment | domain | accuracy | 0.7200 ± 0.0200 (n=3) | 0.8200 ± 0.0200 (n=3) | +0.1000 | "
            "[+0.0503, +0.1497] | 0.013 | positive |") in md
    assert ("| tiny-bert | sentiment | crosslingual | accuracy | 0.6800 ± 0.0200 (n=3) | 0.6200 ± 0.0283 (n=2) | -0.0600 | "
            "– | – | too few seeds |") in md
    assert "**Best per target:** sentiment/domain: tiny-bert (with ITT, accuracy 0.8200); " \
           "sentiment/crosslingual: tiny-bert (without ITT, accuracy 0.6800)" in md
    summary = (plan.root(study) / "report" / "summary.txt").read_text()
    assert summary.startswith("ITT raised the mean test accuracy in 1 of 2 model/target pairs.")
    assert "positive in 1, negative in 0 and not significant in 0 (1 had too few seeds to test)" in summary
    assert "The grid is partial: 1 cell(s) are missing." in summary
    tex = (plan.root(study) / "report" / "report.tex").read_text()
    assert r"tiny-bert & sentiment & domain & accuracy & 0.720 $\pm$ 0.020 & 0.820 $\pm$ 0.020 & +0.100 & positive \\" in tex
    assert r"\begin{tabular}" in tex and r"\bottomrule" in tex
    assert written["plots"] == [str(plan.root(study) / "report" / "delta.png")]
    assert (plan.root(study) / "report" / "delta.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Partial grid: 1 cell(s)" in md and "`tiny-bert/sentiment/crosslingual/itt/seed3`" in md
    csv_lines = (plan.root(study) / "report" / "report.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == sequence.COLUMNS and len(csv_lines) == 3
    assert written["missing"] == ["tiny-bert/sentiment/crosslingual/itt/seed3"]


def test_a_cell_without_done_marker_is_missing(study):
    cell = plan.Cell("tiny-bert", "sentiment", "domain", "itt", 1)
    (plan.cell_dir(study, cell) / plan.DONE).unlink()  # metrics.json alone: an unfinished write
    rows, missing = sequence.collect(study, Ledger(study))
    assert cell in missing and next(r for r in rows if r["target"] == "domain")["itt_n"] == 2
