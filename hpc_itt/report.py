"""The study's answer: per model, task and target, the test metric without and with ITT (mean ±
sample std over seeds), Δ = with − without, a paired t-test over seeds with its 95 % confidence
interval for Δ, and the verdict (positive / negative / not significant). Written as Markdown, CSV
and LaTeX, with plots and a one-paragraph summary. Missing cells are listed, never dropped."""
from __future__ import annotations

import csv
import io
import math
import statistics

from scipy import stats

from hpc_itt import atomic, plan, provenance
from hpc_itt.config.load import resolve_task
from hpc_itt.config.schema import StudyConfig
from hpc_itt.train.metrics import PRIMARY
from hpc_itt.xtreme import report as xtreme_report
from hpc_itt.xtreme.tasks import is_xtreme

COLUMNS = ["model", "task", "target", "metric", "no_itt_mean", "no_itt_std", "no_itt_n",
           "itt_mean", "itt_std", "itt_n", "delta", "paired_n", "ci_low", "ci_high", "p_value", "verdict"]
ALPHA = 0.05


def collect(study: StudyConfig, ledger: provenance.Ledger | None = None) -> tuple[list[dict], list[plan.Cell]]:
    """Table rows, and the cells that have no result yet (made with the current settings)."""
    ledger = ledger or provenance.Ledger(study)
    rows, missing = [], []
    for model in study.models:
        for task in study.tasks:
            metric = PRIMARY[resolve_task(task).kind]
            for target in [t for t in study.targets if not is_xtreme(t)]:
                row = {"model": model, "task": task, "target": target, "metric": metric}
                by_seed = {}
                for arm in ("no_itt", "itt"):
                    by_seed[arm] = {}
                    for seed in study.seeds:
                        cell = plan.Cell(model, task, target, arm, seed)
                        found = ledger.metrics(cell) if arm in study.arms else None
                        if found is None:
                            if arm in study.arms:
                                missing.append(cell)
                            continue
                        by_seed[arm][seed] = found["test"][metric]
                    row.update(_stats(arm, list(by_seed[arm].values())))
                both = row["itt_mean"] is not None and row["no_itt_mean"] is not None
                row["delta"] = row["itt_mean"] - row["no_itt_mean"] if both else None
                row.update(paired(by_seed["itt"], by_seed["no_itt"]))
                rows.append(row)
    return rows, missing


def _stats(arm: str, values: list[float]) -> dict:
    mean = statistics.fmean(values) if values else None
    std = statistics.stdev(values) if len(values) >= 2 else None
    return {f"{arm}_mean": mean, f"{arm}_std": std, f"{arm}_n": len(values)}


def paired(itt: dict[int, float], no_itt: dict[int, float]) -> dict:
    """Paired over seeds (same seed = same head init and data order in both arms): t-test on the
    per-seed differences and the t-interval for their mean. Needs 3 pairs to say anything."""
    seeds = sorted(set(itt) & set(no_itt))
    diffs = [itt[s] - no_itt[s] for s in seeds]
    out = {"paired_n": len(diffs), "ci_low": None, "ci_high": None, "p_value": None}
    if len(diffs) < 3:
        out["verdict"] = "too few seeds" if diffs else "–"
        return out
    mean, sd = statistics.fmean(diffs), statistics.stdev(diffs)
    half = stats.t.ppf(1 - ALPHA / 2, len(diffs) - 1) * sd / math.sqrt(len(diffs))
    p = 1.0 if sd == 0 and mean == 0 else (0.0 if sd == 0 else float(stats.ttest_1samp(diffs, 0.0).pvalue))
    out.update(ci_low=mean - half, ci_high=mean + half, p_value=p)
    out["verdict"] = "not significant" if p >= ALPHA else ("positive" if mean > 0 else "negative")
    return out


def best_models(rows: list[dict]) -> list[dict]:
    """Per task and target: the model and arm with the highest mean."""
    best = {}
    for r in rows:
        for arm in ("itt", "no_itt"):
            value = r[f"{arm}_mean"]
            key = (r["task"], r["target"])
            if value is not None and (key not in best or value > best[key]["value"]):
                best[key] = {"task": r["task"], "target": r["target"], "model": r["model"], "arm": arm,
                             "value": value, "metric": r["metric"]}
    return list(best.values())


def _fmt(mean, std) -> str:
    if mean is None:
        return "–"
    return f"{mean:.4f} ± {std:.4f}" if std is not None else f"{mean:.4f}"


def _ci(r) -> str:
    return "–" if r["ci_low"] is None else f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"


def _p(r) -> str:
    return "–" if r["p_value"] is None else f"{r['p_value']:.3f}"


def markdown(study: StudyConfig, rows: list[dict], missing: list[plan.Cell], xtreme_cells: dict | None = None,
             not_counted: str = "") -> str:
    head = [f"# ITT study `{study.name}`", ""] + ([f"**{not_counted}**", ""] if not_counted else [])
    xtreme = xtreme_report.markdown(study, xtreme_cells)
    if not rows and xtreme:  # an XTREME-R-only study
        return "\n".join(head) + "\n" + xtreme
    return "\n".join(head) + "\n" + _study_table(study, rows, missing) + ("\n" + xtreme if xtreme else "")


