"""Where the process group comes from: torchrun env, submitit (local/Slurm), MPI, or nothing."""
import os

import pytest

from hpc_itt import distributed

KEYS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@pytest.fixture
def clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith(("SLURM_", "SUBMITIT_")) or key in KEYS:
            monkeypatch.delenv(key, raising=False)
    return monkeypatch


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
    clean_env.delenv("MASTER_PORT")
    distributed.export_rendezvous()
    assert os.environ["MASTER_PORT"] == port  # every rank derives the same port without talking
