"""A stage from the command line: what every backend shares — prepare (on this node, which may be
the only one online), the settings check of finished work, the offline environment for the jobs —
then the backend runs or submits the rest (hpc_itt.backends): prepare → intermediate →
consolidate → target grid → report, each skipping what is already on disk."""
from __future__ import annotations

import os

from hpc_itt import backends, report
from hpc_itt.config.schema import StudyConfig
from hpc_itt.console import say
from hpc_itt.errors import UserError
from hpc_itt.study import plan, provenance, readiness, status

STAGES = ("prepare", "intermediate", "consolidate", "target", "report", "all", "status", "tensorboard")


def execute(study: StudyConfig, stage: str, port: int = 6006, rerun_changed: bool = False) -> int:
    backend = backends.of(study.cluster)
    if stage == "tensorboard":
        return backend.tensorboard(study, port)
    if stage == "report":
        report.show(study)
        return 0
    if stage == "status":
        print(status.table(study))
        return 0
    if stage != "prepare":
        backend.check_reachable()  # e.g. no Slurm answering: one line, before anything is prepared or written
    try:
        sources = plan.model_sources(study, download=True)  # on this node, which may be the only one online
    except UserError:
        readiness.preflight(study)  # a purged cache: name the exact file prepare had listed
        raise
    if stage == "consolidate":
        readiness.preflight(study)
    else:
        prepare(study, sources)
    if stage == "prepare":
        return 0
    provenance.check_or_supersede(study, provenance.Ledger(study), stage, rerun_changed, say)
    os.environ.update(readiness.offline_env(study))  # jobs inherit it: compute nodes may have no hub
    return backend.run(study, stage, sources)


def prepare(study: StudyConfig, sources: dict[str, str]) -> dict:
    """Load and tokenize every dataset once, here, check it loads offline, and write the readiness
    manifest, so jobs only read the caches (hpc_itt.study.readiness)."""
    return readiness.prepare(study, sources, say)
