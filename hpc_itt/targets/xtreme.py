"""XTREME-R as a target suite: the ten tasks of `hpc_itt.xtreme`, each trained on English and
scored zero-shot on every language of its list. The only place the rest of the project meets
XTREME-R; the suite's own modules (tasks, formats, heads, runner, report, estimate) live in
`hpc_itt.xtreme`."""
from __future__ import annotations

from pathlib import Path

from hpc_itt.config.flat import flat
from hpc_itt.config.registry import resolve_task
from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError
from hpc_itt.targets.base import Section, TargetSuite
from hpc_itt.train.metrics import SCALE as METRIC_SCALE
from hpc_itt.xtreme import estimate, runner, tasks
from hpc_itt.xtreme import report as xtreme_report

# Not what a cell computes: the dry run's estimate, the intermediate mixture (in the ITT settings),
# other tasks' language subsets.
_NOT_CELL = ("xtreme.gpu_samples_per_s", "xtreme.intermediate_languages", "xtreme.intermediate_parallel")


class XtremeR(TargetSuite):
    name = "xtreme"
    shares_no_itt = True  # a task's own English training data and head: no dependence on the ITT task

    def owns(self, target: str) -> bool:
        return target in tasks.TASKS or target == tasks.SUITE

    def expand(self, target: str) -> list[str] | None:
        return list(tasks.TASKS) if target == tasks.SUITE else None

    def choices(self, study: StudyConfig) -> list[str]:
        return [tasks.SUITE, *tasks.TASKS]

    def check(self, study: StudyConfig, targets: list[str]) -> None:
        for name in study.xtreme.languages:
            tasks.languages(tasks.get(name), study.xtreme.languages)  # names the bad value
        uses_data = bool(targets) or any(getattr(getattr(resolve_task(t).intermediate, study.data.source), "xtreme", None)
                                         for t in study.tasks)
        if uses_data and study.data.source == "offline" and not study.data.xtreme_dir:
            raise UserError("XTREME-R data offline needs data.xtreme_dir (the folder download_data.sh of "
                            "google-research/xtreme fills), or data.source=hub")
        if study.data.xtreme_dir and not Path(study.data.xtreme_dir).is_dir():
            raise UserError(f"data.xtreme_dir: {study.data.xtreme_dir} is not a directory")

    def cell_settings(self, study: StudyConfig, cell) -> dict:
        from hpc_itt.xtreme.formats import HUB

        task = tasks.get(cell.target)
        out = {k: v for k, v in flat("xtreme", study.xtreme).items() if k not in _NOT_CELL}
        out["xtreme.languages"] = study.xtreme.languages.get(cell.target)
        out["metrics.scale"] = METRIC_SCALE  # results stored 0-100 before are not read as fractions
        out["xtreme.hub"] = {name: [h._asdict() for h in HUB.get(name, ())]
                             for name in (*task.train, task.dev, task.test) if name}
        return out

    def prepare(self, study: StudyConfig, model: str, targets: list[str], tokenizer, say) -> list[tuple]:
        out = []
        for target in targets:
            for phase, splits in runner.prepare_target(study, target, tokenizer).items():
                say(f"prepared {model}/{target} [{phase}]: {len(splits)} split(s), "
                    f"{sum(len(v) for v in splits.values())} rows")
                out.append((f"{model}/{target}/{phase}", f"xtreme:{target}", splits))
        return out

    def run_cell(self, study: StudyConfig, cell, model_source: str) -> dict:
        return runner.run_cell(study, cell, model_source)

    def report(self, study: StudyConfig, targets: list[str], ledger) -> Section:
        collected = xtreme_report.collect(study, ledger)
        return Section(markdown=xtreme_report.markdown(study, collected),
                       summary=xtreme_report.summary(study, collected),
                       files={"xtreme.csv": xtreme_report.to_csv(study, collected)}, missing=collected["missing"])

    def estimate(self, study: StudyConfig, targets: list[str], cells: list) -> list[str]:
        return estimate.table(study, cells)

    def epochs_note(self, study: StudyConfig, targets: list[str]) -> str | None:
        return "XTREME-R epochs per task below" if study.xtreme.task_defaults else None
