"""The XTREME-R part of the study report: per model and arm the task, category and overall scores
(mean ± std over seeds), the Δ between arms with a paired t-test over seeds, and per task a
language × arm table.

Arms: "no ITT" (cells of task `none`) and "ITT: <task>" for every intermediate task of the study,
so an English-only vs multilingual study (tasks `nli-en`, `nli-multi`) gets both ITT arms, each
compared with no ITT and with each other. Every score is computed per seed first (from that
seed's per-language results, `score.py`'s convention) and then averaged, so the CI is over seeds.
"""
from __future__ import annotations

import csv
import io
import itertools
import statistics

from hpc_itt.config.schema import StudyConfig
from hpc_itt.stats import paired
from hpc_itt.study import plan
from hpc_itt.train.metrics import percent
from hpc_itt.xtreme import score, tasks

TASK_LABELS = {"xnli": "XNLI", "xcopa": "XCOPA", "udpos": "UD-POS", "panx": "PAN-X", "xquad": "XQuAD",
               "mlqa": "MLQA", "tydiqa": "TyDiQA", "tatoeba": "Tatoeba", "lareqa": "LAReQA", "mewslix": "Mewsli-X"}


def targets(study: StudyConfig) -> list[str]:
    return [t for t in study.targets if t in tasks.TASKS]


def arms(study: StudyConfig) -> list[tuple[str, str, str]]:
    """(label, task of the cells, arm)."""
    out = [("no ITT", plan.NO_TASK, "no_itt")] if "no_itt" in study.arms else []
    if "itt" in study.arms:
        out += [(f"ITT: {task}", task, "itt") for task in study.tasks]
    return out


def collect(study: StudyConfig, ledger) -> dict:
    """{model: {arm label: {"seeds": {seed: {target: per-language metrics (0-100)}}}}} and the missing cells."""
    found, missing = {}, []
    for model in study.models:
        for label, task, arm in arms(study):
            seeds = {}
            for seed in study.seeds:
                for target in targets(study):
                    cell = plan.Cell(model, task, target, arm, seed)
                    metrics = ledger.metrics(cell)
                    if metrics is None:
                        missing.append(cell)
                        continue
                    seeds.setdefault(seed, {})[target] = {lang: percent(scores)  # XTREME-R's 0-100
                                                          for lang, scores in metrics["languages"].items()}
            found.setdefault(model, {})[label] = seeds
    return {"results": found, "missing": missing}


def seed_scores(study: StudyConfig, per_target: dict[str, dict]) -> dict[str, float | None]:
    """One seed's task scores, category scores and overall."""
    names = targets(study)
    task_scores = {t: score.task_score(t, per_target[t], _languages(study, t), study.xtreme.qa_metric)
                   if t in per_target else None for t in names}
    out = dict(task_scores)
    out.update(score.category_scores(task_scores, names))
    out["overall"] = score.overall(task_scores, names)
    return out


def columns(study: StudyConfig) -> list[str]:
    names = targets(study)
    categories = [c for c, members in tasks.CATEGORIES.items() if any(t in names for t in members)]
    return names + categories + ["overall"]


def summarise(study: StudyConfig, collected: dict) -> dict:
    """Per model and arm: {column: (mean, std, n)} and per seed {column: value}."""
    table = {}
    for model, by_arm in collected["results"].items():
        for label, seeds in by_arm.items():
            per_seed = {seed: seed_scores(study, per_target) for seed, per_target in seeds.items()}
            stats = {}
            for col in columns(study):
                values = [s[col] for s in per_seed.values() if s.get(col) is not None]
                stats[col] = (statistics.fmean(values) if values else None,
                              statistics.stdev(values) if len(values) >= 2 else None, len(values))
            table.setdefault(model, {})[label] = {"stats": stats, "per_seed": per_seed}
    return table


def deltas(study: StudyConfig, table: dict) -> list[dict]:
    """Every ITT arm against no ITT, and ITT arms against each other (later − earlier task)."""
    labels = [label for label, _, _ in arms(study)]
    pairs = [(b, a) for a, b in itertools.combinations(labels, 2)]
    rows = []
    for model, by_arm in table.items():
        for better, base in pairs:
            row = {"model": model, "comparison": f"{better} − {base}"}
            for col in columns(study):
                x = {s: v[col] for s, v in by_arm[better]["per_seed"].items() if v.get(col) is not None}
                y = {s: v[col] for s, v in by_arm[base]["per_seed"].items() if v.get(col) is not None}
                common = sorted(set(x) & set(y))
                row[col] = statistics.fmean(x[s] - y[s] for s in common) if common else None
                if col == "overall":
                    row["test"] = paired(x, y)
            rows.append(row)
    return rows


def language_table(study: StudyConfig, collected: dict, model: str, target: str) -> list[dict]:
    """Rows per language: per arm the mean over seeds of each metric of the task."""
    metric_names = tasks.get(target).metrics
    rows = []
    for lang in _languages(study, target):
        row = {"language": lang}
        for label, seeds in collected["results"][model].items():
            for m in metric_names:
                values = [s[target][lang][m] for s in seeds.values() if target in s and lang in s[target]]
                row[(label, m)] = statistics.fmean(values) if values else None
        rows.append(row)
    return rows


