"""The XTREME-R score, under one documented convention.

    per language   the task's metric (0-100); QA tasks report F1 and EM
    per task       the mean over the task's languages (evaluate.py's `avg_<metric>`), and the task
                   score `avg_metric`: accuracy / seqeval F1 / mAP@20, and for QA (F1 + EM) / 2 exactly
                   as evaluate.py does — or F1 alone with `qa_metric="f1"` (the convention of papers
                   that leave EM out, e.g. mGTE's XTREME-R table)
    per category   the mean of its tasks' scores: classification (XNLI, XCOPA), structured
                   prediction (UD-POS, PAN-X), QA (XQuAD, MLQA, TyDiQA), retrieval (Tatoeba, LAReQA,
                   Mewsli-X); every task counts in exactly one category (evaluate.py also counts
                   XCOPA in a "multi_choice" group; we do not)
    overall        the mean of the ten task scores, as evaluate.py's `all_task`. evaluate.py cannot
                   emit it for XTREME-R because LAReQA has no language list there (it is scored by
                   run_eval_lareqa.sh); here LAReQA enters like Mewsli-X: its mAP@20 averaged over
                   XQuAD-R's 11 query languages, each query searching the pool of all languages.

A study may run a subset of tasks or languages (a reduced local run): the averages are then over
what the study asked for, and the report says so instead of calling it the XTREME-R score.
A score is only reported over complete data: a task missing a language, a category missing a task
or an overall missing a task is None (shown as "–"), never an average over what happened to finish.
"""
from __future__ import annotations

import statistics

from hpc_itt.xtreme.tasks import CATEGORIES, TASKS

QA_METRICS = ("mean_f1_em", "f1")


def task_score(task: str, per_language: dict[str, dict[str, float]], languages: tuple[str, ...],
               qa_metric: str = "mean_f1_em") -> float | None:
    """The task's score from its per-language metrics, or None when a language is missing."""
    if any(lang not in per_language for lang in languages) or not languages:
        return None
    spec = TASKS[task]

    def avg(metric: str) -> float:
        return statistics.fmean(per_language[lang][metric] for lang in languages)

    if spec.head == "qa":
        return avg("f1") if qa_metric == "f1" else (avg("f1") + avg("exact_match")) / 2
    return avg(spec.metric)


def category_scores(task_scores: dict[str, float | None], tasks: list[str]) -> dict[str, float | None]:
    """Per category over the study's tasks of that category (categories it does not touch are left out)."""
    out = {}
    for category, members in CATEGORIES.items():
        present = [t for t in members if t in tasks]
        if present:
            out[category] = _mean_or_none([task_scores.get(t) for t in present])
    return out


def overall(task_scores: dict[str, float | None], tasks: list[str]) -> float | None:
    """The mean over the study's tasks: the XTREME-R score when they are all ten (`is_full_suite`)."""
    return _mean_or_none([task_scores.get(t) for t in tasks])


def is_full_suite(tasks: list[str]) -> bool:
    return set(tasks) == set(TASKS)


def _mean_or_none(values: list[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else statistics.fmean(values)
