"""The target registry: every kind of target a study can name, one suite per family.

    sequence   the targets of the YAML tasks (configs/tasks/*.yaml `targets:`): sequence
               classification or regression, trained with and without ITT
    xtreme     XTREME-R (Ruder et al., 2021): ten tasks, trained on English, scored zero-shot
               per language (`xtreme-r` names them all)
    django     multilingual sentence retrieval on the Django translation catalogues, zero-shot

A new suite is one module with a `TargetSuite` subclass (hpc_itt.targets.base) and one line in
SUITES. The grid (`cells`), the stages, the report and the dry run only call the suite of a target.
Order matters: the first suite that owns a name gets it; `sequence` owns what is left.
"""
from __future__ import annotations

import itertools

from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError, choices
from hpc_itt.study.plan import NO_TASK, Cell
from hpc_itt.targets.base import Section, TargetSuite, UnknownTarget
from hpc_itt.targets.django import DjangoRetrieval
from hpc_itt.targets.sequence import SequenceTargets
from hpc_itt.targets.xtreme import XtremeR

SUITES: tuple[TargetSuite, ...] = (XtremeR(), DjangoRetrieval(), SequenceTargets())

__all__ = ["SUITES", "Section", "TargetSuite", "cells", "check", "expand", "suite_of", "suites_in"]


def suite_of(target: str) -> TargetSuite:
    return next(suite for suite in SUITES if suite.owns(target))


def suites_in(study: StudyConfig) -> list[tuple[TargetSuite, list[str]]]:
    """The study's suites, each with its targets, in the order the study names them."""
    out: dict[str, tuple[TargetSuite, list[str]]] = {}
    for target in study.targets:
        suite = suite_of(target)
        out.setdefault(suite.name, (suite, []))[1].append(target)
    return list(out.values())


def expand(targets: list[str]) -> list[str]:
    """Aliases (`xtreme-r`) replaced by the targets they stand for, duplicates dropped."""
    out: list[str] = []
    for target in targets:
        names = next((found for suite in SUITES if (found := suite.expand(target)) is not None), [target])
        out += [name for name in names if name not in out]
    return out


def check(study: StudyConfig) -> None:
    """Every suite checks the study, with the targets it owns there (none: only its config)."""
    mine = {suite.name: names for suite, names in suites_in(study)}
    for suite in SUITES:
        try:
            suite.check(study, mine.get(suite.name, []))
        except UnknownTarget as err:
            raise UserError(f"{err} (valid: {all_choices(study)})") from None


def all_choices(study: StudyConfig) -> str:
    return choices([name for suite in SUITES for name in suite.choices(study)])


def cells(study: StudyConfig) -> list[Cell]:
    """The grid, models x tasks x targets x arms x seeds; a suite that shares its no-ITT cells has
    them once per model and seed (task `none`) instead of once per task."""
    out: dict[Cell, None] = {}
    for model, task, target, arm, seed in itertools.product(study.models, study.tasks, study.targets, study.arms,
                                                            study.seeds):
        shared = arm == "no_itt" and suite_of(target).shares_no_itt
        out[Cell(model, NO_TASK if shared else task, target, arm, seed)] = None
    return list(out)
