"""The study's table: per model, task and target, the test metric without and with ITT (mean ±
sample std over seeds) and Δ = with − without. Missing cells are listed, never silently dropped."""
from __future__ import annotations

import csv
import io
import os
import statistics
from pathlib import Path

from hpc_itt import plan
from hpc_itt.config.load import resolve_task
from hpc_itt.config.schema import StudyConfig
from hpc_itt.train.metrics import PRIMARY

COLUMNS = ["model", "task", "target", "metric", "no_itt_mean", "no_itt_std", "no_itt_n",
           "itt_mean", "itt_std", "itt_n", "delta"]


def collect(study: StudyConfig) -> tuple[list[dict], list[plan.Cell]]:
    """Table rows, and the cells that have no result yet."""
    rows, missing = [], []
    for model in study.models:
        for task in study.tasks:
            metric = PRIMARY[resolve_task(task).kind]
            for target in study.targets:
                row = {"model": model, "task": task, "target": target, "metric": metric}
                for arm in ("no_itt", "itt"):
                    values = []
                    for seed in study.seeds:
                        cell = plan.Cell(model, task, target, arm, seed)
                        found = plan.read_metrics(study, cell) if arm in study.arms else None
                        if found is None:
                            if arm in study.arms:
                                missing.append(cell)
                            continue
                        values.append(found["test"][metric])
                    row.update(_stats(arm, values))
                both = row["itt_mean"] is not None and row["no_itt_mean"] is not None
                row["delta"] = row["itt_mean"] - row["no_itt_mean"] if both else None
                rows.append(row)
    return rows, missing


def _stats(arm: str, values: list[float]) -> dict:
    mean = statistics.fmean(values) if values else None
    std = statistics.stdev(values) if len(values) >= 2 else None
    return {f"{arm}_mean": mean, f"{arm}_std": std, f"{arm}_n": len(values)}


def _fmt(mean, std) -> str:
    if mean is None:
        return "–"
    return f"{mean:.4f} ± {std:.4f}" if std is not None else f"{mean:.4f}"


def markdown(study: StudyConfig, rows: list[dict], missing: list[plan.Cell]) -> str:
    lines = [f"# ITT study `{study.name}`", "",
             f"Test-split metric per cell (accuracy for classification, Pearson r for regression), "
             f"mean ± sample std over seeds {study.seeds}; Δ = with ITT − without ITT.", "",
             "| model | task | target | metric | without ITT | with ITT | Δ |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        delta = "–" if r["delta"] is None else f"{r['delta']:+.4f}"
        lines.append(f"| {r['model']} | {r['task']} | {r['target']} | {r['metric']} | "
                     f"{_fmt(r['no_itt_mean'], r['no_itt_std'])} (n={r['no_itt_n']}) | "
                     f"{_fmt(r['itt_mean'], r['itt_std'])} (n={r['itt_n']}) | {delta} |")
    if missing:
        lines += ["", f"**Partial grid: {len(missing)} cell(s) have no result yet:**", ""]
        lines += [f"- `{c.key}`" for c in missing]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    return buffer.getvalue()


def write(study: StudyConfig) -> dict:
    rows, missing = collect(study)
    out = plan.root(study) / "report"
    out.mkdir(parents=True, exist_ok=True)
    files = {"report.md": markdown(study, rows, missing), "report.csv": to_csv(rows)}
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out / name)
    return {"dir": str(out), "rows": rows, "missing": [c.key for c in missing], "markdown": files["report.md"]}


def report_path(study: StudyConfig) -> Path:
    return plan.root(study) / "report" / "report.md"
