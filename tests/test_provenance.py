"""Results keyed by what made them: a rerun with other settings never reuses or reports old results.
It stops with one line naming the changed keys; `--rerun-changed` moves the old runs aside and
retrains exactly those; the report and status count only results of the current settings."""
import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, TINY

from hpc_itt import targets
from hpc_itt.config.load import load_study
from hpc_itt.errors import UserError
from hpc_itt.study import plan, provenance

# Two cells (one target, one seed, both arms): enough to tell what reruns and what is kept.
SMALL = [*TINY, "seeds=[1]", "targets=[domain]"]


def submit(tmp, *args):
    cmd = [sys.executable, "launch/submit.py", "--cluster", "local", f"output_dir={tmp}/exp", f"logdir={tmp}/logs",
           *SMALL, *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)


def study_of(tmp, *extra):
    return load_study(None, [f"output_dir={tmp}/exp", f"logdir={tmp}/logs", *SMALL, *extra], cluster="local")


# ---- unit: records, states, diffs ---------------------------------------------------------------
def test_state_of_a_folder_follows_its_record(tmp_path):
    settings = {"target.lr": 0.001, "cell.seed": 1}
    assert provenance.state(tmp_path / "none", settings) == ("absent", [])
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "result.json").write_text("{}")
    assert provenance.state(tmp_path / "old", settings)[0] == "unrecorded"
    provenance.write_record(tmp_path / "run", settings)
    assert provenance.state(tmp_path / "run", settings) == ("current", [])
    found, changes = provenance.state(tmp_path / "run", dict(settings, **{"target.lr": 1e-5}))
    assert found == "changed" and changes == ["target.lr: 0.001 → 1e-05"]


def test_claim_refuses_a_folder_made_with_other_settings(tmp_path):
    provenance.claim(tmp_path / "cell", {"a": 1}, "cell x")
    provenance.claim(tmp_path / "cell", {"a": 1}, "cell x")  # same settings: ours to resume
    with pytest.raises(UserError, match=r"cell x: .* other settings \(a: 1 → 2\); rerun with --rerun-changed"):
        provenance.claim(tmp_path / "cell", {"a": 2}, "cell x")


def test_what_does_not_change_a_result_is_not_in_the_fingerprint(tmp_path):
    """Checkpoint and log frequency do not change what a run computes (resume is exact); the lr,
    the seed, the data split, the model and the world size do."""
    base = study_of(tmp_path)
    cell = plan.Cell("tiny-bert", "sentiment", "domain", "itt", 1)
    fp = provenance.fingerprint(provenance.Ledger(base).cell(cell))
    same = study_of(tmp_path, "target.save_every_steps=7", "target.log_every_steps=3", "intermediate.save_every_steps=9")
    assert provenance.fingerprint(provenance.Ledger(same).cell(cell)) == fp
    for change in ("target.lr=1e-4", "intermediate.epochs=5", "data.split_seed=3",
                   "target.max_train_examples=10", "data.train_fraction=0.6"):
        other = study_of(tmp_path, change)
        assert provenance.fingerprint(provenance.Ledger(other).cell(cell)) != fp, change
    # the world size changes the intermediate run; an ITT cell checks the checkpoint it starts from
    # instead (its sha256), so a target stage on another cluster shape still uses that checkpoint
    wider = provenance.Ledger(study_of(tmp_path, "cluster.tasks_per_node=4"))
    assert wider.intermediate("tiny-bert", "sentiment") != provenance.Ledger(base).intermediate("tiny-bert", "sentiment")
    assert provenance.fingerprint(wider.cell(cell)) == fp
    # the no-ITT arm does not depend on the intermediate settings
    plain = plan.Cell("tiny-bert", "sentiment", "domain", "no_itt", 1)
    assert provenance.Ledger(study_of(tmp_path, "intermediate.epochs=5")).cell(plain) == provenance.Ledger(base).cell(plain)


def test_model_identity_is_a_content_hash_for_local_folders(tmp_path, tiny_bert):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_bert, copy)
    assert provenance.folder_hash(str(copy)) == provenance.folder_hash(tiny_bert)
    (copy / "config.json").write_text((copy / "config.json").read_text().replace("2", "3", 1))
    provenance.folder_hash.cache_clear()
    assert provenance.folder_hash(str(copy)) != provenance.folder_hash(tiny_bert)


# ---- end to end: a finished tiny study, then reruns with other settings --------------------------
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_once(tmp_path_factory):
    """The tiny study run once per module; never handed to a test (they rerun, move and edit it)."""
    tmp = tmp_path_factory.mktemp("provenance")
    result = submit(tmp, "--stage", "all")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp


