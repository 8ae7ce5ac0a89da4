"""What made a result: every setting that determines an intermediate run or a grid cell, recorded
in its folder (`settings.json`) before the run writes anything else, so that a result is reused
or reported only for the settings that made it.

A run folder is in one of four states against the current config:
    absent      nothing there yet
    current     its record matches (for an ITT cell: also the ITT checkpoint it was trained from)
    changed     its record differs; `diff` names the keys
    unrecorded  outputs without a record (made before records existed): settings unknown
A rerun never reuses or reports `changed`/`unrecorded` results: it stops with one line naming the
keys, and `--rerun-changed` moves those folders to `<output_dir>/superseded/<time>/` (nothing is
deleted) and runs them again.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from functools import lru_cache
from pathlib import Path

from hpc_itt import atomic, targets
from hpc_itt.config.flat import flat as _flat
from hpc_itt.config.registry import resolve_model
from hpc_itt.config.schema import StudyConfig, TrainConfig
from hpc_itt.errors import UserError
from hpc_itt.study import plan
from hpc_itt.study.consolidate import sha256_file

RECORD = "settings.json"
WORLD_SIZE = "intermediate.world_size"
SUPERSEDED = "superseded"
# How often a run logs or checkpoints does not change what it computes (resume is exact).
_NOT_RESULT = {"save_every_steps", "log_every_steps"}
# Files that are bookkeeping, not results or training state (anything else counts as output,
# XTREME-R phase folders included).
_BOOKKEEPING = {RECORD, "job.json", "jobs.json", "lease.json", ".lease.lock", "FAILED"}


# ---- the settings of a run -----------------------------------------------------------------------
def model_identity(name: str) -> dict:
    """Where the weights come from and which version: a hub commit (pinned, else the cached one),
    or a content hash of a local folder. Never touches the network."""
    spec = resolve_model(name)
    if spec.hub_id:
        from hpc_itt.train.models import hub_revision

        return {"model": name, "model.source": spec.hub_id, "model.revision": hub_revision(spec)}
    from hpc_itt.train.models import model_source

    return {"model": name, "model.source": spec.asset or spec.path, "model.revision": folder_hash(model_source(spec))}


@lru_cache(maxsize=None)
def folder_hash(folder: str) -> str:
    """sha256 over a model folder's weight, config and tokenizer files (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and path.suffix in (".safetensors", ".bin", ".json", ".model", ".txt"):
            digest.update(path.name.encode())
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def _train(prefix: str, cfg: TrainConfig) -> dict:
    # An unset global batch is what every run recorded before the field existed: leaving it out
    # keeps their fingerprints (and their cells current).
    return {k: v for k, v in _flat(prefix, cfg).items() if k.split(".")[-1] not in _NOT_RESULT
            and not (k.endswith(".global_batch_size") and v is None)}


def _data(study: StudyConfig) -> dict:
    return {k: v for k, v in _flat("data", study.data).items() if k != "data.num_proc"}


def intermediate_settings(study: StudyConfig, model: str, task: str, identity: dict) -> dict:
    dataset = plan.intermediate_dataset(study, task)
    return {**identity, "intermediate.task": task,
            **_flat("intermediate.dataset", getattr(dataset, study.data.source)), **_data(study),
            **_train("intermediate", study.intermediate), "intermediate_seed": study.intermediate_seed,
            **_world(study)}


def _world(study: StudyConfig) -> dict:
    """With a fixed global batch the world size changes nothing a run computes beyond rounding
    (elastic resume), so it is not part of the run's identity; otherwise the global batch is
    micro x accum x world and the world size is."""
    if study.intermediate.global_batch_size is not None:
        return {}
    return {WORLD_SIZE: study.cluster.nodes * study.cluster.tasks_per_node}


def cell_settings(study: StudyConfig, cell: plan.Cell, identity: dict) -> dict:
    out = {**identity, "cell.task": cell.task, "cell.target": cell.target, "cell.arm": cell.arm,
           "cell.seed": cell.seed, **_data(study), **_train("target", study.target)}
    out.update(targets.suite_of(cell.target).cell_settings(study, cell))
    if cell.arm == "itt":  # the world size it ran at is the intermediate run's; the cell checks its checkpoint
        out.update({k: v for k, v in intermediate_settings(study, cell.model, cell.task, identity).items()
                    if k != WORLD_SIZE})
    return out


def fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


# ---- records on disk -----------------------------------------------------------------------------
def write_record(folder: Path, settings: dict, **extra) -> None:
    atomic.write_text(Path(folder) / RECORD, json.dumps({"fingerprint": fingerprint(settings), "settings": settings,
                                                         **extra}, indent=2, default=str))


def read_record(folder: Path) -> dict | None:
    path = Path(folder) / RECORD
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except json.JSONDecodeError:
        return None


def has_outputs(folder: Path) -> bool:
    folder = Path(folder)
    return folder.is_dir() and any(p.name not in _BOOKKEEPING and not p.name.startswith(".") for p in folder.iterdir())


def diff(old: dict, new: dict) -> list[str]:
    """`key: old → new` for every setting that differs."""
    keys = sorted(set(old) | set(new))
    return [f"{k}: {_show(old.get(k, '–'))} → {_show(new.get(k, '–'))}" for k in keys if old.get(k) != new.get(k)]


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def state(folder: Path, settings: dict) -> tuple[str, list[str]]:
    """(absent | current | changed | unrecorded, the changed keys)."""
    record = read_record(folder)
    if record is None:
        return ("unrecorded", ["settings not recorded (made by an older hpc_itt)"]) if has_outputs(folder) \
            else ("absent", [])
    if record.get("fingerprint") == fingerprint(settings):
        return "current", []
    return "changed", diff(record.get("settings", {}), settings)


def claim(folder: Path, settings: dict, what: str) -> None:
    """In the job, before it writes anything: this folder is ours to resume or start, never a run
    made with other settings (the submitter normally caught that already; a stale queue may not)."""
    found, changes = state(folder, settings)
    if found in ("changed", "unrecorded"):
        raise UserError(f"{what}: {folder} holds a run made with other settings ({'; '.join(changes[:4])}); "
                        f"rerun with --rerun-changed to move it aside and start again")
    if found == "absent":
        write_record(folder, settings)


class Ledger:
    """The current settings of every run of a study, and the state of its folder on disk."""

    def __init__(self, study: StudyConfig):
        self.study = study
        self.identity = {m: model_identity(m) for m in study.models}
        self.not_current: dict[str, list[str]] = {}  # cells with results made with other settings

    def metrics(self, cell: plan.Cell) -> dict | None:
        """A finished cell's metrics, only if the current settings made them."""
        if not plan.is_done(self.study, cell):
            return None
        found, changes = self.cell_state(cell)
        if found != "current":
            self.not_current[cell.key] = changes
            return None
        return plan.read_metrics(self.study, cell)

    def intermediate(self, model: str, task: str) -> dict:
        return intermediate_settings(self.study, model, task, self.identity[model])

    def cell(self, cell: plan.Cell) -> dict:
        return cell_settings(self.study, cell, self.identity[cell.model])

    def intermediate_state(self, model: str, task: str) -> tuple[str, list[str]]:
        return state(plan.intermediate_dir(self.study, model, task), self.intermediate(model, task))

    def cell_state(self, cell: plan.Cell) -> tuple[str, list[str]]:
        found, changes = state(plan.cell_dir(self.study, cell), self.cell(cell))
        if found == "current" and cell.arm == "itt" and plan.is_done(self.study, cell):
            made_from = (plan.read_metrics(self.study, cell) or {}).get("itt_checkpoint_sha256")
            now = itt_checkpoint_sha256(self.study, cell)
            if now is not None and made_from != now:
                return "changed", [f"ITT checkpoint sha256: {str(made_from)[:12]} → {now[:12]}"]
        return found, changes

    def done(self, cell: plan.Cell) -> bool:
        return plan.is_done(self.study, cell) and self.cell_state(cell)[0] == "current"

    def consolidated(self, model: str, task: str) -> bool:
        manifest = plan.consolidated_dir(self.study, model, task) / "manifest.json"
        return manifest.is_file() and self.intermediate_state(model, task)[0] == "current"

    def stale(self, stage: str) -> list[tuple[str, Path, Path, list[str]]]:
        """(what, run folder, TensorBoard folder, changed keys) of every run the stage would reuse
        although it was made with other settings."""
        out = []
        if stage in ("intermediate", "consolidate", "target", "all"):
            pairs = plan.intermediate_pairs(self.study)
            if stage == "target":  # only those the ITT cells start from
                pairs = sorted({(c.model, c.task) for c in targets.cells(self.study) if c.arm == "itt"})
            for model, task in pairs:
                found, changes = self.intermediate_state(model, task)
                if stage == "target" and found == "changed" and all(c.startswith(WORLD_SIZE) for c in changes):
                    continue  # trained on another cluster shape: its checkpoint serves the cells as it is
                if found in ("changed", "unrecorded"):
                    out.append((f"intermediate {model}/{task}", plan.intermediate_dir(self.study, model, task),
                                plan.tb_dir(self.study, "intermediate", model, task), changes))
        if stage in ("target", "all"):
            for cell in targets.cells(self.study):
                found, changes = self.cell_state(cell)
                if found in ("changed", "unrecorded"):
                    out.append((f"cell {cell.key}", plan.cell_dir(self.study, cell),
                                plan.tb_dir(self.study, "target", cell.key), changes))
        return out