def _study_table(study: StudyConfig, rows: list[dict], missing: list[plan.Cell]) -> str:
    lines = [f"Test-split metric per cell (accuracy for classification, Pearson r for regression), "
             f"mean ± sample std over seeds {study.seeds}; Δ = with ITT − without ITT; 95 % CI and p from "
             f"a paired t-test over seeds (verdict at α = {ALPHA}, needs ≥ 3 paired seeds).", "",
             "| model | task | target | metric | without ITT | with ITT | Δ | 95 % CI | p | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        delta = "–" if r["delta"] is None else f"{r['delta']:+.4f}"
        lines.append(f"| {r['model']} | {r['task']} | {r['target']} | {r['metric']} | "
                     f"{_fmt(r['no_itt_mean'], r['no_itt_std'])} (n={r['no_itt_n']}) | "
                     f"{_fmt(r['itt_mean'], r['itt_std'])} (n={r['itt_n']}) | {delta} | {_ci(r)} | {_p(r)} | "
                     f"{r['verdict']} |")
    lines += ["", "**Best per target:** " + "; ".join(
        f"{b['task']}/{b['target']}: {b['model']} ({'with' if b['arm'] == 'itt' else 'without'} ITT, "
        f"{b['metric']} {b['value']:.4f})" for b in best_models(rows)), "", summary(rows, missing)]
    if missing:
        lines += ["", f"**Partial grid: {len(missing)} cell(s) have no result yet:**", ""]
        lines += [f"- `{c.key}`" for c in missing]
    return "\n".join(lines) + "\n"


def summary(rows: list[dict], missing: list[plan.Cell]) -> str:
    compared = [r for r in rows if r["delta"] is not None]
    if not compared:
        return "No target has results for both arms yet."
    helped = [r for r in compared if r["delta"] > 0]
    verdicts = {v: sum(r["verdict"] == v for r in compared) for v in ("positive", "negative", "not significant")}
    biggest = max(compared, key=lambda r: abs(r["delta"]))
    text = (f"ITT raised the mean test {compared[0]['metric'] if len({r['metric'] for r in compared}) == 1 else 'metric'} "
            f"in {len(helped)} of {len(compared)} model/target pairs. With a paired t-test over seeds, transfer was "
            f"positive in {verdicts['positive']}, negative in {verdicts['negative']} and not significant in "
            f"{verdicts['not significant']}")
    few = len(compared) - sum(verdicts.values())
    text += f" ({few} had too few seeds to test)." if few else "."
    text += (f" The largest effect: {biggest['model']} on {biggest['task']}/{biggest['target']}, "
             f"Δ = {biggest['delta']:+.4f}.")
    if missing:
        text += f" The grid is partial: {len(missing)} cell(s) are missing."
    return text


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    return buffer.getvalue()


def latex(study: StudyConfig, rows: list[dict]) -> str:
    def tex(text: str) -> str:
        return str(text).replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")

    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{llllrrrl}", r"\toprule",
             r"Model & Task & Target & Metric & w/o ITT & w/ ITT & $\Delta$ & Verdict \\", r"\midrule"]
    for r in rows:
        cell = lambda m, s: "--" if m is None else (f"{m:.3f} $\\pm$ {s:.3f}" if s is not None else f"{m:.3f}")  # noqa: E731
        delta = "--" if r["delta"] is None else f"{r['delta']:+.3f}"
        lines.append(f"{tex(r['model'])} & {tex(r['task'])} & {tex(r['target'])} & {tex(r['metric'])} & "
                     f"{cell(r['no_itt_mean'], r['no_itt_std'])} & {cell(r['itt_mean'], r['itt_std'])} & {delta} & "
                     f"{tex(r['verdict'])} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}",
              f"\\caption{{ITT study {tex(study.name)}: test metric, mean $\\pm$ std over seeds; "
              f"$\\Delta$ = with $-$ without ITT; verdict from a paired t-test over seeds ($\\alpha={ALPHA}$).}}",
              r"\end{table}"]
    return "\n".join(lines) + "\n"


def _summary_text(study: StudyConfig, rows: list[dict], missing: list[plan.Cell], xtreme_cells: dict | None) -> str:
    parts = [summary(rows, missing)] if rows or not xtreme_cells else []
    if xtreme_cells:
        parts.append(xtreme_report.summary(study, xtreme_cells))
    return " ".join(parts) + "\n"


def write(study: StudyConfig) -> dict:
    ledger = provenance.Ledger(study)
    rows, missing = collect(study, ledger)
    xtreme_cells = xtreme_report.collect(study, ledger) if xtreme_report.targets(study) else None  # read once
    not_counted = provenance.not_counted_note(ledger)
    out = plan.root(study) / "report"
    out.mkdir(parents=True, exist_ok=True)
    files = {"report.md": markdown(study, rows, missing, xtreme_cells, not_counted),
             "summary.txt": _summary_text(study, rows, missing, xtreme_cells) + (not_counted + "\n" if not_counted else "")}
    if rows:
        files.update({"report.csv": to_csv(rows), "report.tex": latex(study, rows)})
    if xtreme_cells:
        files["xtreme.csv"] = xtreme_report.to_csv(study, xtreme_cells)
        missing = missing + xtreme_cells["missing"]
    for name, text in files.items():
        atomic.write_text(out / name, text)
    from hpc_itt import report_plots

    plots = report_plots.write_all(study, rows, out)
    return {"dir": str(out), "rows": rows, "missing": [c.key for c in missing], "markdown": files["report.md"],
            "plots": plots, "not_counted": sorted(ledger.not_current)}

