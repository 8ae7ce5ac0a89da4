"""The YAML tasks' targets (configs/tasks/*.yaml `targets:`): sequence classification or
regression, fine-tuned with and without ITT from the task's intermediate checkpoint. Their report
section: per model, task and target, the test metric without and with ITT (mean ± sample std
over seeds), Δ = with − without, a paired t-test over seeds with its 95 % CI, and the verdict;
as Markdown, CSV and LaTeX."""
from __future__ import annotations

import csv
import io

from hpc_itt.config.flat import flat
from hpc_itt.config.registry import resolve_task
from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError
from hpc_itt.stats import ALPHA, arm_stats, paired
from hpc_itt.study import plan
from hpc_itt.targets.base import Section, TargetSuite, UnknownTarget
from hpc_itt.train.head import SequenceHead
from hpc_itt.train.metrics import PRIMARY


class SequenceTargets(TargetSuite):
    name = "sequence"

    def owns(self, target: str) -> bool:
        return True  # last in the registry: every name no other suite owns is a task's own target

    def choices(self, study: StudyConfig) -> list[str]:
        return sorted({t for name in study.tasks for t in resolve_task(name).targets})

    def check(self, study: StudyConfig, targets: list[str]) -> None:
        for task_name in study.tasks:
            task = resolve_task(task_name)
            for target in targets:
                if target not in task.targets:
                    raise UnknownTarget(task_name, target)
            for target in targets:
                check_dataset(study, task_name, task.targets[target])

    def cell_settings(self, study: StudyConfig, cell: plan.Cell) -> dict:
        return flat("target.dataset", getattr(resolve_task(cell.task).targets[cell.target], study.data.source))

    def prepare(self, study: StudyConfig, model: str, targets: list[str], tokenizer, say) -> list[tuple]:
        from hpc_itt.data.prepare import prepare as prepare_dataset
        from hpc_itt.data.sources import describe, source_of

        out = []
        for task_name in study.tasks:
            task = resolve_task(task_name)
            for target in targets:
                dataset = task.targets[target]
                splits = prepare_dataset(dataset, task.kind, study.data, tokenizer, study.target.max_length,
                                         study.target.max_train_examples, study.target.max_eval_examples)
                say(f"prepared {model}/{task_name}/{target}: {', '.join(f'{k} {len(v)}' for k, v in splits.items())}")
                out.append((f"{model}/{task_name}/{target}", describe(source_of(dataset, study.data.source)), splits))
        return out

    def run_cell(self, study: StudyConfig, cell: plan.Cell, model_source: str) -> dict:
        from hpc_itt.train import loop

        return loop.run(target_job(study, cell, model_source))

    def report(self, study: StudyConfig, targets: list[str], ledger) -> Section:
        rows, missing = collect(study, ledger, targets)
        return Section(markdown=table(study, rows, missing), summary=summary(rows, missing),
                       files={"report.csv": to_csv(rows), "report.tex": latex(study, rows)},
                       missing=missing, plot_rows=rows)


def check_dataset(study: StudyConfig, task_name: str, dataset) -> None:
    """A dataset of a task (its intermediate or a target) can be loaded as the study asks."""
    task = resolve_task(task_name)
    if task.kind == "regression" and dataset.num_labels != 1:
        raise UserError(f"task {task_name!r} is a regression: {dataset.description!r} needs num_labels: 1")
    if getattr(dataset, study.data.source) is None:
        raise UserError(f"task {task_name!r} has no {study.data.source!r} source for "
                        f"{dataset.description or 'a dataset'} (set data.source to the other one)")


def target_job(study: StudyConfig, cell: plan.Cell, model_source: str):
    from hpc_itt.train.loop import TrainJob

    spec = resolve_task(cell.task)
    return TrainJob(
        name=f"target {cell.key}", model_source=plan.cell_source(study, cell, model_source),
        head=SequenceHead.for_dataset(spec.targets[cell.target], study.data, spec.kind), data=study.data,
        train=study.target, out_dir=str(plan.cell_dir(study, cell)),
        tb_dir=str(plan.tb_dir(study, "target", cell.key)), seed=cell.seed, launcher="submitit",
        hparams=plan.cell_hparams(study, cell, study.target, study.target.epochs))


# ---- the report section ----------------------------------------------------------------------------
COLUMNS = ["model", "task", "target", "metric", "no_itt_mean", "no_itt_std", "no_itt_n",
           "itt_mean", "itt_std", "itt_n", "delta", "paired_n", "ci_low", "ci_high", "p_value", "verdict"]


def collect(study: StudyConfig, ledger, targets: list[str] | None = None) -> tuple[list[dict], list[plan.Cell]]:
    """Table rows, and the cells that have no result yet (made with the current settings);
    `ledger` is a provenance.Ledger (results only where they match the current settings)."""
    targets = [t for t in study.targets if t in targets] if targets is not None else study.targets
    rows, missing = [], []
    for model in study.models:
        for task in study.tasks:
            metric = PRIMARY[resolve_task(task).kind]
            for target in targets:
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
                    row.update(arm_stats(arm, list(by_seed[arm].values())))
                both = row["itt_mean"] is not None and row["no_itt_mean"] is not None
                row["delta"] = row["itt_mean"] - row["no_itt_mean"] if both else None
                row.update(paired(by_seed["itt"], by_seed["no_itt"]))
                rows.append(row)
    return rows, missing


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


def table(study: StudyConfig, rows: list[dict], missing: list[plan.Cell]) -> str:
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
