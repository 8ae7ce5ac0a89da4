"""Multi-node for real: a two-node Slurm on this machine (`slurm/local/start.sh --nodes 2`, each
node a network namespace with its own hostname and address) running the intermediate job across
both nodes; results equal to one-node runs of the same world size; a two-node preemption; a node
that dies mid-job; and an elastic resume through the real requeue (2 processes → 1).

The cluster has its own base folder and ports, beside the one-node cluster the other Slurm tests
use; it is stopped (namespaces and bridge removed) when the module ends.
"""
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY
from slurm_cluster import STOP, preempt, start_cluster, wait_state

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

BASE, PORT_BASE = "/tmp/hpc-itt-slurm-2n", 6827
PROFILE = ("--cluster", "slurm", "--profile", "local-slurm-2n")
SCRIPTS = REPO / "slurm" / "local"


@pytest.fixture(scope="module")
def two_nodes():
    cluster = start_cluster(base=BASE, nodes=2, port_base=PORT_BASE)
    old = os.environ.get("SLURM_CONF")
    os.environ.update(cluster.env)
    try:
        yield cluster
    finally:
        env = dict(os.environ, SLURM_LOCAL_BASE=BASE)
        subprocess.run(["bash", str(STOP)], env=env, capture_output=True, timeout=300)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def run(cmd, timeout=120, check=True, **kw) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert not check or result.returncode == 0, f"{cmd}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result.stdout


def submit(tmp, *args, cluster=PROFILE, timeout=600) -> str:
    return run([sys.executable, "launch/submit.py", *cluster, f"output_dir={tmp}/exp", f"logdir={tmp}/logs",
                *TINY, *args], timeout=timeout, cwd=REPO)


def job_ids(stdout: str, what: str) -> list[str]:
    return [line.split("job ")[1].split()[0] for line in stdout.splitlines() if f"submitted {what}" in line]


def wait_for(predicate, timeout: float, what: str, poll: float = 0.5):
    deadline = time.time() + timeout
    while not (value := predicate()):
        assert time.time() < deadline, f"{what} not within {timeout} s"
        time.sleep(poll)
    return value


def joined(log_dir: Path) -> list[tuple[int, str, float]]:
    """(rank, host, time) of every 'joined the process group' line in a job's logs."""
    found = []
    for log in Path(log_dir).rglob("*_log.out"):
        for m in re.finditer(r"hpc_itt: rank (\d+)/\d+ on (\S+) joined the process group .* at ([\d.]+)", log.read_text()):
            found.append((int(m[1]), m[2], float(m[3])))
    return found


def weights(exp: Path, model: str = "tiny-bert") -> dict:
    ckpt = exp / "intermediate" / model / "sentiment" / "checkpoints"
    tag = (ckpt / "latest").read_text()
    files = sorted((ckpt / tag).glob("*model_states.pt"))
    return torch.load(files[0], weights_only=True)["module"]


def consolidated_sha(exp: Path) -> str:
    return json.loads((exp / "intermediate/tiny-bert/sentiment/consolidated/manifest.json").read_text())["files"]["model.safetensors"]


def cell_metrics(exp: Path) -> dict:
    return {str(p.parent.relative_to(exp)): json.loads(p.read_text())["test"]
            for p in sorted((exp / "target").glob("*/*/*/*/seed*/metrics.json"))}


def submit_time(job_id: str) -> float:
    out = run(["sacct", "-n", "-X", "--parsable2", "-o", "JobID,Submit", "-j", job_id]).split()[0]
    return datetime.fromisoformat(out.split("|")[1]).timestamp()


def test_two_idle_nodes_with_their_own_hostnames_and_addresses(two_nodes):
    nodes = dict(line.split() for line in run(["sinfo", "-h", "-N", "-o", "%N %T"]).splitlines())
    assert nodes == {"node1": "idle", "node2": "idle"}, nodes
    hosts = run(["srun", "-N2", "--ntasks-per-node=1", "-l", "bash", "-c",
                 "echo $(hostname) $(getent ahostsv4 $(hostname) | awk 'NR==1{print $1}') $(getent hosts node1)"])
    rows = sorted(line.split(": ", 1)[1].split() for line in hosts.splitlines())
    assert [r[0] for r in rows] == ["node1", "node2"]
    assert [r[1] for r in rows] == ["10.217.0.11", "10.217.0.12"]  # each node resolves itself to its own address
    assert all(r[2] == "10.217.0.11" for r in rows)  # and the other node's name
    # slurmctld and slurmdbd listen on the bridge address only, MariaDB on loopback, nothing on a
    # wildcard address; the slurmds listen inside their own namespaces (not visible here)
    listening = two_nodes.listening()
    assert {name: sorted(addrs) for name, addrs in listening.items()} == {
        "slurmctld": [f"10.217.0.1:{PORT_BASE}"], "slurmdbd": [f"10.217.0.1:{PORT_BASE + 2}"],
        "mariadbd": [f"127.0.0.1:{PORT_BASE + 3}"]}, listening


