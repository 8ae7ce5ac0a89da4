"""A compute estimate for an XTREME-R grid (`--dry-run`): GPU-hours per cell from the full
datasets' sizes, the task's epochs and max length, and one assumed training throughput.

The sizes are the public datasets' (approximate where a split varies by language); the throughput
is `xtreme.gpu_samples_per_s` (training samples/s of a base-size encoder at 128 tokens on one GPU,
800 by default: measure yours with bench/ and set it). Large models count 3.5x slower; inference
3x faster than training; cost grows linearly with max length. An estimate, not a promise: the
scheduler reservation (time limits x GPUs) is printed separately by the Slurm dry run.
"""
from __future__ import annotations

from hpc_itt.config.schema import StudyConfig
from hpc_itt.study import plan
from hpc_itt.xtreme import runner, tasks

# task -> (English training examples over all phases, test examples per language, candidates: per language
# for Tatoeba, one pool shared by all languages for LAReQA and Mewsli-X)
SIZES = {
    "xnli": (392_702, 5_010, 0),
    "xcopa": (33_410 + 400, 500, 0),
    "udpos": (21_253, 2_000, 0),
    "panx": (20_000, 5_000, 0),
    "xquad": (87_599, 1_190, 0),
    "mlqa": (87_599, 5_000, 0),
    "tydiqa": (3_696, 800, 0),
    "tatoeba": (0, 1_000, 1_000),
    "lareqa": (87_599, 1_190, 13_014),
    "mewslix": (115_000, 2_500, 1_000_000),
}
LARGE_FACTOR, INFERENCE_SPEEDUP = 3.5, 3.0


def gpu_hours(study: StudyConfig, model: str, target: str) -> float:
    task = tasks.get(target)
    cfg = runner.train_config(study, task)
    train_n, test_n, pool_n = SIZES[target]
    length = cfg.max_length / 128
    n_langs = len(tasks.languages(task, study.xtreme.languages))
    train = train_n * cfg.epochs * length if task.trains else 0
    pool = pool_n if task.head == "dual_encoder" else n_langs * pool_n  # one shared pool, encoded once per cell
    evaluate = (n_langs * test_n + pool) * length / INFERENCE_SPEEDUP
    factor = LARGE_FACTOR if "large" in model else 1.0
    return (train + evaluate) * factor / study.xtreme.gpu_samples_per_s / 3600


def table(study: StudyConfig, cells) -> list[str]:
    """Per task: languages, cells, GPU-hours per cell and in total."""
    xtreme_cells = [c for c in cells if c.target in tasks.TASKS]
    if not xtreme_cells:
        return []
    lines = [f"  XTREME-R grid: {len(xtreme_cells)} cell(s); compute estimate at {study.xtreme.gpu_samples_per_s:.0f} "
             f"training samples/s per GPU (base model, 128 tokens; xtreme.gpu_samples_per_s):",
             f"    {'task':8} {'langs':>5} {'train ex.':>10} {'epochs':>6} {'cells':>5} {'GPU-h/cell':>11} {'GPU-h':>8}"]
    total = 0.0
    for target in [t for t in study.targets if t in tasks.TASKS]:
        mine = [c for c in xtreme_cells if c.target == target]
        hours = sum(gpu_hours(study, c.model, target) for c in mine)
        total += hours
        task = tasks.get(target)
        lines.append(f"    {target:8} {len(tasks.languages(task, study.xtreme.languages)):>5} {SIZES[target][0]:>10,} "
                     f"{runner.train_config(study, task).epochs if task.trains else 0:>6} {len(mine):>5} "
                     f"{hours / len(mine):>11.2f} {hours:>8.1f}")
    evaluations = sum(len(tasks.languages(tasks.get(c.target), study.xtreme.languages)) for c in xtreme_cells)
    lines.append(f"    targets: {evaluations} (cell, language) evaluations, about {total:.0f} GPU-hours")
    itt = intermediate_hours(study)
    if itt is not None:
        lines.append(f"    intermediate: {len(plan.intermediate_pairs(study))} run(s) of {study.intermediate.epochs} epoch(s) "
                     f"over {study.intermediate.max_train_examples:,} rows, about {itt:.0f} GPU-hours; "
                     f"total about {total + itt:.0f} GPU-hours")
    return lines


def intermediate_hours(study: StudyConfig) -> float | None:
    """Only where the row cap fixes the intermediate size (the English-vs-multilingual design)."""
    rows = study.intermediate.max_train_examples
    if rows is None:
        return None
    per_sample = study.intermediate.max_length / 128 / study.xtreme.gpu_samples_per_s / 3600
    return sum(rows * study.intermediate.epochs * per_sample * (LARGE_FACTOR if "large" in model else 1.0)
               for model, _ in plan.intermediate_pairs(study))
