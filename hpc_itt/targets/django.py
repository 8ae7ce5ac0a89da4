"""`django`: multilingual sentence retrieval on the translation catalogues the `django` wheel
ships (hpc_itt.data.django_translations), scored per language like XTREME-R's Tatoeba: each
sentence in the language retrieves its English original among all English rows of that language
(accuracy of the nearest neighbour, mean-pooled middle layer, 0-100). Zero-shot: nothing is
trained; the ITT arm scores the consolidated ITT encoder, the no-ITT arm the model itself, so the
no-ITT cells are shared by every task."""
from __future__ import annotations

from dataclasses import dataclass

from hpc_itt.config.flat import flat
from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError, choices
from hpc_itt.study import plan
from hpc_itt.targets.base import Section, TargetSuite
from hpc_itt.train.metrics import SCALE as METRIC_SCALE
from hpc_itt.xtreme.heads import EmbeddingHead
from hpc_itt.xtreme.tasks import XtremeTask

NAME = "django"


def languages(study: StudyConfig) -> tuple[str, ...]:
    from hpc_itt.data import django_translations

    usable = django_translations.languages(study.django.min_pairs)
    wanted = study.django.languages or usable
    unknown = [lang for lang in wanted if lang not in usable]
    if unknown:
        raise UserError(f"django.languages: {unknown[0]!r} has no catalogue with >= {study.django.min_pairs} "
                        f"usable pairs (valid: {choices(usable)})")
    return tuple(wanted)


def task(study: StudyConfig) -> XtremeTask:
    """The retrieval task in the form the shared embedding head reads (no training data)."""
    return XtremeTask(NAME, "retrieval", "embedding", "accuracy", languages(study), train=(), dev=None, test=NAME)


@dataclass
class DjangoHead(EmbeddingHead):
    """The Tatoeba head with the Django catalogues as its test sets."""

    max_pairs: int | None = None

    def _test_sets(self):
        from hpc_itt.data import django_translations
        from hpc_itt.xtreme import data

        out = {}
        for lang in self.languages:
            pairs = django_translations.pairs(lang)[:self.max_pairs]  # None: all
            out[f"test/{lang}"] = self._dataset(data.retrieval_items(pairs), NAME, _version(), lang)
        return out


def head(study: StudyConfig) -> DjangoHead:
    t = task(study)
    return DjangoHead(task=t, train_dataset=None, dev_dataset=None, languages=t.languages,
                      split_seed=study.data.split_seed, retrieval_layer=study.django.layer,
                      max_pairs=study.django.max_pairs_per_language)


class DjangoRetrieval(TargetSuite):
    name = NAME
    shares_no_itt = True

    def owns(self, target: str) -> bool:
        return target == NAME

    def choices(self, study: StudyConfig) -> list[str]:
        return [NAME]

    def check(self, study: StudyConfig, targets: list[str]) -> None:
        if targets:
            languages(study)

    def cell_settings(self, study: StudyConfig, cell) -> dict:
        return {**flat("django", study.django), "django.languages": list(languages(study)),
                "django.version": _version(), "metrics.scale": METRIC_SCALE}

    def prepare(self, study: StudyConfig, model: str, targets: list[str], tokenizer, say) -> list[tuple]:
        splits = head(study).prepare(tokenizer, study.target)
        say(f"prepared {model}/{NAME}: {len(splits)} language(s), {sum(len(v) for v in splits.values())} rows")
        return [(f"{model}/{NAME}", f"django:{','.join(languages(study))}", splits)]

    def run_cell(self, study: StudyConfig, cell, model_source: str) -> dict:
        from hpc_itt.train import loop

        job = loop.TrainJob(name=f"target {cell.key}", model_source=plan.cell_source(study, cell, model_source),
                            head=head(study), data=study.data, train=study.target, out_dir=str(plan.cell_dir(study, cell)),
                            tb_dir=str(plan.tb_dir(study, "target", cell.key)), seed=cell.seed,
                            hparams=plan.cell_hparams(study, cell, study.target, 0))
        return loop.evaluate_only(job)

    def report(self, study: StudyConfig, targets: list[str], ledger) -> Section:
        return report_section(study, ledger)