@pytest.fixture(scope="module")
def chain(two_nodes, tmp_path_factory):
    """The whole chain with the intermediate job on two nodes (1 process each, ZeRO-2 bf16, gloo)."""
    tmp = tmp_path_factory.mktemp("two_node_chain")
    started = time.time()
    out = submit(tmp, "--stage", "all")
    wait_for(lambda: (tmp / "exp" / "report" / "report.md").is_file(), 1200, "the report")
    return tmp, out, time.time() - started


def test_chain_across_two_nodes_equals_the_one_node_run(chain, tmp_path):
    tmp, out, seconds = chain
    intermediate = job_ids(out, "intermediate")[0]
    ranks = joined(tmp / "exp" / "jobs")
    mine = [r for r in ranks if r[2] >= submit_time(intermediate) - 1]
    assert sorted((rank, host) for rank, host, _ in mine)[:2] == [(0, "node1"), (1, "node2")], ranks
    to_group = max(t for _, _, t in mine[:2]) - submit_time(intermediate)
    print(f"\ntwo-node chain: report after {seconds:.0f} s; submission to both ranks in the process group "
          f"{to_group:.1f} s (sacct submit time, 1 s resolution)")
    result = json.loads((tmp / "exp/intermediate/tiny-bert/sentiment/result.json").read_text())
    assert result["world_size"] == 2
    # the same world size and seeds on one node (submitit's local executor, 2 processes): bit-identical
    submit(tmp_path, "--stage", "all", "cluster.nodes=1", "cluster.tasks_per_node=2", cluster=("--cluster", "local"))
    assert consolidated_sha(tmp / "exp") == consolidated_sha(tmp_path / "exp")
    assert cell_metrics(tmp / "exp") == cell_metrics(tmp_path / "exp") and len(cell_metrics(tmp / "exp")) == 8


def test_two_processes_per_node_equal_four_on_one_node(two_nodes, tmp_path):
    """4 ranks, 2 per node: ranks 0-1 on node1, 2-3 on node2; weights equal a 4-process one-node run."""
    submit(tmp_path / "a", "--stage", "intermediate", "cluster.tasks_per_node=2")
    result = tmp_path / "a/exp/intermediate/tiny-bert/sentiment/result.json"
    wait_for(result.is_file, 600, "the 4-rank intermediate result")
    hosts = sorted((rank, host) for rank, host, _ in joined(tmp_path / "a/exp/jobs"))
    assert hosts == [(0, "node1"), (1, "node1"), (2, "node2"), (3, "node2")], hosts
    submit(tmp_path / "b", "--stage", "intermediate", "cluster.nodes=1", "cluster.tasks_per_node=4",
           cluster=("--cluster", "local"))
    got, want = weights(tmp_path / "a/exp"), weights(tmp_path / "b/exp")
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def _stage(tmp: Path, *overrides, profile="local-slurm-2n"):
    from hpc_itt import backends
    from hpc_itt.backends.base import JobShape
    from hpc_itt.config.load import load_study
    from hpc_itt.study import plan
    from hpc_itt.study.stages import IntermediateStage

    settings = [*TINY, "intermediate.epochs=1", "intermediate.max_train_examples=640", "intermediate.save_every_steps=4",
                "intermediate.select=last", *overrides]
    study = load_study(None, [f"output_dir={tmp}/exp", f"logdir={tmp}/logs", *settings],
                       **({"profile": profile} if profile else {"cluster": "local"}))
    source = plan.model_sources(study)["tiny-bert"]
    executor = backends.of(study.cluster).executor(study.cluster, tmp / "jobs" / "%j",
                                                JobShape.distributed(study.cluster), "multinode-test")
    latest = plan.intermediate_dir(study, "tiny-bert", "sentiment") / "checkpoints" / "latest"
    return executor, IntermediateStage(study, "tiny-bert", "sentiment", source), latest


def test_preempted_two_node_job_resumes_to_the_same_weights(two_nodes, tmp_path):
    executor, stage, latest = _stage(tmp_path / "pre")
    job = executor.submit(stage)
    wait_for(latest.is_file, 300, "the first checkpoint")
    interrupted = time.time()
    preempt(job)  # Slurm's preemption signal: rank 0 requeues, both nodes' ranks are killed
    wait_state(job.job_id, ("PENDING", "REQUEUED"), timeout=60)
    wait_state(job.job_id, "RUNNING", timeout=120)
    requeue = time.time() - interrupted
    result = job.results()[0]
    assert "Restarts=1" in run(["scontrol", "show", "job", str(job.job_id)])
    local, reference, _ = _stage(tmp_path / "ref", profile=None)
    expected = local.submit(reference).results()[0]
    assert result["steps"] == expected["steps"] and result["test"] == expected["test"]
    got, want = weights(tmp_path / "pre/exp"), weights(tmp_path / "ref/exp")
    assert all(torch.equal(got[k], want[k]) for k in want)
    print(f"\ntwo-node requeue: preemption signal to running again on both nodes {requeue:.1f} s")


