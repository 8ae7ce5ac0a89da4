"""The report's figures: Δ per model and target with its 95 % CI, and the intermediate stage's
learning curves read back from TensorBoard event files."""
from __future__ import annotations

from pathlib import Path

from hpc_itt import atomic
from hpc_itt.config.schema import StudyConfig
from hpc_itt.study import plan


def write_all(study: StudyConfig, rows: list[dict], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")  # no display on cluster nodes
    written = []
    if any(r["delta"] is not None for r in rows):
        written.append(_save(delta_plot(rows), out / "delta.png"))
    curves = intermediate_curves(study)
    if curves:
        written.append(_save(curves_plot(curves), out / "intermediate_curves.png"))
    return written


def delta_plot(rows: list[dict]):
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r["delta"] is not None]
    labels = [f"{r['model']}\n{r['task']}/{r['target']}" for r in shown]
    deltas = [r["delta"] for r in shown]
    errors = [[r["delta"] - r["ci_low"] if r["ci_low"] is not None else 0 for r in shown],
              [r["ci_high"] - r["delta"] if r["ci_high"] is not None else 0 for r in shown]]
    colours = ["tab:green" if r["verdict"] == "positive" else "tab:red" if r["verdict"] == "negative" else "tab:gray"
               for r in shown]
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(shown)), 4))
    ax.bar(range(len(shown)), deltas, yerr=errors, color=colours, capsize=4)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(shown)), labels, fontsize=8)
    ax.set_ylabel("Δ test metric (with − without ITT)")
    ax.set_title("ITT effect per model and target", fontsize=10)
    ax.text(0.01, 0.98, "bars: 95 % CI over seeds (≥ 3 paired seeds)", transform=ax.transAxes, va="top", fontsize=7)
    fig.tight_layout()
    return fig


def intermediate_curves(study: StudyConfig) -> dict[str, dict[str, list[tuple[int, float]]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    curves = {}
    for model, task in plan.intermediate_pairs(study):
        run = plan.tb_dir(study, "intermediate", model, task)
        if not run.is_dir():
            continue
        acc = EventAccumulator(str(run))
        acc.Reload()
        tags = set(acc.Tags()["scalars"])
        curves[f"{model}/{task}"] = {tag: [(e.step, e.value) for e in acc.Scalars(tag)]
                                     for tag in ("train/loss", "eval/accuracy", "eval/pearson") if tag in tags}
    return curves


def curves_plot(curves: dict):
    import matplotlib.pyplot as plt

    fig, (loss_ax, eval_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for name, series in curves.items():
        if "train/loss" in series:
            loss_ax.plot(*zip(*series["train/loss"]), label=name)
        for tag in ("eval/accuracy", "eval/pearson"):
            if tag in series:
                eval_ax.plot(*zip(*series[tag]), marker="o", label=f"{name} ({tag.split('/')[1]})")
    loss_ax.set(title="intermediate stage: training loss", xlabel="optimizer step", ylabel="loss")
    eval_ax.set(title="intermediate stage: validation", xlabel="optimizer step", ylabel="metric")
    for ax in (loss_ax, eval_ax):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    with atomic.replacing(path, suffix=path.suffix) as tmp:  # two reports at once: each its own temp file
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return str(path)
