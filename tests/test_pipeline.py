"""The main job end to end through the CLI and submitit's local executor, on a tiny model:
intermediate (2 processes) → consolidation → target grid (both arms, 2 seeds) → report; then a
rerun skips finished work and a lost cell is rerun alone."""
import json
import subprocess
import sys
import time

import pytest

from conftest import REPO, TINY, free_port

pytestmark = pytest.mark.slow

TB_TAGS = {"train/loss", "train/lr", "train/grad_norm", "train/samples_per_s", "train/tokens_per_s",
           "train/padded_fraction", "eval/accuracy", "test/accuracy"}


def submit(tmp, *args):
    cmd = [sys.executable, "launch/submit.py", "--cluster", "local", f"output_dir={tmp}/exp", f"logdir={tmp}/logs",
           *TINY, *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    started = time.time()
    result = submit(tmp, "--stage", "all")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp, result, time.time() - started


def cells(tmp):
    return sorted((tmp / "exp" / "target").glob("*/*/*/*/seed*"))


def test_all_stages_write_their_outputs(pipeline):
    tmp, result, _ = pipeline
    exp = tmp / "exp"
    manifest = json.loads((exp / "intermediate/tiny-bert/sentiment/consolidated/manifest.json").read_text())
    assert manifest["steps"] == 2 * (128 // (16 * 2)) and manifest["train_config"]["zero_stage"] == 2
    found = cells(tmp)
    assert len(found) == 8  # 2 targets x 2 arms x 2 seeds
    for cell in found:
        metrics = json.loads((cell / "metrics.json").read_text())
        assert (cell / "DONE").is_file() and 0 <= metrics["test"]["accuracy"] <= 1
        arm = cell.parent.name
        assert metrics["model_source"].endswith("consolidated") == (arm == "itt")
    report = (exp / "report" / "report.md").read_text()
    assert "Partial grid" not in report and report.count("| tiny-bert | sentiment |") == 2
    for name in ("report.csv", "report.tex", "summary.txt", "delta.png", "intermediate_curves.png"):
        assert (exp / "report" / name).is_file(), name
    assert "report.md" in result.stdout


def test_report_numbers_match_cell_metrics(pipeline):
    tmp, _, _ = pipeline
    import csv
    import statistics

    rows = list(csv.DictReader((tmp / "exp" / "report" / "report.csv").open()))
    for row in rows:
        for arm in ("itt", "no_itt"):
            values = [json.loads(p.read_text())["test"]["accuracy"] for p in
                      (tmp / "exp" / "target" / "tiny-bert" / "sentiment" / row["target"] / arm).glob("seed*/metrics.json")]
            assert float(row[f"{arm}_mean"]) == pytest.approx(statistics.fmean(values))
        assert float(row["delta"]) == pytest.approx(float(row["itt_mean"]) - float(row["no_itt_mean"]))


def test_tensorboard_tree_has_every_run_and_scalar(pipeline):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tmp, _, _ = pipeline
    root = tmp / "logs" / "quickstart"
    runs = sorted({p.parent for p in root.rglob("events.out.tfevents.*")})
    assert len(runs) == 1 + 8
    intermediate = root / "intermediate" / "tiny-bert" / "sentiment"
    assert len(list(intermediate.glob("events.out.tfevents.*"))) == 1  # rank 0 only
    for run in runs:
        acc = EventAccumulator(str(run))
        acc.Reload()
        assert TB_TAGS <= set(acc.Tags()["scalars"]), run
        losses = [e.value for e in acc.Scalars("train/loss")]
        assert len(losses) >= 2
        if "target" in run.parts:  # every cell: HParams with its final metrics, in its own run
            from tensorboard.plugins.hparams import plugin_data_pb2

            content = acc.PluginTagToContent("hparams")
            session = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
            params = dict(session.session_start_info.hparams)
            assert params["arm"].string_value == run.parent.name and params["seed"].number_value == int(run.name[4:])
            assert "hparam/test_accuracy" in acc.Tags()["scalars"]


def test_rerun_skips_finished_work_and_reruns_only_a_lost_cell(pipeline):
    tmp, _, first_seconds = pipeline
    before = {c: (c / "metrics.json").read_text() for c in cells(tmp)}
    again = submit(tmp, "--stage", "all")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "target grid: 0 cell(s) to run, 8 already done" in again.stdout
    assert "intermediate tiny-bert" not in again.stdout  # consolidated: not submitted again
    assert {c: (c / "metrics.json").read_text() for c in cells(tmp)} == before
    lost = cells(tmp)[0]
    (lost / "DONE").unlink()
    (lost / "metrics.json").unlink()
    (lost / "result.json").unlink()
    status = submit(tmp, "--stage", "status")
    assert "8 cells — 7 done, 1 incomplete" in status.stdout and f"incomplete {lost.relative_to(tmp / 'exp' / 'target')}" in status.stdout
    rerun = submit(tmp, "--stage", "target")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "target grid: 1 cell(s) to run, 7 already done" in rerun.stdout
    assert (lost / "metrics.json").read_text() == before[lost]  # same seed, same data: same numbers


def test_debug_cluster_runs_everything_in_process(tmp_path):
    result = subprocess.run([sys.executable, "launch/submit.py", "--cluster", "debug", "--stage", "all",
                             f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs", *TINY, "targets=[domain]",
                             "seeds=[1]"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list((tmp_path / "exp" / "target").glob("*/*/*/*/seed1/DONE"))) == 2
    assert "(n=1)" in (tmp_path / "exp" / "report" / "report.md").read_text()


def _runs(base: str) -> list:
    import urllib.request

    try:
        return json.loads(urllib.request.urlopen(f"{base}/data/runs", timeout=5).read())
    except OSError:
        return []


@pytest.fixture(scope="module")
def tensorboard(pipeline):
    """`--stage tensorboard` over the pipeline's logs: (base url, port)."""
    tmp, _, _ = pipeline
    port = free_port()
    server = subprocess.Popen([sys.executable, "launch/submit.py", "--stage", "tensorboard", "--port", str(port),
                               f"output_dir={tmp}/exp", f"logdir={tmp}/logs"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and len(_runs(base)) < 9:  # it reads the event files in the background
        time.sleep(1)
    yield base, port
    server.terminate()
    server.wait(timeout=30)


def test_tensorboard_server_serves_every_run(tensorboard):
    """The real server over the pipeline's logs, read through its HTTP API, bound to 127.0.0.1."""
    import urllib.request

    base, port = tensorboard
    runs = _runs(base)
    assert len(runs) == 9, runs
    assert "intermediate/tiny-bert/sentiment" in runs and "target/tiny-bert/sentiment/domain/itt/seed1" in runs
    tags = json.loads(urllib.request.urlopen(f"{base}/data/plugin/scalars/tags", timeout=10).read())
    assert all("train/loss" in tags[run] for run in runs)
    loss = json.loads(urllib.request.urlopen(
        f"{base}/data/plugin/scalars/scalars?run=intermediate/tiny-bert/sentiment&tag=train/loss", timeout=10).read())
    assert len(loss) >= 2  # [wall_time, step, value] rows
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert listening and all("127.0.0.1:" in line for line in listening.splitlines())


def chromium() -> str:
    """Debian's chromium, installed on first use (root + apt), like the local Slurm."""
    import os
    import shutil

    if shutil.which("chromium") is None:
        if os.geteuid() != 0:
            pytest.skip("chromium is not installed and installing it needs root")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], check=True,
                       capture_output=True, timeout=600)
        # Debian's path: PATH may be a snapshot of folders taken before the install (.ci/without-slurm)
        return shutil.which("chromium") or "/usr/bin/chromium"
    return shutil.which("chromium")


def test_tensorboard_page_renders_the_runs_in_headless_chromium(tensorboard, tmp_path):
    base, _ = tensorboard
    flags = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1400,1000", "--virtual-time-budget=20000"]
    shot = tmp_path / "tensorboard.png"
    subprocess.run([*flags, f"--user-data-dir={tmp_path / 'p1'}", f"--screenshot={shot}", f"{base}/#timeseries"],
                   check=True, capture_output=True, timeout=180)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 30_000  # not a blank page
    dom = subprocess.run([*flags, f"--user-data-dir={tmp_path / 'p2'}", "--dump-dom", f"{base}/#timeseries"],
                         check=True, capture_output=True, text=True, timeout=180).stdout
    for run in ("intermediate/tiny-bert/sentiment", "target/tiny-bert/sentiment/domain/itt/seed1",
                "target/tiny-bert/sentiment/crosslingual/no_itt/seed2"):
        assert run in dom, run  # the run selector lists every run
