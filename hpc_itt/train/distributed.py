"""One place that turns "how was this process started" into an initialised process group.

Sources, in order: a submitit job (local or Slurm: ranks from the job environment, master = first
host, port derived from the job id), torchrun / deepspeed launcher (RANK etc. already set), mpirun
(mpi4py, only when asked for: under a bare srun MPI silently starts singletons), else one process.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass

import torch

_RENDEZVOUS_KEYS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    source: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect_source(launcher: str = "submitit") -> str:
    if launcher == "mpi":
        return "mpi"
    if os.environ.get("SUBMITIT_EXECUTOR") in ("local", "slurm"):
        return "submitit"  # before "env": variables inherited from a submitting job would be stale
    if all(k in os.environ for k in _RENDEZVOUS_KEYS):
        return "env"
    return "single"


def export_rendezvous(launcher: str = "submitit") -> str:
    """Set the env:// variables for this process and return where they came from."""
    source = detect_source(launcher)
    if source == "submitit":
        import submitit

        # An inherited MASTER_PORT (a user's shell, a submitting job) would give every job the
        # same port, and jobs sharing a node would collide; derive it from the job id instead.
        os.environ.pop("MASTER_PORT", None)
        # Never narrow CUDA_VISIBLE_DEVICES: DeepSpeed selects the device by LOCAL_RANK itself.
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        if os.environ["WORLD_SIZE"] == "1" and not _port_free(int(os.environ["MASTER_PORT"])):
            # The job-id port can be taken (an ephemeral port of another connection); a lone
            # process agrees with nobody on it, so any free port will do.
            os.environ["MASTER_PORT"] = str(_free_port())
    elif source == "mpi":
        _export_from_mpi()
    elif source == "single":
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(_free_port()))
    os.environ.setdefault("LOCAL_RANK", "0")
    return source


def _export_from_mpi() -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    master = comm.bcast(socket.gethostname() if rank == 0 else None, root=0)
    port = comm.bcast(_free_port() if rank == 0 else None, root=0)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(local.Get_rank()),
                      LOCAL_WORLD_SIZE=str(local.Get_size()), MASTER_ADDR=master, MASTER_PORT=str(port))


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("", port))  # the store listens on every interface
            return True
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init(launcher: str = "submitit") -> DistInfo:
    """Initialise torch.distributed through DeepSpeed (gloo on CPU, nccl on GPU); idempotent."""
    import deepspeed

    source = export_rendezvous(launcher) if not torch.distributed.is_initialized() else "existing"
    # submitit's debug executor runs jobs one after another in this process and resets the
    # environment between them, while the process group (and DeepSpeed's LOCAL_RANK check) stays.
    os.environ.setdefault("LOCAL_RANK", str(torch.distributed.get_rank()) if source == "existing" else "0")
    if not torch.distributed.is_initialized():
        _skip_shm_op_build()
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False, verbose=False)
        if torch.distributed.get_world_size() > 1:
            # One line per rank in the job's logs: where each rank runs and when the group formed
            # (the multi-node tests read the time from submission to the last rank joining).
            print(f"hpc_itt: rank {torch.distributed.get_rank()}/{torch.distributed.get_world_size()} on "
                  f"{socket.gethostname()} joined the process group ({source}, master "
                  f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}) at {time.time():.3f}", flush=True)
    return DistInfo(torch.distributed.get_rank(), torch.distributed.get_world_size(),
                    int(os.environ.get("LOCAL_RANK", 0)), source)


def _skip_shm_op_build() -> None:
    """DeepSpeed JIT-compiles a shared-memory op on the CPU accelerator that only inference uses
    (~45 s on a cold cache, fails without a compiler); training never needs it."""
    if torch.cuda.is_available():
        return
    import deepspeed.comm.torch  # noqa: F401

    sys.modules["deepspeed.comm.torch"].build_shm_op = lambda: None


def world_size() -> int:
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def is_main() -> bool:
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


def barrier() -> None:
    if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.barrier()


def shutdown() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