def test_a_dead_node_fails_the_job_and_the_rerun_resumes(two_nodes, tmp_path):
    """node2 loses power mid-job (every process in its namespace SIGKILLed): the job ends or is
    requeued, never hangs; node2 comes back; the rerun resumes from the last complete checkpoint."""
    executor, stage, latest = _stage(tmp_path / "dead")
    job = executor.submit(stage)
    wait_for(latest.is_file, 300, "the first checkpoint")
    killed = time.time()
    run(["bash", str(SCRIPTS / "kill-node.sh"), "node2"], env=dict(os.environ, SLURM_LOCAL_BASE=BASE))
    state = wait_state(job.job_id, ("FAILED", "NODE_FAIL", "PENDING", "REQUEUED", "CANCELLED"), timeout=120)
    detected = time.time() - killed
    start_cluster(base=BASE, nodes=2, port_base=PORT_BASE)  # brings node2 back
    back = time.time() - killed
    if state in ("PENDING", "REQUEUED"):
        # Slurm requeued it (node failure) and it resumes by itself once node2 is back. submitit's
        # job.result() would already report rank 0's "connection reset" from the first run.
        wait_state(job.job_id, "COMPLETED", timeout=600)
    else:  # it failed: the user reruns the stage
        executor.submit(stage).results()
    saved = json.loads((latest.parent.parent / "result.json").read_text())
    assert saved["resumed_from_step"] >= 4  # from the last complete checkpoint, not from scratch
    local, reference, _ = _stage(tmp_path / "ref", profile=None)
    local.submit(reference).results()
    got, want = weights(tmp_path / "dead/exp"), weights(tmp_path / "ref/exp")
    assert all(torch.equal(got[k], want[k]) for k in want)
    print(f"\ndead node: job {state} {detected:.1f} s after node2 died; node2 idle again after {back:.1f} s; "
          f"rerun resumed from step {saved['resumed_from_step']}")


def test_requeued_on_another_node_count_the_job_converts_its_checkpoint(two_nodes, tmp_path):
    """Elastic through the real requeue: a job that may run on 1-2 nodes (cluster.min_nodes=1,
    `sbatch --nodes=1-2`) is preempted after its first checkpoint, and while it waits its node
    count is changed (`scontrol update NumNodes`, as an admin or a shrinking partition would): the
    requeued job finds a checkpoint of another world size, converts it once and continues on the
    same samples as an uninterrupted run at the new size."""
    from hpc_itt.train import elastic

    settings = ("intermediate.global_batch_size=16", "intermediate.micro_batch_size=8", "intermediate.log_every_steps=1")
    executor, stage, latest = _stage(tmp_path / "el", *settings, "cluster.min_nodes=1")
    job = executor.submit(stage)
    wait_for(latest.is_file, 300, "the first checkpoint")
    old = elastic.read_meta(latest.parent / latest.read_text())["world_size"]  # Slurm picks 1 or 2 nodes
    new = 3 - old
    preempt(job)
    wait_state(job.job_id, ("PENDING", "REQUEUED"), timeout=60)
    run(["scontrol", "update", f"JobId={job.job_id}", f"NumNodes={new}"])
    wait_state(job.job_id, "COMPLETED", timeout=600)
    saved = json.loads((latest.parent.parent / "result.json").read_text())
    assert saved["world_size"] == new and saved["resumed_from_step"] >= 4
    assert elastic.read_meta(latest.parent / latest.read_text())["world_size"] == new
    # the reference: the same settings, uninterrupted, at the new size
    nodes = [f"cluster.nodes={new}"]
    ref_executor, reference, _ = _stage(tmp_path / "ref", *settings, *nodes)
    ref_executor.submit(reference).results()

    def steplog(tmp):
        path = tmp / "exp/intermediate/tiny-bert/sentiment/train_log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    ours, theirs = steplog(tmp_path / "el"), steplog(tmp_path / "ref")
    assert [r["step"] for r in ours] == [r["step"] for r in theirs] and len(ours) == saved["steps"]
    assert [r["samples_sha256"] for r in ours] == [r["samples_sha256"] for r in theirs]
    after = [abs(a["loss"] - b["loss"]) for a, b in zip(ours, theirs)][saved["resumed_from_step"]:]
    assert max(after) < 2e-2, after  # bf16; the exact tolerances per case are in test_elastic.py
    print(f"\nelastic requeue {old} -> {new} node(s): resumed from step {saved['resumed_from_step']}, max |loss "
          f"diff| {max(after):.2e} over the {len(after)} steps after it, against an uninterrupted run on {new}")
