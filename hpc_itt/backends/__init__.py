"""The backend registry: where a study's jobs run.

    local   submitit's LocalExecutor: each job as subprocesses of this machine; the command
            blocks, stage after stage (a laptop, a workstation, CI)
    debug   submitit's DebugExecutor: every job in this process (breakpoints work); blocks too
    slurm   sbatch: the whole chain is submitted at once with job dependencies, then returns

A new backend is one module with a `Backend` subclass (hpc_itt.backends.base) and one line in
BACKENDS; `cluster.kind` and `--cluster` accept what BACKENDS names. The entries are import
paths, loaded on first use (as plugins' entry points are), so that validating a config does not
import submitit and the scheduler code.
"""
from __future__ import annotations

import importlib

BACKENDS: dict[str, str] = {
    "local": "hpc_itt.backends.local:LocalBackend",
    "debug": "hpc_itt.backends.local:DebugBackend",
    "slurm": "hpc_itt.backends.slurm.backend:SlurmBackend",
}

_loaded: dict = {}


def get(kind: str):
    """The backend registered as `kind` (one instance per process)."""
    if kind not in _loaded:
        module, _, name = BACKENDS[kind].partition(":")
        _loaded[kind] = getattr(importlib.import_module(module), name)()
    return _loaded[kind]


def of(cluster):
    """The backend a cluster profile names (`cluster.kind`, validated against BACKENDS)."""
    return get(cluster.kind)
