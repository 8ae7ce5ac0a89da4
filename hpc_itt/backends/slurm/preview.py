"""The dry run on Slurm: the sbatch scripts a submission would write, byte for byte, and the
GPU-hours they reserve — built without Slurm and without submitting anything."""
from __future__ import annotations

from hpc_itt import targets
from hpc_itt.backends.slurm.chain import step_executor
from hpc_itt.config.schema import StudyConfig
from hpc_itt.study import plan


def sbatch_script(study: StudyConfig, step: str, array: int | None = None, dependency: str | None = None) -> str:
    """Exactly the script submitit writes for one job of a chain step (intermediate, consolidate,
    target, report). submitit shell-quotes every #SBATCH value and srun argument; cluster `setup`
    lines are the one place meant to be raw shell (module load ...)."""
    # submitit has no public "render without submitting"; this is what its submission calls
    # (SlurmExecutor._make_submission_file_text → _make_sbatch_string), on the executor the chain
    # would submit with. A batch of one is submitted as a plain job, a larger one as an array.
    from submitit.slurm.slurm import _make_sbatch_string

    executor = step_executor(study, step, dependency)
    params = dict(executor.parameters)
    if array and array > 1:
        params["map_count"] = array
    return _make_sbatch_string(command=executor._submitit_command_str, folder=executor.folder, **params)


def sbatch_preview(study: StudyConfig, stage: str) -> str:
    """The sbatch scripts submitit would write for this stage, and the GPU-hours they reserve."""
    c = study.cluster
    pairs = plan.intermediate_pairs(study) if stage in ("intermediate", "all") else []
    todo = [cell for cell in targets.cells(study) if not plan.is_done(study, cell)] if stage in ("target", "all") else []
    jobs = []
    if pairs:
        jobs.append(("intermediate", f"1 array of {len(pairs)} job(s)", len(pairs), None))
        jobs.append(("consolidate", f"1 array of {len(pairs)} job(s)", len(pairs), "aftercorr:<intermediate array>"))
    if todo:
        jobs.append(("target", f"1 array of {len(todo)} task(s)", len(todo),
                     "afterok:<consolidation array>" if pairs else None))
        jobs.append(("report", "1 job", None, "afterany:<target array>"))
    out = []
    for step, count, array, dependency in jobs:
        out += [f"# ---- {step}: {count} ----", sbatch_script(study, step, array, dependency).strip(), ""]
    gpus = max(c.gpus_per_node, 0)
    intermediate_h = len(pairs) * c.nodes * gpus * c.timeout_min / 60
    target_h = len(todo) * min(gpus, 1) * c.target_timeout_min / 60
    out.append(f"sbatch calls: {len(jobs)} ({', '.join(name for name, *_ in jobs)})")
    out.append(f"GPU-hours reserved at most (time limits x GPUs): intermediate {intermediate_h:.0f} "
               f"({len(pairs)} x {c.nodes} node(s) x {gpus} GPU(s) x {c.timeout_min / 60:.1f} h) + "
               f"target {target_h:.0f} ({len(todo)} cell(s) x {min(gpus, 1)} GPU x {c.target_timeout_min / 60:.1f} h)"
               f" = {intermediate_h + target_h:.0f}")
    return "\n".join(out)
