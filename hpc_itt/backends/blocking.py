"""The local chain, shared by the backends whose jobs run on this machine (local, debug): each
stage's jobs are submitted through the backend's executor and waited for before the next stage
starts, so the command returns when the report is written."""
from __future__ import annotations

import time
from pathlib import Path

from hpc_itt import report, targets
from hpc_itt.backends.base import Backend, JobShape
from hpc_itt.config.schema import StudyConfig
from hpc_itt.console import say
from hpc_itt.errors import UserError
from hpc_itt.study import job_records, lease, plan
from hpc_itt.study.plan import jobs_folder, pending_intermediate


def run(backend: Backend, study: StudyConfig, stage: str, sources: dict[str, str]) -> int:
    """intermediate (each run consolidated once trained) → consolidate → target grid → report."""
    if stage in ("intermediate", "all"):
        run_intermediate(backend, study, sources)
    if stage == "consolidate":
        run_consolidate(backend, study, sources)
    if stage not in ("target", "all"):
        return 0
    failed = run_targets(backend, study, sources)
    report.show(study)
    if failed:
        say(f"{len(failed)} cell(s) failed: {', '.join(failed)}; rerun --stage target to retry only those")
        return 1
    return 0


# ---- intermediate + consolidate ------------------------------------------------------------------
def run_intermediate(backend: Backend, study: StudyConfig, sources: dict[str, str], consolidate_too: bool = True) -> None:
    from hpc_itt.study.stages import IntermediateStage

    for model, task in pending_intermediate(study):
        held = _lease_or_stop(plan.intermediate_dir(study, model, task), f"intermediate {model}/{task}")
        try:
            executor = backend.executor(study.cluster, jobs_folder(study, "intermediate"),
                                        JobShape.distributed(study.cluster), f"itt-{model}-{task}")
            job = executor.submit(IntermediateStage(study, model, task, sources[model], held.record["token"]))
            say(f"intermediate {model}/{task}: job {job.job_id} ({study.cluster.tasks_per_node} processes), "
                f"log {job.paths.stdout}")
            result = _wait(job, f"intermediate {model}/{task}")
            say(f"intermediate {model}/{task} done: validation {result['validation']}, test {result['test']}")
            if consolidate_too:
                run_consolidate(backend, study, sources, [(model, task)])
        finally:
            held.release()


def _lease_or_stop(folder: Path, what: str) -> lease.Lease:
    """A single run (not a grid cell) that another live process writes: stop, naming the holder."""
    try:
        return lease.Lease.take(folder, what)
    except lease.Held as err:
        raise UserError(f"{what}: another process is writing {folder} ({err}); wait for it, or stop it and "
                        f"rerun (a dead holder's lease is taken over and the run resumes)") from None


def run_consolidate(backend: Backend, study: StudyConfig, sources: dict[str, str], pairs=None) -> None:
    from hpc_itt.study.stages import ConsolidateStage

    for model, task in pairs if pairs is not None else pending_intermediate(study):
        executor = backend.executor(study.cluster, jobs_folder(study, "consolidate"), JobShape.single(study.cluster),
                                    f"consolidate-{model}-{task}")
        result = _wait(executor.submit(ConsolidateStage(study, model, task, sources[model])),
                       f"consolidate {model}/{task}")
        say(f"consolidated {model}/{task} ({result['tag']}) → {result['dir']}")


# ---- target grid ---------------------------------------------------------------------------------
def run_targets(backend: Backend, study: StudyConfig, sources: dict[str, str]) -> list[str]:
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
    failed, busy = _run_cells(backend, study, sources, todo)
    return failed + _follow(backend, study, sources, in_flight + busy)


def _run_cells(backend: Backend, study: StudyConfig, sources: dict[str, str], todo: list) -> tuple[list[str], list]:
    """Run cells, `array_parallelism` at a time; a cell is leased here before its job is queued, so
    a second process on the same study skips it. Returns (failed keys, cells another process took)."""
    from hpc_itt.study.stages import TargetCell

    failed, busy = [], []
    width = study.cluster.array_parallelism
    for start in range(0, len(todo), width):  # the local executor has no array throttle of its own
        taken = []
        for cell in todo[start:start + width]:
            try:
                taken.append((cell, lease.Lease.take(plan.cell_dir(study, cell), f"cell {cell.key}")))
            except lease.Held:
                busy.append(cell)
        executor = backend.executor(study.cluster, jobs_folder(study, "target"), JobShape.single(study.cluster),
                                    "itt-target")
        jobs = [executor.submit(TargetCell(study, cell, sources[cell.model], held.record["token"]))
                for cell, held in taken]
        for (cell, _), job in zip(taken, jobs):
            job_records.record_job(study, cell, job)
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
                    job_records.record_failure(study, cell, _last_line(err))
                say(f"cell {cell.key} FAILED: {_last_line(err)} (log {job.paths.stderr})")
            finally:
                held.release()
    return failed, busy


def _follow(backend: Backend, study: StudyConfig, sources: dict[str, str], others: list, poll_s: float = 2.0) -> list[str]:
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
            more_failed, busy = _run_cells(backend, study, sources, orphans)
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
