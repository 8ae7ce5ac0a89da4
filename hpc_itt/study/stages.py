"""What runs inside a job. Each stage is a small picklable callable whose state lives on disk, so
it is idempotent (a rerun returns the saved result) and resumable (a requeue continues from the
latest checkpoint).

`checkpoint()` (submitit's preemption hook) runs on rank 0 only, inside a signal handler, while a
ZeRO save is a collective of all ranks: so it never saves, it only resubmits a fresh copy of the
stage, and the training loop's periodic all-rank checkpoints are what the requeued job resumes.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict

import submitit

from hpc_itt import atomic, targets
from hpc_itt.config.schema import StudyConfig
from hpc_itt.console import quiet_progress
from hpc_itt.errors import UserError
from hpc_itt.study import job_records, lease, plan, provenance, readiness


def _quiet_and_threads(cpus: int) -> None:
    import torch

    torch.set_num_threads(max(1, cpus))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    quiet_progress()


def _summary(result: dict) -> dict:
    return {k: result.get(k) for k in ("name", "test", "validation", "selected", "steps", "interrupted_at_step")}


def _job_identity() -> tuple[int, str | None]:
    """(global rank, an id every rank of this job shares and a requeue keeps)."""
    try:
        env = submitit.JobEnvironment()
        return env.global_rank, str(env.job_id)
    except RuntimeError:  # not inside a submitit job (torchrun, mpirun, a test)
        rank = int(os.environ.get("RANK", os.environ.get("OMPI_COMM_WORLD_RANK", 0)))
        rendezvous = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}" if "MASTER_PORT" in os.environ else None
        return rank, os.environ.get("SLURM_JOB_ID") or os.environ.get("TORCHELASTIC_RUN_ID") or rendezvous


RANK_WAIT_S = 120


def _writer(folder, what: str, token: str | None):
    """The run folder's lease for this job. Rank 0 alone decides: it takes the lease (tagged with
    the job's id) or stops with one line; the other ranks start only once the lease names their
    job, so they never go on to a rendezvous that rank 0 has left (they stop after RANK_WAIT_S)."""
    rank, job = _job_identity()
    if rank == 0:
        try:
            return lease.Lease.take(folder, what, token, job).keep()
        except lease.Held as err:
            raise UserError(f"{what}: another process is writing {folder} ({err}); not touching it") from None
    deadline = time.time() + RANK_WAIT_S
    while True:
        held = lease.holder(folder)
        if held and ((token and held.get("token") == token and held.get("handed_by")) or lease.ours(held, job)):
            return None
        if time.time() > deadline:
            raise UserError(f"{what}: rank 0 did not take {folder}'s lease within {RANK_WAIT_S} s "
                            f"({lease.describe(held) if held else 'no holder'}); not touching it")
        time.sleep(0.2)


class IntermediateStage(submitit.helpers.Checkpointable):
    def __init__(self, study: StudyConfig, model: str, task: str, model_source: str, lease_token: str | None = None):
        self.study, self.model, self.task, self.model_source = study, model, task, model_source
        self.lease_token = lease_token

    def __call__(self) -> dict:
        from hpc_itt.train import loop

        readiness.preflight(self.study)
        what, folder = f"intermediate {self.model}/{self.task}", plan.intermediate_dir(self.study, self.model, self.task)
        held = _writer(folder, what, self.lease_token)
        try:
            provenance.claim(folder, provenance.Ledger(self.study).intermediate(self.model, self.task), what)
            _quiet_and_threads(self.study.cluster.cpus_per_task)
            return _summary(loop.run(plan.intermediate_job(self.study, self.model, self.task, self.model_source)))
        finally:
            if held:
                held.release()


class ConsolidateStage(submitit.helpers.Checkpointable):
    def __init__(self, study: StudyConfig, model: str, task: str, model_source: str):
        self.study, self.model, self.task, self.model_source = study, model, task, model_source

    def __call__(self) -> dict:
        from hpc_itt.config.registry import resolve_task
        from hpc_itt.data.sources import num_labels
        from hpc_itt.study.consolidate import consolidate

        readiness.preflight(self.study)
        found, changes = provenance.Ledger(self.study).intermediate_state(self.model, self.task)
        if found != "current":
            raise UserError(f"consolidate {self.model}/{self.task}: the intermediate run is {found} "
                            f"({'; '.join(changes[:3]) or 'not started'}); run --stage intermediate first")
        _quiet_and_threads(self.study.cluster.cpus_per_task)
        task = resolve_task(self.task)
        manifest = consolidate(plan.intermediate_dir(self.study, self.model, self.task),
                               plan.consolidated_dir(self.study, self.model, self.task), self.model_source,
                               num_labels(task.intermediate, self.study.data.source), task.kind, self.study.intermediate.select)
        return {"tag": manifest["tag"], "dir": str(plan.consolidated_dir(self.study, self.model, self.task))}


class TargetCell(submitit.helpers.Checkpointable):
    """One grid cell, jiant's run_with_continue: done → skip, checkpoint → resume, else start."""

    def __init__(self, study: StudyConfig, cell: plan.Cell, model_source: str, lease_token: str | None = None):
        self.study, self.cell, self.model_source = study, cell, model_source
        self.lease_token = lease_token

    def __call__(self) -> dict:
        out = plan.cell_dir(self.study, self.cell)
        ledger = provenance.Ledger(self.study)
        if plan.is_done(self.study, self.cell) and ledger.cell_state(self.cell)[0] == "current":
            return json.loads((out / plan.METRICS).read_text())
        readiness.preflight(self.study)
        try:
            held = lease.Lease.take(out, f"cell {self.cell.key}", self.lease_token, _job_identity()[1])
        except lease.Held as err:  # a duplicate of a cell another job is writing: leave it alone
            return {"skipped": str(err)}
        with held:
            if plan.is_done(self.study, self.cell) and ledger.cell_state(self.cell)[0] == "current":
                return json.loads((out / plan.METRICS).read_text())  # finished while we queued
            return self._run(out, ledger)

    def _run(self, out, ledger) -> dict:
        (out / job_records.FAILED).unlink(missing_ok=True)  # a retry clears the old failure; DONE comes only at the end
        settings = ledger.cell(self.cell)
        provenance.claim(out, settings, f"cell {self.cell.key}")
        itt_sha = provenance.itt_checkpoint_sha256(self.study, self.cell) if self.cell.arm == "itt" else None
        _quiet_and_threads(self.study.cluster.cpus_per_task)
        result = targets.suite_of(self.cell.target).run_cell(self.study, self.cell, self.model_source)
        metrics = {"cell": asdict(self.cell), "primary_metric": result["primary_metric"],
                   "test": result["test"], "validation": result["validation"], "selected": result["selected"],
                   "steps": result["steps"], "model_source": result["model_source"],
                   "settings_fingerprint": provenance.fingerprint(settings), "itt_checkpoint_sha256": itt_sha}
        if "languages" in result:
            metrics["languages"] = result["languages"]
        atomic.write_text(out / plan.METRICS, json.dumps(metrics, indent=2))
        atomic.write_text(out / plan.DONE, "")
        return metrics


class ReportStage:
    """The report as a job: on Slurm it runs after the target array, whatever the cells' fate."""

    def __init__(self, study: StudyConfig):
        self.study = study

    def __call__(self) -> dict:
        from hpc_itt import report

        written = report.write(self.study)
        return {"dir": written["dir"], "missing": written["missing"]}
