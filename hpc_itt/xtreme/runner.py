"""One XTREME-R grid cell: train on the task's English data — in phases where the recipe has
several (XCOPA: SIQA, then COPA with the same multiple-choice head) — then score the selected
checkpoint zero-shot on every language. Tatoeba trains nothing: the encoder is scored as it is.

Each phase is an ordinary run of the shared loop in its own folder, so a requeued cell resumes
inside the phase it was in, and a finished phase is skipped (its result.json and exported model
are on disk).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hpc_itt.config.schema import StudyConfig, TrainConfig
from hpc_itt.study import plan
from hpc_itt.train import loop
from hpc_itt.xtreme import tasks
from hpc_itt.xtreme.heads import HEADS


def train_config(study: StudyConfig, task: tasks.XtremeTask) -> TrainConfig:
    """The study's `target` section; with `xtreme.task_defaults` the XTREME scripts' lr, epochs and
    max length per task replace its own."""
    if not study.xtreme.task_defaults:
        return study.target
    return replace(study.target, lr=task.lr, epochs=task.epochs, max_length=task.max_length)



def heads(study: StudyConfig, task: tasks.XtremeTask) -> list:
    """One head per training phase; the last one scores every language. Tatoeba: one, untrained."""
    common = dict(task=task, data_dir=study.data.xtreme_dir, split_seed=study.data.split_seed,
                  max_eval_per_language=study.xtreme.max_eval_per_language,
                  retrieval_layer=study.xtreme.retrieval_layer, doc_stride=study.xtreme.doc_stride,
                  eval_split=study.xtreme.eval_split)
    languages = tasks.languages(task, study.xtreme.languages)
    if not task.trains:
        return [HEADS[task.head](train_dataset=None, dev_dataset=None, languages=languages, **common)]
    out = []
    for i, dataset in enumerate(task.train):
        last = i == len(task.train) - 1
        out.append(HEADS[task.head](train_dataset=dataset, dev_dataset=task.dev if last else dataset,
                                    keep_head=i > 0, languages=languages if last else (), **common))
    return out


def prepare_target(study: StudyConfig, target: str, tokenizer) -> dict[str, dict]:
    """Download (hub) and tokenize every split of a target, e.g. on the login node before a job."""
    task = tasks.get(target)
    cfg = train_config(study, task)
    return {head.train_dataset or "evaluation": head.prepare(tokenizer, cfg) for head in heads(study, task)}


def run_cell(study: StudyConfig, cell: plan.Cell, model_source: str) -> dict:
    task = tasks.get(cell.target)
    source = plan.cell_source(study, cell, model_source)
    out = plan.cell_dir(study, cell)
    cfg = train_config(study, task)
    phases = heads(study, task)
    if not task.trains:
        return loop.evaluate_only(_job(study, cell, source, cfg, phases[0], out, final=True))
    result, start = {}, source
    for i, head in enumerate(phases):
        last = i == len(phases) - 1
        phase_dir = out if len(phases) == 1 else out / f"phase{i + 1}-{head.train_dataset}"
        result = loop.run(_job(study, cell, source, cfg, head, phase_dir, final=last))
        if not last:
            source = _export(phase_dir, source, cfg, head.auto_class)
    return dict(result, model_source=start)  # the cell's starting encoder, not an exported phase


def _job(study: StudyConfig, cell: plan.Cell, source: str, cfg: TrainConfig, head, out: Path, final: bool):
    phase = [] if final else [out.name]
    return loop.TrainJob(
        name=f"target {cell.key}" + (f" [{out.name}]" if not final else ""), model_source=source, head=head,
        data=study.data, train=cfg,
        out_dir=str(out), tb_dir=str(plan.tb_dir(study, "target", cell.key, *phase)), seed=cell.seed,
        launcher="submitit",
        hparams=plan.cell_hparams(study, cell, cfg, cfg.epochs if head.task.trains else 0) if final else None)


def _export(phase_dir: Path, base_source: str, cfg: TrainConfig, auto_class: str) -> str:
    """The phase's selected checkpoint as a from_pretrained folder (head included) for the next phase."""
    from hpc_itt.study.consolidate import consolidate

    target = phase_dir / "model"
    consolidate(phase_dir, target, base_source, 0, "phase", cfg.select, auto_class=auto_class)
    return str(target)