def report_section(study: StudyConfig, ledger) -> Section:
    """Per model and arm: accuracy per language and its mean (mean ± std over seeds), and the
    Δ of each ITT arm against no ITT with a paired t-test over seeds."""
    from hpc_itt.stats import arm_stats, paired

    arms = ([("no ITT", plan.NO_TASK, "no_itt")] if "no_itt" in study.arms else []) + (
        [(f"ITT: {t}", t, "itt") for t in study.tasks] if "itt" in study.arms else [])
    langs = languages(study)
    lines = ["## Django sentence retrieval (zero-shot, language → English)", "",
             f"Nearest-neighbour accuracy (0-100) per language over {len(langs)} language(s), mean ± std over "
             f"seeds {study.seeds}; Δ against no ITT with a paired t-test over seeds.", "",
             "| model | arm | mean | " + " | ".join(langs) + " |", "|---|---|---|" + "---|" * len(langs)]
    missing, csv_lines, means = [], ["model,arm,language,mean,std,n"], {}
    for model in study.models:
        for label, task_name, arm in arms:
            per_lang: dict[str, list[float]] = {lang: [] for lang in langs}
            seeds_mean: dict[int, float] = {}
            for seed in study.seeds:
                cell = plan.Cell(model, task_name, NAME, arm, seed)
                found = ledger.metrics(cell)
                if found is None:
                    missing.append(cell)
                    continue
                for lang in langs:  # shown 0-100, as the Tatoeba task it is scored like
                    per_lang[lang].append(100 * found["languages"][lang]["accuracy"])
                seeds_mean[seed] = 100 * found["test"]["accuracy"]
            means[(model, label)] = seeds_mean
            overall = arm_stats("x", list(seeds_mean.values()))
            cells = [_fmt(arm_stats("x", per_lang[lang])) for lang in langs]
            lines.append(f"| {model} | {label} | {_fmt(overall)} | " + " | ".join(cells) + " |")
            for lang in langs:
                st = arm_stats("x", per_lang[lang])
                csv_lines.append(f"{model},{label},{lang},{_num(st['x_mean'])},{_num(st['x_std'])},{st['x_n']}")
    deltas = []
    for model in study.models:
        base = means.get((model, "no ITT"))
        for label, _, arm in arms:
            if arm == "itt" and base is not None:
                test = paired(means[(model, label)], base)
                common = sorted(set(means[(model, label)]) & set(base))
                delta = sum(means[(model, label)][s] - base[s] for s in common) / len(common) if common else None
                shown = "–" if delta is None else f"{delta:+.1f}"
                p = "–" if test["p_value"] is None else f"{test['p_value']:.3f}"
                deltas.append(f"{model} {label} − no ITT: Δ = {shown} (p {p}, {test['verdict']})")
    lines += ([""] + [f"- {d}" for d in deltas]) if deltas else []
    if missing:
        lines += ["", f"**Partial Django grid: {len(missing)} cell(s) have no result yet:**", ""]
        lines += [f"- `{c.key}`" for c in missing]
    summary = ("Django retrieval: " + "; ".join(deltas) + ".") if deltas else \
        "Django retrieval: no ITT-vs-no-ITT comparison yet."
    return Section(markdown="\n".join(lines) + "\n", summary=summary, files={"django.csv": "\n".join(csv_lines) + "\n"},
                   missing=missing)


def _version() -> str:
    from importlib.metadata import version

    return version("django")  # the catalogues change between releases: part of every cell's settings


def _fmt(stat: dict) -> str:
    if stat["x_mean"] is None:
        return "–"
    return f"{stat['x_mean']:.1f} ± {stat['x_std']:.1f}" if stat["x_std"] is not None else f"{stat['x_mean']:.1f}"


def _num(value) -> str:
    return "" if value is None else f"{value:.4f}"
