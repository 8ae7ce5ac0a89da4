"""`--cluster slurm` on a real (local, one-node) Slurm: the whole chain submitted at once, results
equal to `--cluster local`; a preempted intermediate job resumes to the same weights; a failed
cell is reported and resubmitted alone; a cancelled one is reported, nothing hangs."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY, free_port
from slurm_cluster import preempt, slurm_cluster, wait_state  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def submit(tmp, *args, cluster=("--cluster", "slurm", "--profile", "local-slurm"), timeout=600):
    cmd = [sys.executable, "launch/submit.py", *cluster, f"output_dir={tmp}/exp", f"logdir={tmp}/logs", *TINY, *args]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def job_ids(stdout: str, what: str) -> list[str]:
    return [line.split("job ")[1].split()[0] for line in stdout.splitlines() if f"submitted {what}" in line]


def wait_for_file(path: Path, timeout: float) -> float:
    started = time.time()
    while not path.is_file():
        assert time.time() - started < timeout, f"{path} did not appear within {timeout} s"
        time.sleep(0.5)
    return time.time() - started


def cell_metrics(exp: Path) -> dict:
    return {str(p.parent.relative_to(exp)): json.loads(p.read_text())["test"]
            for p in sorted((exp / "target").glob("*/*/*/*/seed*/metrics.json"))}


@pytest.fixture(scope="module")
def chain(slurm_cluster, tmp_path_factory):  # noqa: F811
    tmp = tmp_path_factory.mktemp("slurm_chain")
    started = time.time()
    out = submit(tmp, "--stage", "all")
    returned = time.time() - started
    report = tmp / "exp" / "report" / "report.md"
    wait_for_file(report, timeout=900)
    return tmp, out, returned, time.time() - started


def test_chain_is_submitted_at_once_and_returns(chain):
    tmp, out, returned, finished = chain
    assert len(job_ids(out, "intermediate")) == 1 and len(job_ids(out, "consolidation")) == 1
    assert "aftercorr:" in out and out.count("submitted ") == 4  # 4 sbatch calls for the whole chain
    assert "submitted target array" in out and "8 cell(s)" in out and "afterok:" in out
    # prepare (tokenize + the offline readiness check in a fresh process) runs first, then 4 sbatch calls
    assert returned < 60 and finished > returned + 20  # the command does not wait for the jobs
    intermediate = job_ids(out, "intermediate")[0]
    times = subprocess.run(["sacct", "-n", "-X", "--parsable2", "-o", "JobID,Submit,Start", "-j", intermediate],
                           capture_output=True, text=True).stdout.split()[0].split("|")
    from datetime import datetime

    latency = (datetime.fromisoformat(times[2]) - datetime.fromisoformat(times[1])).total_seconds()
    assert latency < 60
    snapshots = list((tmp / "exp" / "code").glob("*/hpc_itt/study/stages.py"))
    assert len(snapshots) == 1  # jobs run from a copy of the code taken at submission
    workdir = subprocess.run(["sacct", "-n", "-X", "--parsable2", "-o", "WorkDir", "-j", intermediate],
                             capture_output=True, text=True).stdout.split()[0]
    assert workdir == str(snapshots[0].parents[2])  # <snapshot>/hpc_itt/study/stages.py
    print(f"\nslurm chain: submit returned after {returned:.1f} s, intermediate submit-to-start {latency:.0f} s "
          f"(sacct, 1 s resolution), report written after {finished:.1f} s")


def test_chain_results_equal_local_run(chain, tmp_path):
    tmp, _, _, _ = chain
    submit(tmp_path, "--stage", "all", cluster=("--cluster", "local"))
    assert cell_metrics(tmp / "exp") == cell_metrics(tmp_path / "exp")
    slurm_manifest = json.loads((tmp / "exp/intermediate/tiny-bert/sentiment/consolidated/manifest.json").read_text())
    local_manifest = json.loads((tmp_path / "exp/intermediate/tiny-bert/sentiment/consolidated/manifest.json").read_text())
    assert slurm_manifest["files"]["model.safetensors"] == local_manifest["files"]["model.safetensors"]


def test_failed_cell_is_reported_and_resubmitted_alone(chain):
    tmp, _, _, _ = chain
    exp = tmp / "exp"
    weights = exp / "intermediate/tiny-bert/sentiment/consolidated/model.safetensors"
    lost = [exp / "target/tiny-bert/sentiment/domain/itt/seed1", exp / "target/tiny-bert/sentiment/domain/no_itt/seed1"]
    for cell in lost:
        for name in ("DONE", "metrics.json", "result.json"):
            (cell / name).unlink()
    weights.rename(weights.with_suffix(".moved"))  # the ITT cell cannot load its encoder: it fails
    (exp / "report" / "report.md").unlink()
    out = submit(tmp, "--stage", "target")
    assert "2 cell(s)" in out
    wait_for_file(exp / "report" / "report.md", timeout=300)
    status = submit(tmp, "--stage", "status")
    assert "1 failed" in status and "7 done" in status
    failed_line = next(line for line in status.splitlines() if "failed" in line and "itt/seed1" in line)
    assert "domain/itt/seed1" in failed_line and "log " in failed_line
    assert "Partial grid: 1 cell(s)" in (exp / "report" / "report.md").read_text()
    weights.with_suffix(".moved").rename(weights)
    (exp / "report" / "report.md").unlink()
    out = submit(tmp, "--stage", "target")
    assert "1 cell(s)" in out
    wait_for_file(exp / "report" / "report.md", timeout=300)
    assert "8 cells — 8 done" in submit(tmp, "--stage", "status")


def test_cancelled_cell_is_reported_without_hanging(chain):
    tmp, _, _, _ = chain
    cell = tmp / "exp" / "target/tiny-bert/sentiment/crosslingual/no_itt/seed2"
    kept = {name: (cell / name).read_bytes() for name in ("DONE", "metrics.json", "result.json", "job.json")}
    for name in ("DONE", "metrics.json", "result.json"):
        (cell / name).unlink()
    try:
        _cancel_and_read_status(tmp)
    finally:  # the module's chain is whole again for the tests after this one, in any order
        for name, data in kept.items():
            (cell / name).write_bytes(data)
    assert "8 cells — 8 done" in submit(tmp, "--stage", "status")


def _cancel_and_read_status(tmp):
    out = submit(tmp, "--stage", "target", "cluster.extra_sbatch={begin: now+1hour}")  # stays pending
    array = out.split("submitted target array ")[1].split(":")[0]
    subprocess.run(["scancel", array], check=True)
    deadline = time.time() + 60
    while True:  # sacct learns of the cancellation asynchronously
        started = time.time()
        status = submit(tmp, "--stage", "status")
        assert time.time() - started < 30  # reading a cancelled job never hangs
        if "1 cancelled" in status or time.time() > deadline:
            break
        time.sleep(2)
    assert "1 cancelled" in status and "cancelled crosslingual" not in status
    assert next(line for line in status.splitlines() if "cancelled " in line).split()[1] == \
        "tiny-bert/sentiment/crosslingual/no_itt/seed2"


def test_preempted_intermediate_job_resumes_to_the_same_weights(slurm_cluster, tmp_path):  # noqa: F811
    """preempt(job) = Slurm preemption signal: rank 0 requeues, all ranks are killed, the
    requeued job resumes from the last all-rank checkpoint. Final weights equal an uninterrupted run."""
    from hpc_itt import backends
    from hpc_itt.backends.base import JobShape
    from hpc_itt.config.load import load_study
    from hpc_itt.study import plan
    from hpc_itt.study.stages import IntermediateStage

    overrides = ["models=[minilm-l2]", "intermediate.epochs=1", "intermediate.max_train_examples=1280",
                 "intermediate.save_every_steps=4", "intermediate.max_length=32", "intermediate.select=last"]
    reference = load_study(None, [f"output_dir={tmp_path}/ref", f"logdir={tmp_path}/logs", *overrides], cluster="local")
    preempted = load_study(None, [f"output_dir={tmp_path}/pre", f"logdir={tmp_path}/logs", *overrides],
                           profile="local-slurm")
    source = plan.model_sources(reference)["minilm-l2"]
    executor = backends.of(preempted.cluster).executor(preempted.cluster, tmp_path / "jobs" / "%j",
                                                   JobShape.distributed(preempted.cluster), "preempt-test")
    job = executor.submit(IntermediateStage(preempted, "minilm-l2", "sentiment", source))
    latest = plan.intermediate_dir(preempted, "minilm-l2", "sentiment") / "checkpoints" / "latest"
    wait_for_file(latest, timeout=300)
    interrupted_at = time.time()
    preempt(job)  # preemption (timeout_min=60 > 10: counted as preemption, not timeout)
    wait_state(job.job_id, ("PENDING", "REQUEUED"), timeout=60)
    wait_state(job.job_id, "RUNNING", timeout=120)
    print(f"\nrequeue: signal to running again {time.time() - interrupted_at:.1f} s")
    result = job.results()[0]
    restarts = subprocess.run(["scontrol", "show", "job", str(job.job_id)], capture_output=True, text=True).stdout
    assert "Restarts=1" in restarts or "Restarts=2" in restarts
    local = backends.of(reference.cluster).executor(reference.cluster, tmp_path / "ref-jobs" / "%j",
                                                 JobShape.distributed(reference.cluster), "reference")
    expected = local.submit(IntermediateStage(reference, "minilm-l2", "sentiment", source)).results()[0]
    assert result["steps"] == expected["steps"] and result["test"] == expected["test"]

    def final_weights(study):
        ckpt = plan.intermediate_dir(study, "minilm-l2", "sentiment") / "checkpoints"
        tag = (ckpt / "latest").read_text()
        return torch.load(ckpt / tag / "mp_rank_00_model_states.pt", weights_only=True)["module"]

    got, want = final_weights(preempted), final_weights(reference)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_tensorboard_job_prints_how_to_reach_it(chain):
    import urllib.request

    tmp, _, _, _ = chain
    port = free_port()
    out = submit(tmp, "--stage", "tensorboard", "--port", str(port))
    job_id = out.split("submitted TensorBoard job ")[1].split(";")[0]
    log = Path(out.split("its log shows the ssh command: ")[1].split()[0].replace("%j", job_id))
    try:
        wait_state(job_id, "RUNNING", timeout=60)
        deadline = time.time() + 90
        while time.time() < deadline and "ssh -N -L" not in (log.read_text() if log.is_file() else ""):
            time.sleep(1)
        line = next(x for x in log.read_text().splitlines() if "ssh -N -L" in x)
        assert f"-L {port}:127.0.0.1:{port}" in line
        runs = []
        while time.time() < deadline and not runs:
            try:
                runs = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=5).read())
            except OSError:
                time.sleep(1)
        assert "intermediate/tiny-bert/sentiment" in runs
    finally:
        subprocess.run(["scancel", job_id])
