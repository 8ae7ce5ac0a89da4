"""Where the process group comes from: torchrun env, submitit (local/Slurm), MPI, or nothing."""
import os

import pytest

from hpc_itt.train import distributed

KEYS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@pytest.fixture
def clean_env(monkeypatch):
    saved = dict(os.environ)  # export_rendezvous writes os.environ directly: restore all of it
    for key in list(os.environ):
        if key.startswith(("SLURM_", "SUBMITIT_")) or key in KEYS:
            monkeypatch.delenv(key, raising=False)
    yield monkeypatch
    os.environ.clear()
    os.environ.update(saved)


def test_single_process_gets_a_local_rendezvous(clean_env):
    assert distributed.export_rendezvous() == "single"
    assert os.environ["RANK"] == "0" and os.environ["WORLD_SIZE"] == "1"
    assert os.environ["MASTER_ADDR"] == "127.0.0.1" and int(os.environ["MASTER_PORT"]) > 0


def test_torchrun_env_is_used_as_is(clean_env):
    for key, value in dict(RANK="3", WORLD_SIZE="8", MASTER_ADDR="node7", MASTER_PORT="29400", LOCAL_RANK="1").items():
        clean_env.setenv(key, value)
    assert distributed.export_rendezvous() == "env"
    assert os.environ["MASTER_ADDR"] == "node7" and os.environ["RANK"] == "3"


def test_submitit_slurm_env_two_nodes(clean_env):
    """Rank 5 of 2 nodes x 4 tasks: master is the first host of the node list, the port is
    derived from the job id, and CUDA_VISIBLE_DEVICES is left alone."""
    env = dict(SUBMITIT_EXECUTOR="slurm", SLURM_JOB_ID="4242", SLURM_NTASKS="8", SLURM_JOB_NUM_NODES="2",
               SLURM_NODEID="1", SLURM_PROCID="5", SLURM_LOCALID="1", SLURM_JOB_NODELIST="gpu[017-018]",
               CUDA_VISIBLE_DEVICES="0,1,2,3")
    for key, value in env.items():
        clean_env.setenv(key, value)
    assert distributed.export_rendezvous() == "submitit"
    assert (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["LOCAL_RANK"]) == ("5", "8", "1")
    assert os.environ["MASTER_ADDR"] == "gpu017" and os.environ["LOCAL_WORLD_SIZE"] == "4"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    port = os.environ["MASTER_PORT"]
    clean_env.setenv("SLURM_PROCID", "0")
    clean_env.setenv("MASTER_PORT", "12345")  # inherited from the submitting shell: ignored
    distributed.export_rendezvous()
    assert os.environ["MASTER_PORT"] == port  # every rank derives the same port without talking


@pytest.mark.parametrize("nodes, tasks", [(2, 4), (2, 8), (3, 4), (4, 8)])
def test_every_rank_of_a_multi_node_job_agrees_on_the_rendezvous(clean_env, nodes, tasks):
    """One node cannot show this: simulate every rank of nodes x tasks and check that ranks are a
    permutation of 0..N-1 and that all of them find the same master address and port."""
    seen = set()
    for node in range(nodes):
        for local in range(tasks):
            rank = node * tasks + local
            env = dict(SUBMITIT_EXECUTOR="slurm", SLURM_JOB_ID="777", SLURM_NTASKS=str(nodes * tasks),
                       SLURM_JOB_NUM_NODES=str(nodes), SLURM_NODEID=str(node), SLURM_PROCID=str(rank),
                       SLURM_LOCALID=str(local), SLURM_JOB_NODELIST=f"gpu[{10:03d}-{10 + nodes - 1:03d}]")
            for key in KEYS:
                clean_env.delenv(key, raising=False)
            for key, value in env.items():
                clean_env.setenv(key, value)
            distributed.export_rendezvous()
            seen.add((os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"], os.environ["WORLD_SIZE"],
                      os.environ["LOCAL_WORLD_SIZE"]))
            assert os.environ["RANK"] == str(rank) and os.environ["LOCAL_RANK"] == str(local)
    assert len(seen) == 1
    master, port, world, local_world = seen.pop()
    assert master == "gpu010" and world == str(nodes * tasks) and local_world == str(tasks)
    assert 20000 <= int(port) <= 60000
