"""Smoke tests: submitit against the real local Slurm cluster (slurm/local/start.sh)."""
from __future__ import annotations

import os
import socket
import sys
import threading
import time

import cloudpickle
import pytest
import submitit

try:
    from slurm_cluster import preempt, slurm_cluster, wait_state  # noqa: F401  (tests/ on sys.path)
except ImportError:  # e.g. --import-mode=importlib with the repo root on sys.path
    from tests.slurm_cluster import preempt, slurm_cluster, wait_state  # noqa: F401

pytestmark = pytest.mark.slurm

# Jobs unpickle their callable in a fresh interpreter that cannot import this test module:
# ship its functions and classes by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def add(x, y):
    return x + y


def square(x):
    time.sleep(0.2)
    return x * x


def sleeper(seconds):
    time.sleep(seconds)
    return "slept"


def rank_info():
    env = submitit.JobEnvironment()
    return {"global_rank": env.global_rank, "local_rank": env.local_rank, "num_tasks": env.num_tasks,
            "num_nodes": env.num_nodes, "job_id": env.job_id}


class Counter(submitit.helpers.Checkpointable):
    """Counts to n, 0.25 s per step; self.i survives a requeue through checkpoint()."""

    def __init__(self, n):
        self.n = n
        self.i = 0
        self.restarts = []

    def __call__(self):
        self.restarts.append(int(os.environ.get("SLURM_RESTART_COUNT", "0")))
        while self.i < self.n:
            self.i += 1
            time.sleep(0.25)
        return {"i": self.i, "restarts": self.restarts}


def test_daemons_listen_on_loopback_only(slurm_cluster):
    # start.sh binds to what this host's name resolves to (Slurm 22.05 has no listen address)
    if not socket.gethostbyname(socket.gethostname()).startswith("127."):
        pytest.skip("this host's name resolves to a non-loopback address: the daemons listen on all")
    listening = slurm_cluster.listening()
    assert {"slurmctld", "slurmd", "slurmdbd"} <= set(listening), listening
    assert all(a.startswith("127.") for addrs in listening.values() for a in addrs), listening


def test_single_job(slurm_cluster, tmp_path):
    job = slurm_cluster.executor(tmp_path / "%j").submit(add, 2, 3)
    assert job.result() == 5


def test_array_with_parallelism(slurm_cluster, tmp_path):
    ex = slurm_cluster.executor(tmp_path / "%j", slurm_array_parallelism=2)
    jobs = ex.map_array(square, range(4))
    assert [j.result() for j in jobs] == [0, 1, 4, 9]
    array_id = jobs[0].job_id.split("_")[0]
    script = (tmp_path / array_id / f"{array_id}_submission.sh").read_text()  # %j -> array id
    assert "#SBATCH --array=0-3%2" in script


def test_two_tasks_see_two_ranks(slurm_cluster, tmp_path):
    ex = slurm_cluster.executor(tmp_path / "%j", nodes=1, tasks_per_node=2, cpus_per_task=1)
    results = ex.submit(rank_info).results()
    assert sorted(r["global_rank"] for r in results) == [0, 1]
    assert sorted(r["local_rank"] for r in results) == [0, 1]
    assert all(r["num_tasks"] == 2 and r["num_nodes"] == 1 for r in results)


def test_cancelled_job_raises_without_hanging(slurm_cluster, tmp_path):
    job = slurm_cluster.executor(tmp_path / "%j").submit(sleeper, 300)
    wait_state(job.job_id, "RUNNING", timeout=60)
    t0 = time.monotonic()
    job.cancel()
    outcome = {}

    def collect():
        try:
            outcome["result"] = job.result()
        except BaseException as e:  # noqa: BLE001 - reported below
            outcome["error"] = e

    # result() would loop forever without accounting (sacct); a daemon thread keeps a hang from
    # blocking the interpreter, the join bounds the test.
    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "job.result() still blocked 60 s after scancel"
    assert isinstance(outcome.get("error"), submitit.core.utils.UncompletedJobError), outcome
    assert "CANCELLED" in str(outcome["error"])
    assert time.monotonic() - t0 < 60


def test_checkpointable_job_requeued_after_preemption(slurm_cluster, tmp_path):
    # timeout_min > 10: submitit then classifies the USR2 as preemption, not as a timeout.
    job = slurm_cluster.executor(tmp_path / "%j", timeout_min=60).submit(Counter(32))  # ~8 s of work
    wait_state(job.job_id, "RUNNING", timeout=60)
    time.sleep(3)  # let it count a bit
    preempt(job)  # scancel --signal TERM, then USR2: checkpoint + scontrol requeue
    result = job.result()
    assert result["i"] == 32
    assert result["restarts"] == [0, 1]
    assert "preempted" in job.stderr()
