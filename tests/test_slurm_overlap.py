"""Resubmissions on the real local Slurm that overlap jobs still in flight submit nothing twice: an
intermediate run or a cell whose recorded job is pending or running (squeue) is skipped, and
`--stage status` shows it as queued."""
import re
import subprocess
import time

import pytest

from slurm_cluster import slurm_cluster, wait_state  # noqa: F401 - the fixture
from test_slurm_pipeline import job_ids, submit, wait_for_file

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _live(ids: list[str]) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T"], capture_output=True, text=True, timeout=30).stdout
    return [line for line in out.split() if line.split("|")[0].split("_")[0] in ids]


def test_resubmitting_all_while_the_chain_is_queued_submits_nothing(slurm_cluster, tmp_path):  # noqa: F811
    first = submit(tmp_path, "--stage", "all", "cluster.extra_sbatch={begin: now+1hour}")  # stays pending
    submitted = re.findall(r"submitted [a-z]+ (?:job|array) (\d+)", first)
    try:
        intermediate = job_ids(first, "intermediate")[0].rstrip(":")
        assert len(submitted) == 4
        second = submit(tmp_path, "--stage", "all")
        assert "submitted " not in second, second
        assert f"intermediate tiny-bert/sentiment: intermediate job {intermediate}" in second
        assert "8 cell(s) already queued or running: skipped" in second
        status = submit(tmp_path, "--stage", "status")
        assert f"intermediate tiny-bert/sentiment: intermediate job {intermediate} pending" in status
        assert "8 pending" in status
        assert len(_live(submitted)) == 1 + 1 + 8 + 1  # one of each, nothing queued twice
    finally:
        subprocess.run(["scancel", *submitted], check=False)


def test_resubmitting_target_while_the_array_runs_submits_nothing_for_cells_in_flight(slurm_cluster, tmp_path):  # noqa: F811
    first = submit(tmp_path, "--stage", "all", "cluster.array_parallelism=1")
    array = first.split("submitted target array ")[1].split(":")[0]
    deadline = time.time() + 600
    while not any(line.endswith("|RUNNING") for line in _live([array])):
        assert time.time() < deadline, "the target array never ran"
        time.sleep(0.5)
    again = submit(tmp_path, "--stage", "target")
    assert "submitted target array" not in again, again
    assert "already queued or running: skipped" in again
    wait_for_file(tmp_path / "exp" / "report" / "report.md", timeout=900)
    status = submit(tmp_path, "--stage", "status")
    assert "8 cells — 8 done" in status and "intermediate tiny-bert/sentiment: consolidated" in status
    jobs = sorted((tmp_path / "exp" / "jobs" / "target").rglob("*_result.pkl"))
    assert len(jobs) == 8  # one array task per cell, none twice