def itt_checkpoint_sha256(study: StudyConfig, cell: plan.Cell) -> str | None:
    """sha256 of the consolidated weights an ITT cell starts from (from the manifest)."""
    manifest = plan.consolidated_dir(study, cell.model, cell.task) / "manifest.json"
    if not manifest.is_file():
        return None
    files = json.loads(manifest.read_text()).get("files", {})
    return files.get("model.safetensors")


def check_or_supersede(study: StudyConfig, ledger: Ledger, stage: str, rerun_changed: bool, say) -> None:
    """Before a stage runs: stop on results made with other settings, or move them aside."""
    stale = ledger.stale(stage)
    if not stale:
        return
    keys = sorted({change.split(":")[0] for *_, changes in stale for change in changes})
    if not rerun_changed:
        runs = _count(stale)
        raise UserError(f"{runs} in {plan.root(study)} were made with other settings (changed: {', '.join(keys[:6])}"
                        f"{', …' if len(keys) > 6 else ''}); rerun with --rerun-changed to retrain them (old results "
                        f"move to {plan.root(study) / SUPERSEDED}/), or set output_dir=... for a separate study")
    if stage == "target" and any(what.startswith("intermediate") for what, *_ in stale):
        raise UserError("the ITT checkpoints these cells start from were made with other settings: "
                        "run --stage all --rerun-changed (or --stage intermediate --rerun-changed first)")
    from hpc_itt.study import lease

    busy = [(what, held) for what, folder, *_ in stale if (held := lease.holder(folder))]
    if busy:
        what, held = busy[0]
        raise UserError(f"{what} was made with other settings but is in use ({lease.describe(held)}): wait for it "
                        f"or stop it (scancel its job), then rerun with --rerun-changed")
    dest = plan.root(study) / SUPERSEDED / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    for what, folder, tb, changes in stale:
        for path, base in ((folder, plan.root(study)), (tb, Path(study.logdir) / study.name)):
            if path.exists():
                target = (dest if base == plan.root(study) else dest / "tensorboard") / path.relative_to(base)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), str(target))
        say(f"{what}: made with other settings ({'; '.join(changes[:3])}): moved to {dest}, running it again")


def not_counted_note(ledger: Ledger) -> str:
    """The report's and status's sentence about results left out because other settings made them."""
    if not ledger.not_current:
        return ""
    keys = sorted({c.split(":")[0] for changes in ledger.not_current.values() for c in changes})
    return (f"{len(ledger.not_current)} cell(s) hold results made with other settings and are not counted "
            f"(changed: {', '.join(keys[:6])}{', …' if len(keys) > 6 else ''}); rerun them with --rerun-changed.")


def _count(stale) -> str:
    n_int = sum(what.startswith("intermediate") for what, *_ in stale)
    n_cells = len(stale) - n_int
    parts = ([f"{n_int} intermediate run(s)"] if n_int else []) + ([f"{n_cells} cell(s)"] if n_cells else [])
    return " and ".join(parts)