@pytest.fixture
def finished(finished_once, tmp_path):
    """A private copy of the finished study for each test: what one test reruns, moves aside or
    edits never reaches another, whatever order they run in. (Settings fingerprints hold no paths.)"""
    copy = tmp_path / "finished"
    shutil.copytree(finished_once, copy, symlinks=True)
    return copy


def _cell_metrics(tmp) -> dict:
    return {str(p.parent.relative_to(tmp / "exp" / "target")): json.loads(p.read_text())
            for p in sorted((tmp / "exp" / "target").glob("*/*/*/*/seed*/metrics.json"))}


@slow
def test_a_changed_setting_stops_with_one_line_naming_the_keys(finished):
    before = _cell_metrics(finished)
    result = submit(finished, "--stage", "all", "target.lr=1e-3", "intermediate.epochs=3")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "1 intermediate run(s) and 2 cell(s)" in lines[0]
    assert "intermediate.epochs" in lines[0] and "target.lr" in lines[0] and "--rerun-changed" in lines[0]
    assert not (finished / "exp" / provenance.SUPERSEDED).exists()
    assert _cell_metrics(finished) == before  # nothing retrained, nothing moved


@slow
def test_the_report_counts_only_results_of_the_current_settings(finished):
    result = submit(finished, "--stage", "report", "target.lr=1e-3")
    assert result.returncode == 0, result.stderr
    report = (finished / "exp" / "report" / "report.md").read_text()
    assert "2 cell(s) hold results made with other settings and are not counted (changed: target.lr)" in report
    assert "(n=0)" in report and "(n=1)" not in report  # no old number under the new settings
    assert "not counted" in (finished / "exp" / "report" / "summary.txt").read_text()
    again = submit(finished, "--stage", "report")
    assert again.returncode == 0 and "(n=1)" in (finished / "exp" / "report" / "report.md").read_text()


@slow
def test_rerun_changed_retrains_exactly_the_changed_runs(finished):
    before = _cell_metrics(finished)
    manifest = finished / "exp/intermediate/tiny-bert/sentiment/consolidated/manifest.json"
    manifest_before = manifest.read_text()
    result = submit(finished, "--stage", "all", "target.lr=1e-3", "--rerun-changed")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 cell(s) to run, 0 already done" in result.stdout
    assert manifest.read_text() == manifest_before  # the intermediate settings did not change: kept
    moved = sorted((finished / "exp" / "superseded").glob("*/target/*/*/*/*/seed*/metrics.json"))
    assert len(moved) == 2
    assert {str(p.parent.relative_to(p.parents[5])): json.loads(p.read_text()) for p in moved} == before
    assert len(list((finished / "exp" / "superseded").glob("*/tensorboard/target/*/*/*/*/seed*"))) == 2
    study = study_of(finished, "target.lr=1e-3")
    ledger = provenance.Ledger(study)
    for cell in targets.cells(study):
        record = provenance.read_record(plan.cell_dir(study, cell))
        assert record["settings"]["target.lr"] == 1e-3
        metrics = plan.read_metrics(study, cell)
        assert metrics["settings_fingerprint"] == record["fingerprint"] == provenance.fingerprint(ledger.cell(cell))
        assert (metrics["itt_checkpoint_sha256"] is not None) == (cell.arm == "itt")
        assert ledger.done(cell)
    again = submit(finished, "--stage", "all", "target.lr=1e-3")
    assert again.returncode == 0 and "0 cell(s) to run, 2 already done" in again.stdout


@slow
def test_an_itt_cell_made_from_another_checkpoint_is_not_current(finished):
    study = study_of(finished)  # the settings that made the cells: only the checkpoint differs
    cell = plan.Cell("tiny-bert", "sentiment", "domain", "itt", 1)
    path = plan.consolidated_dir(study, "tiny-bert", "sentiment") / "manifest.json"
    original = path.read_text()
    manifest = json.loads(original)
    manifest["files"]["model.safetensors"] = "0" * 64
    path.write_text(json.dumps(manifest))
    try:
        found, changes = provenance.Ledger(study).cell_state(cell)
        assert found == "changed" and changes[0].startswith("ITT checkpoint sha256:")
        assert provenance.Ledger(study).cell_state(plan.Cell("tiny-bert", "sentiment", "domain", "no_itt", 1))[0] \
            == "current"
    finally:
        path.write_text(original)