def _languages(study: StudyConfig, target: str) -> tuple[str, ...]:
    return tasks.languages(tasks.get(target), study.xtreme.languages)


def _f(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ms(stat) -> str:
    mean, std, n = stat
    if mean is None:
        return "–"
    return f"{mean:.1f} ± {std:.1f}" if std is not None else f"{mean:.1f}"


def _col_label(col: str) -> str:
    return TASK_LABELS.get(col, col)


def markdown(study: StudyConfig, collected: dict) -> str:
    """The XTREME-R section; `collected` (from `collect`) saves reading the cells again."""
    if not targets(study):
        return ""
    table = summarise(study, collected)
    cols = columns(study)
    full = score.is_full_suite(targets(study)) and not study.xtreme.languages
    qa = "(F1 + EM) / 2" if study.xtreme.qa_metric == "mean_f1_em" else "F1"
    lines = ["## XTREME-R (zero-shot cross-lingual transfer)", "",
             f"Fine-tuned on English, evaluated on every listed language ({study.xtreme.eval_split} split"
             + (", test where a task has none" if study.xtreme.eval_split == "dev" else "")
             + f"); scores 0–100, mean ± sample std over seeds "
             f"{study.seeds}. Task score = mean over its languages (QA: {qa}); categories = mean of their tasks; "
             + ("overall = the XTREME-R score (mean of the 10 tasks)." if full else
                f"overall = mean of this study's {len(targets(study))} task(s) on its language sets — not the "
                f"XTREME-R score, which needs all 10 tasks on all their languages."),
             ""]
    reduced = {t: langs for t, langs in study.xtreme.languages.items() if t in targets(study)}
    if reduced:
        lines += ["Reduced language sets: " + "; ".join(f"{t}: {', '.join(l)}" for t, l in reduced.items()), ""]
    lines += ["### Scores per arm", "", "| model | arm | " + " | ".join(_col_label(c) for c in cols) + " |",
              "|---|---|" + "---|" * len(cols)]
    for model, by_arm in table.items():
        for label, entry in by_arm.items():
            lines.append(f"| {model} | {label} | " + " | ".join(_ms(entry["stats"][c]) for c in cols) + " |")
    delta_rows = deltas(study, table)
    if delta_rows:
        lines += ["", "### Δ between arms (paired over seeds)", "",
                  "| model | comparison | " + " | ".join(_col_label(c) for c in cols) + " | 95 % CI (overall) | p | verdict |",
                  "|---|---|" + "---|" * (len(cols) + 3)]
        for r in delta_rows:
            t = r["test"]
            ci = "–" if t["ci_low"] is None else f"[{t['ci_low']:+.2f}, {t['ci_high']:+.2f}]"
            p = "–" if t["p_value"] is None else f"{t['p_value']:.3f}"
            lines.append(f"| {r['model']} | {r['comparison']} | "
                         + " | ".join("–" if r[c] is None else f"{r[c]:+.2f}" for c in cols)
                         + f" | {ci} | {p} | {t['verdict']} |")
    for model in table:
        for target in targets(study):
            rows = language_table(study, collected, model, target)
            keys = [k for k in rows[0] if k != "language"]
            lines += ["", f"### {_col_label(target)} per language — {model}", "",
                      "| language | " + " | ".join(f"{label} {m}" for label, m in keys) + " |",
                      "|---|" + "---|" * len(keys)]
            lines += [f"| {r['language']} | " + " | ".join(_f(r[k]) for k in keys) + " |" for r in rows]
    if collected["missing"]:
        lines += ["", f"**Partial XTREME-R grid: {len(collected['missing'])} cell(s) have no result yet:**", ""]
        lines += [f"- `{c.key}`" for c in collected["missing"]]
    return "\n".join(lines) + "\n"


def summary(study: StudyConfig, collected: dict) -> str:
    """One paragraph: the overall score per model and arm, and each ITT arm's Δ against no ITT."""
    table = summarise(study, collected)
    name = "XTREME-R score" if score.is_full_suite(targets(study)) and not study.xtreme.languages else \
        f"mean score over {len(targets(study))} XTREME-R task(s)"
    sentences = []
    for model, by_arm in table.items():
        scores = ", ".join(f"{label} {_ms(entry['stats']['overall'])}" for label, entry in by_arm.items())
        sentences.append(f"{model}: {name} {scores}.")
    for row in deltas(study, table):
        if row["overall"] is not None:
            sentences.append(f"{row['model']} {row['comparison']}: Δ {row['overall']:+.2f} ({row['test']['verdict']}).")
    if collected["missing"]:
        sentences.append(f"The XTREME-R grid is partial: {len(collected['missing'])} cell(s) are missing.")
    return " ".join(sentences) if sentences else "No XTREME-R results yet."


def to_csv(study: StudyConfig, collected: dict) -> str:
    """Long format: one row per model, arm, seed, task, language and metric."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "arm", "seed", "task", "language", "metric", "value"])
    for model, by_arm in collected["results"].items():
        for label, seeds in by_arm.items():
            for seed, per_target in sorted(seeds.items()):
                for target, per_language in per_target.items():
                    for lang, scores in per_language.items():
                        for metric, value in scores.items():
                            writer.writerow([model, label, seed, target, lang, metric, value])
    return buffer.getvalue()
