"""The protocol every target suite implements: what the grid, the stages, the report and the dry
run need from a family of targets. One suite owns one or more target names of a study."""
from __future__ import annotations

from dataclasses import dataclass, field

from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError


class UnknownTarget(UserError):
    """A task has no target of this name; the registry adds every suite's choices to the line."""

    def __init__(self, task: str, target: str):
        super().__init__(f"task {task!r} has no target {target!r}")


@dataclass
class Section:
    """A suite's part of the report: Markdown (ends with a newline), a one-paragraph summary,
    extra files (name -> text), the cells still missing, and rows for the Δ plot (optional)."""

    markdown: str
    summary: str
    files: dict[str, str] = field(default_factory=dict)
    missing: list = field(default_factory=list)
    plot_rows: list[dict] = field(default_factory=list)


class TargetSuite:
    """Subclass, implement, and register the instance in `hpc_itt.targets.SUITES`."""

    name: str
    # No-ITT cells of this suite do not depend on the intermediate task (the target's data and
    # head are its own): they run once per model and seed under task `none`, shared by all tasks.
    shares_no_itt: bool = False

    def owns(self, target: str) -> bool:
        """Whether `target` (a name in a study's `targets`) is one of this suite's."""
        raise NotImplementedError

    def expand(self, target: str) -> list[str] | None:
        """The targets an alias stands for (`xtreme-r` -> its ten tasks); None: not an alias."""
        return None

    def choices(self, study: StudyConfig) -> list[str]:
        """Target names this suite offers (listed in the error for an unknown target)."""
        return []

    def check(self, study: StudyConfig, targets: list[str]) -> None:
        """Raise a one-line UserError where the study cannot run these targets."""

    def cell_settings(self, study: StudyConfig, cell) -> dict:
        """Flat settings (`a.b` keys) the cell's result depends on, besides the model, data split
        and training settings that every cell records."""
        raise NotImplementedError

    def prepare(self, study: StudyConfig, model: str, targets: list[str], tokenizer, say) -> list[tuple]:
        """Load and tokenize the targets' data into the shared caches, on the submitting node;
        returns (what, source description, {split: dataset}) per tokenized set."""
        raise NotImplementedError

    def run_cell(self, study: StudyConfig, cell, model_source: str) -> dict:
        """Train and score one grid cell; the result has primary_metric, test, validation,
        selected, steps, model_source (and `languages` where scored per language)."""
        raise NotImplementedError

    def report(self, study: StudyConfig, targets: list[str], ledger) -> Section | None:
        raise NotImplementedError

    def estimate(self, study: StudyConfig, targets: list[str], cells: list) -> list[str]:
        """Dry-run lines: a compute estimate for these cells (none by default)."""
        return []

    def epochs_note(self, study: StudyConfig, targets: list[str]) -> str | None:
        """How many epochs a cell trains, where the study's `target.epochs` does not say."""
        return None
