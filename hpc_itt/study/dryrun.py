"""`--dry-run`: the plan of a stage — jobs, grid cells, output folders and their state — with no
submission and no network access."""
from __future__ import annotations

from hpc_itt import targets
from hpc_itt.config.registry import resolve_model
from hpc_itt.config.schema import StudyConfig
from hpc_itt.study import plan


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
            if done:
                from hpc_itt.study.provenance import Ledger

                done = "  [consolidated: skip]" if Ledger(study).consolidated(model, task) else "  [stale: --rerun-changed]"
            lines.append(f"    {model}/{task}: {plan.intermediate_dir(study, model, task)}{done or ''}")
    if stage in ("target", "all"):
        cells = targets.cells(study)
        states = _cell_states(study, cells)
        done = sum(state == "done" for state in states.values())
        suites = targets.suites_in(study)
        notes = [note for suite, names in suites if (note := suite.epochs_note(study, names))]
        epochs = notes[0] if notes else f"{study.target.epochs} epochs each"
        shared = [suite.name for suite, _ in suites if suite.shares_no_itt]
        shared = f" (no-ITT cells of {', '.join(shared)} shared by the tasks)" if shared else ""
        lines.append(f"  target grid: {len(cells)} cells = {len(study.models)} model(s) x {len(study.tasks)} task(s) x "
                     f"{len(study.targets)} target(s) x {len(study.arms)} arm(s) x {len(study.seeds)} seed(s){shared}; "
                     f"{done} done, {len(cells) - done} to run ({epochs})")
        for suite, names in suites:
            lines += suite.estimate(study, names, [c for c in cells if c.target in names])
        for cell in cells:
            state = states[cell]
            lines.append(f"    [{state:7}] {cell.key}  →  {plan.cell_dir(study, cell)}")
    return "\n".join(lines)


def _cell_states(study: StudyConfig, cells: list) -> dict:
    """done / stale (made with other settings: --rerun-changed) / pending. The settings of a run
    are only computed where something is on disk, so planning a fresh study builds nothing."""
    finished = [cell for cell in cells if plan.is_done(study, cell)]
    if not finished:
        return {cell: "pending" for cell in cells}
    from hpc_itt.study.provenance import Ledger

    ledger = Ledger(study)
    return {cell: ("done" if ledger.done(cell) else "stale") if cell in finished else "pending" for cell in cells}
