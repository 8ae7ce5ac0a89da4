"""No duplicated work when runs overlap: a cell or intermediate run has one writer (its lease); a
second process on the same study skips what the first is writing and waits for it; a killed
holder's lease is taken over and its run resumes."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, TINY

from hpc_itt.study import lease

FOUR = [*TINY, "seeds=[1]", "cluster.array_parallelism=2"]  # 4 cells: 2 targets x 2 arms


def command(tmp, *args):
    return [sys.executable, "launch/submit.py", "--cluster", "local", f"output_dir={tmp}/exp",
            f"logdir={tmp}/logs", *FOUR, *args]


def cell_dirs(tmp):
    return sorted((tmp / "exp" / "target").glob("*/*/*/*/seed*"))


# ---- unit: the lease itself ------------------------------------------------------------------------
def test_a_live_lease_is_refused_and_a_dead_one_taken_over(tmp_path):
    held = lease.Lease.take(tmp_path, "cell a")
    with pytest.raises(lease.Held, match=f"cell a by pid {os.getpid()}"):
        lease.Lease.take(tmp_path, "cell a")
    held.release()
    again = lease.Lease.take(tmp_path, "cell a")  # released: free at once
    assert again.record["took_over"] is None
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; from hpc_itt.study import lease; "
                              f"lease.Lease.take({str(tmp_path / 'b')!r}, 'cell b'); print('held', flush=True); "
                              "time.sleep(600)"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    assert lease.holder(tmp_path / "b")["pid"] == child.pid
    with pytest.raises(lease.Held):
        lease.Lease.take(tmp_path / "b", "cell b")
    child.kill()
    child.wait()
    taken = lease.Lease.take(tmp_path / "b", "cell b")  # kill -9 on this host: taken over at once
    assert taken.record["took_over"]["pid"] == child.pid


def test_a_lease_from_another_host_lives_until_its_ttl(tmp_path, monkeypatch):
    record = {"what": "cell c", "host": "node-7", "pid": 1, "pid_start": "1", "token": "t", "renewed": time.time()}
    (tmp_path / lease.LEASE).write_text(json.dumps(record))
    with pytest.raises(lease.Held, match="on node-7"):
        lease.Lease.take(tmp_path, "cell c")
    record["renewed"] = time.time() - lease.TTL_S - 1
    (tmp_path / lease.LEASE).write_text(json.dumps(record))
    assert lease.Lease.take(tmp_path, "cell c").record["took_over"]["host"] == "node-7"


def test_a_requeued_job_adopts_its_own_lease_by_token(tmp_path):
    queued = lease.Lease.take(tmp_path, "cell d")
    job = lease.Lease.take(tmp_path, "cell d", token=queued.record["token"])
    assert job.record["handed_by"]["pid"] == os.getpid()
    with pytest.raises(lease.Held):
        lease.Lease.take(tmp_path, "cell d", token="another")
    job.release()  # stays with the process that handed it over
    assert lease.holder(tmp_path) is not None
    queued.release()
    assert lease.holder(tmp_path) is None


# ---- end to end -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_intermediate(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("overlap")
    result = subprocess.run(command(tmp, "--stage", "intermediate"), cwd=REPO, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp


@pytest.mark.slow
def test_two_processes_on_one_study_train_every_cell_once(trained_intermediate):
    tmp = trained_intermediate
    first = subprocess.Popen(command(tmp, "--stage", "target"), cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    second = subprocess.Popen(command(tmp, "--stage", "target"), cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=900) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    trained = [line.split("cell ")[1].split(":")[0] for out, _ in outs for line in out.splitlines()
               if ": test {" in line]
    keys = ["/".join(d.parts[-5:]) for d in cell_dirs(tmp)]
    assert sorted(trained) == sorted(keys) and len(keys) == 4  # every cell trained by exactly one process
    # whichever process reached the grid first, the other one found cells in its hands
    assert any(message in out for out, _ in outs
               for message in ("already queued or running elsewhere: skipped", "finished by another process"))
    for folder in cell_dirs(tmp):
        assert (folder / "DONE").is_file() and not (folder / "FAILED").exists()
        assert lease.holder(folder) is None and "FAILED" not in outs[0][0] + outs[1][0]
    tables = [out[out.index("| model |"):] for out, _ in outs]
    assert tables[0] == tables[1]


@pytest.mark.slow
def test_a_killed_holder_is_taken_over_and_its_cells_resume(tmp_path):
    result = subprocess.run(command(tmp_path, "--stage", "intermediate"), cwd=REPO, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    victim = subprocess.Popen(command(tmp_path, "--stage", "target"), cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    deadline, killed = time.time() + 600, None
    while time.time() < deadline and killed is None:  # a job holding its cell, with a checkpoint saved
        for folder in cell_dirs(tmp_path):
            held = lease.read(folder)
            if held and held.get("handed_by") and (folder / "checkpoints" / "latest").is_file():
                killed = (folder, held["pid"])
                break
        time.sleep(0.2)
    assert killed, "no cell reached a checkpoint"
    folder, pid = killed
    os.kill(pid, signal.SIGKILL)  # the holder (a submitit job runs in a session of its own) ...
    os.killpg(victim.pid, signal.SIGKILL)  # ... and its submitter; the other job it started may go on
    victim.wait()
    time.sleep(0.5)
    assert lease.holder(folder) is None  # the dead holder's lease is dead at once
    started = time.time()
    rerun = subprocess.run(command(tmp_path, "--stage", "target"), cwd=REPO, capture_output=True, text=True,
                           timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert lease.read(folder)["took_over"]["pid"] == pid
    assert (folder / "DONE").is_file() and time.time() - started < 600
    log = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == sorted({r["step"] for r in log})  # resumed: no step logged twice


def test_ranks_and_requeues_of_one_job_share_its_lease(tmp_path):
    """Rank 0 holds an intermediate run's lease; the other ranks of the same job (and the job
    after a requeue on another node) must not take it for a stranger's, or they would leave the
    rendezvous while rank 0 waits."""
    lease.Lease.take(tmp_path, "intermediate m/t", job="4242")
    held = lease.holder(tmp_path)
    assert lease.ours(held, "4242") and not lease.ours(held, "4243") and not lease.ours(held, None)
    record = dict(held, host="node-9", pid=1, renewed=time.time())  # the job before its requeue
    (tmp_path / lease.LEASE).write_text(json.dumps(record))
    assert lease.Lease.take(tmp_path, "intermediate m/t", job="4242").record["job"] == "4242"
    with pytest.raises(lease.Held):
        lease.Lease.take(tmp_path, "intermediate m/t", job="9999")
