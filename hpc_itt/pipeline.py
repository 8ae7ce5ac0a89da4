"""The stages in order — prepare → intermediate → consolidate → target grid → report — each
skipping what is already on disk. Local and debug runs block and go on to the next stage; the
Slurm chain is submitted at once with job dependencies and returns (hpc_itt.slurm_chain)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from hpc_itt import executors, lease, plan, provenance, readiness, report, status, targets
from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError
from hpc_itt.plan import jobs_folder, pending_intermediate
from hpc_itt.console import say

STAGES = ("prepare", "intermediate", "consolidate", "target", "report", "all", "status", "tensorboard")


def execute(study: StudyConfig, stage: str, port: int = 6006, rerun_changed: bool = False) -> int:
    if stage == "tensorboard":
        from hpc_itt import tensorboard_server

        if study.cluster.kind == "slurm":
            return tensorboard_server.submit_job(study, port)
        return tensorboard_server.serve_local(study, port)
    if stage == "report":
        run_report(study)
        return 0
    if stage == "status":
        print(status.table(study))
        return 0
    if study.cluster.kind == "slurm" and stage != "prepare":
        executors.require_slurm()  # no Slurm answering: one line, before anything is prepared or written
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
    if study.cluster.kind == "slurm":
        from hpc_itt.slurm_chain import submit_chain

        return submit_chain(study, stage, sources)
    if stage in ("intermediate", "all"):
        run_intermediate(study, sources)
    if stage == "consolidate":
        run_consolidate(study, sources)
    failed = run_targets(study, sources) if stage in ("target", "all") else []
    if stage in ("target", "all"):
        run_report(study)
    if failed:
        say(f"{len(failed)} cell(s) failed: {', '.join(failed)}; rerun --stage target to retry only those")
        return 1
    return 0


# ---- prepare -------------------------------------------------------------------------------------
def prepare(study: StudyConfig, sources: dict[str, str]) -> dict:
    """Load and tokenize every dataset once, here, check it loads offline, and write the readiness
    manifest, so jobs only read the caches (hpc_itt.readiness)."""
    return readiness.prepare(study, sources, say)


# ---- intermediate + consolidate ------------------------------------------------------------------
def run_intermediate(study: StudyConfig, sources: dict[str, str], consolidate_too: bool = True) -> None:
    from hpc_itt.stages import IntermediateStage

    for model, task in pending_intermediate(study):
        held = _lease_or_stop(plan.intermediate_dir(study, model, task), f"intermediate {model}/{task}")
        try:
            executor = executors.make(study.cluster, jobs_folder(study, "intermediate"), "intermediate",
                                      f"itt-{model}-{task}")
            job = executor.submit(IntermediateStage(study, model, task, sources[model], held.record["token"]))
            say(f"intermediate {model}/{task}: job {job.job_id} ({study.cluster.tasks_per_node} processes), "
                f"log {job.paths.stdout}")
            result = _wait(job, f"intermediate {model}/{task}")
            say(f"intermediate {model}/{task} done: validation {result['validation']}, test {result['test']}")
            if consolidate_too:
                run_consolidate(study, sources, [(model, task)])
        finally:
            held.release()


def _lease_or_stop(folder: Path, what: str) -> lease.Lease:
    """A single run (not a grid cell) that another live process writes: stop, naming the holder."""
    try:
        return lease.Lease.take(folder, what)
    except lease.Held as err:
        raise UserError(f"{what}: another process is writing {folder} ({err}); wait for it, or stop it and "
                        f"rerun (a dead holder's lease is taken over and the run resumes)") from None


def run_consolidate(study: StudyConfig, sources: dict[str, str], pairs=None) -> None:
    from hpc_itt.stages import ConsolidateStage

    for model, task in pairs if pairs is not None else pending_intermediate(study):
        executor = executors.make(study.cluster, jobs_folder(study, "consolidate"), "consolidate",
                                  f"consolidate-{model}-{task}")
        result = _wait(executor.submit(ConsolidateStage(study, model, task, sources[model])),
                       f"consolidate {model}/{task}")
        say(f"consolidated {model}/{task} ({result['tag']}) → {result['dir']}")


# ---- target grid ---------------------------------------------------------------------------------
def run_targets(study: StudyConfig, sources: dict[str, str]) -> list[str]:
    """Run every cell that is not done and not in another live process's hands (waiting for those);
    returns the keys of cells that failed."""
    todo = [c for c in targets.cells(study) if not plan.is_done(study, c)]
    missing_itt = sorted({f"{c.model}/{c.task}" for c in todo if c.arm == "itt"
                          and not (plan.consolidated_dir(study, c.model, c.task) / "manifest.json").is_file()})
    if missing_itt:
        raise UserError(f"the ITT arm needs consolidated checkpoints that do not exist yet: {', '.join(missing_itt)} "
                        f"(run --stage intermediate first)")
    in_flight = [c for c in todo if lease.holder(plan.cell_dir(study, c))]
    todo = [c for c in todo if c not in in_flight]
    done = len(targets.cells(study)) - len(todo) - len(in_flight)
    say(f"target grid: {len(todo)} cell(s) to run, {done} already done"
        + (f"; {len(in_flight)} cell(s) already queued or running elsewhere: skipped" if in_flight else ""))
    failed, busy = _run_cells(study, sources, todo)
    return failed + _follow(study, sources, in_flight + busy)


def _run_cells(study: StudyConfig, sources: dict[str, str], todo: list) -> tuple[list[str], list]:
    """Run cells, `array_parallelism` at a time; a cell is leased here before its job is queued, so
    a second process on the same study skips it. Returns (failed keys, cells another process took)."""
    from hpc_itt.stages import TargetCell

    failed, busy = [], []
    width = study.cluster.array_parallelism
    for start in range(0, len(todo), width):  # the local executor has no array throttle of its own
        taken = []
        for cell in todo[start:start + width]:
            try:
                taken.append((cell, lease.Lease.take(plan.cell_dir(study, cell), f"cell {cell.key}")))
            except lease.Held:
                busy.append(cell)
        executor = executors.make(study.cluster, jobs_folder(study, "target"), "target", "itt-target")
        jobs = [executor.submit(TargetCell(study, cell, sources[cell.model], held.record["token"]))
                for cell, held in taken]
        for (cell, _), job in zip(taken, jobs):
            status.record_job(study, cell, job)
        for (cell, held), job in zip(taken, jobs):
            try:
                metrics = job.result()
                if "skipped" in metrics:
                    busy.append(cell)
                else:
                    say(f"cell {cell.key}: test {metrics['test']}")
            except Exception as err:  # noqa: BLE001 - a failed cell must not stop the grid
                failed.append(cell.key)
                if not plan.is_done(study, cell):
                    status.record_failure(study, cell, _last_line(err))
                say(f"cell {cell.key} FAILED: {_last_line(err)} (log {job.paths.stderr})")
            finally:
                held.release()
    return failed, busy


def _follow(study: StudyConfig, sources: dict[str, str], others: list, poll_s: float = 2.0) -> list[str]:
    """Wait for the cells another live process is writing, so the report that follows is whole;
    a cell whose writer died unfinished is taken over here and resumes from its checkpoint."""
    failed = []
    while others:
        time.sleep(poll_s)
        free = [c for c in others if not lease.holder(plan.cell_dir(study, c))]
        others = [c for c in others if c not in free]
        orphans = [c for c in free if not plan.is_done(study, c)]
        for cell in free:
            if cell not in orphans:
                say(f"cell {cell.key}: finished by another process")
        if orphans:
            say(f"{len(orphans)} cell(s) left unfinished by a process that stopped: taking them over")
            more_failed, busy = _run_cells(study, sources, orphans)
            failed += more_failed
            others += busy
    return failed


def _wait(job, what: str) -> dict:
    try:
        return job.results()[0]  # a multi-process job returns one result per rank; rank 0's is the one
    except Exception as err:  # noqa: BLE001
        raise UserError(f"{what} failed: {_last_line(err)} (log {job.paths.stderr})") from None


def _last_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in reversed(lines):  # the remote traceback's last "SomeError: message" line
        if "Error" in line or "error" in line:
            return line
    return lines[-1] if lines else type(err).__name__


# ---- report --------------------------------------------------------------------------------------
def run_report(study: StudyConfig) -> dict:
    written = report.write(study)
    say(f"report: {written['dir']}/report.md and report.csv")
    sys.stdout.write("\n" + written["markdown"] + "\n")
    return written
