"""`--dry-run`: the plan of a stage — jobs, grid cells, output folders and their state — with no
submission and no network access."""
from __future__ import annotations

from hpc_itt import plan
from hpc_itt.config.load import resolve_model
from hpc_itt.config.schema import StudyConfig


def describe(study: StudyConfig, stage: str) -> str:
    c = study.cluster
    lines = [f"study {study.name!r} — stage {stage!r} on cluster kind {c.kind!r} (dry run: nothing is submitted)",
             f"  output: {plan.root(study)}", f"  tensorboard: {study.logdir}/{study.name}",
             f"  data source: {study.data.source}, split {study.data.train_fraction:.0%} train / "
             f"{study.data.eval_fraction:.0%} validation / rest test (seed {study.data.split_seed})", "  models:"]
    for name in study.models:
        spec = resolve_model(name)
        lines.append(f"    {name}: {spec.hub_id or spec.asset or spec.path}")
    if stage in ("prepare", "intermediate", "consolidate", "all"):
        t = study.intermediate
        lines.append(f"  intermediate jobs ({c.nodes} node(s) x {c.tasks_per_node} process(es), ZeRO-{t.zero_stage}, "
                     f"{t.precision}, {t.epochs} epochs):")
        for model, task in plan.intermediate_pairs(study):
            done = (plan.consolidated_dir(study, model, task) / "manifest.json").is_file()
            lines.append(f"    {model}/{task}: {plan.intermediate_dir(study, model, task)}"
                         f"{'  [consolidated: skip]' if done else ''}")
    if stage in ("target", "all"):
        cells = plan.cells(study)
        done = sum(plan.is_done(study, cell) for cell in cells)
        lines.append(f"  target grid: {len(cells)} cells = {len(study.models)} model(s) x {len(study.tasks)} task(s) x "
                     f"{len(study.targets)} target(s) x {len(study.arms)} arm(s) x {len(study.seeds)} seed(s); "
                     f"{done} done, {len(cells) - done} to run ({study.target.epochs} epochs each)")
        for cell in cells:
            state = "done" if plan.is_done(study, cell) else "pending"
            lines.append(f"    [{state:7}] {cell.key}  →  {plan.cell_dir(study, cell)}")
    return "\n".join(lines)
