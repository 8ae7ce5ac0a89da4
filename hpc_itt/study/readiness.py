"""`--stage prepare`: everything every job needs, fetched on the submitting node (which has hub
access), checked the way jobs will use it, and listed in `<output_dir>/readiness.json`.

Compute nodes are often offline. So prepare downloads the models (weights in whatever format the
repository has) and tokenizes every dataset into the shared `datasets` cache, then reruns the same
preparation in a subprocess with HF_HUB_OFFLINE=1 and HF_DATASETS_OFFLINE=1, as a job would, and
requires it to hit the cache with the same fingerprints. The manifest lists every file (model
folder, tokenized Arrow files) with its size; jobs are submitted with the offline variables set, and
each job first checks that every listed file is still there, so a purged cache stops it within
seconds with one line instead of a hub timeout deep inside a library.
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hpc_itt import atomic, targets
from hpc_itt.config.registry import resolve_model, resolve_task
from hpc_itt.config.schema import StudyConfig
from hpc_itt.errors import UserError
from hpc_itt.study import plan

MANIFEST = "readiness.json"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
_CHECK_TIMEOUT_S = 1800


def manifest_path(study: StudyConfig) -> Path:
    return plan.root(study) / MANIFEST


def prepare(study: StudyConfig, sources: dict[str, str], say=lambda message: None) -> dict:
    """Tokenize every dataset of the study once (cache hits when done before), record what the jobs
    need, and prove it loads offline (skipped when an identical, checked manifest is on disk)."""
    entries = prepared_datasets(study, sources, say)
    manifest = {"study": study.name, "models": {m: _model_entry(m, s) for m, s in sources.items()},
                "datasets": entries}
    old = read(study)
    if old and old.get("offline_check") == "passed" and _same(old, manifest) and not missing_files(old):
        return old
    _offline_check(study, sources, entries)
    manifest.update(offline_check="passed", checked_at=time.strftime("%Y-%m-%d %H:%M:%S"),
                    offline_env=OFFLINE_ENV)
    atomic.write_text(manifest_path(study), json.dumps(manifest, indent=2))
    say(f"ready for offline jobs: {len(manifest['models'])} model(s), {len(entries)} dataset(s), "
        f"{_size(manifest) / 1e6:.1f} MB listed in {manifest_path(study)}")
    return manifest


def prepared_datasets(study: StudyConfig, sources: dict[str, str], say=lambda message: None) -> list[dict]:
    from hpc_itt.data.prepare import prepare as prepare_dataset
    from hpc_itt.data.sources import describe, source_of
    from hpc_itt.train.models import load_tokenizer

    entries = []
    for model, source in sources.items():
        tokenizer = load_tokenizer(source)
        for task_name in study.tasks if "itt" in study.arms else []:
            task = resolve_task(task_name)
            dataset, cfg = plan.intermediate_dataset(study, task_name), study.intermediate
            splits = prepare_dataset(dataset, task.kind, study.data, tokenizer, cfg.max_length,
                                     cfg.max_train_examples, cfg.max_eval_examples)
            say(f"prepared {model}/{task_name}/intermediate: {', '.join(f'{k} {len(v)}' for k, v in splits.items())}")
            entries.append(_dataset_entry(f"{model}/{task_name}/intermediate",
                                          describe(source_of(dataset, study.data.source)), splits))
        for suite, names in targets.suites_in(study):
            entries += [_dataset_entry(*prepared) for prepared in suite.prepare(study, model, names, tokenizer, say)]
    return entries


def _dataset_entry(what: str, source: str, splits) -> dict:
    return {"what": what, "source": source,
            "splits": {name: {"rows": len(ds), "fingerprint": ds._fingerprint,
                              "files": {f["filename"]: os.path.getsize(f["filename"]) for f in ds.cache_files}}
                       for name, ds in splits.items()}}


def _model_entry(name: str, source: str) -> dict:
    spec = resolve_model(name)
    folder = Path(source)
    files = {str(p): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()} if folder.is_dir() else {}
    if not files:
        raise UserError(f"model {name!r}: {source} is not a local folder after prepare (is the hub reachable?)")
    from hpc_itt.study.provenance import model_identity

    return {"source": source, "hub_id": spec.hub_id, "revision": model_identity(name)["model.revision"],
            "files": files}


def _same(old: dict, new: dict) -> bool:
    def key(m):
        return json.dumps({"models": m["models"], "datasets": m["datasets"]}, sort_keys=True)

    return key(old) == key(new)


def _size(manifest: dict) -> int:
    sizes = [s for m in manifest["models"].values() for s in m["files"].values()]
    sizes += [s for d in manifest["datasets"] for split in d["splits"].values() for s in split["files"].values()]
    return sum(sizes)


def read(study: StudyConfig) -> dict | None:
    path = manifest_path(study)
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except json.JSONDecodeError:
        return None


def missing_files(manifest: dict) -> list[tuple[str, str]]:
    """(path, what it belongs to) of every listed file that is gone or has another size."""
    out = []
    for name, model in manifest["models"].items():
        out += [(p, f"model {name}") for p, size in model["files"].items() if not _present(p, size)]
    for entry in manifest["datasets"]:
        for split, info in entry["splits"].items():
            out += [(p, f"dataset {entry['what']} [{split}]") for p, size in info["files"].items()
                    if not _present(p, size)]
    return out


def _present(path: str, size: int) -> bool:
    try:
        return os.path.getsize(path) == size
    except OSError:
        return False


def preflight(study: StudyConfig) -> None:
    """First thing in a job (and before submitting one): every file prepare listed is still there."""
    manifest = read(study)
    if manifest is None:
        return  # not prepared: the job loads (and may download) what it needs itself
    gone = missing_files(manifest)
    if gone:
        path, what = gone[0]
        more = f" and {len(gone) - 1} more" if len(gone) > 1 else ""
        raise UserError(f"{path} ({what}) is missing from the cache{more}: listed in {manifest_path(study)}; "
                        f"rerun --stage prepare where the hub is reachable")


def offline_env(study: StudyConfig) -> dict[str, str]:
    """The environment jobs get: offline once prepare has proved that everything loads offline."""
    manifest = read(study)
    return dict(OFFLINE_ENV) if manifest and manifest.get("offline_check") == "passed" else {}


# ---- the offline check: the same preparation in a fresh process, hub and datasets offline ------
def _offline_check(study: StudyConfig, sources: dict[str, str], expected: list[dict]) -> None:
    with tempfile.TemporaryDirectory(prefix="hpc-itt-ready-") as tmp:
        job = Path(tmp) / "study.pkl"
        job.write_bytes(pickle.dumps((study, sources, expected)))
        from hpc_itt.config.files import REPO_ROOT

        # the child finds hpc_itt where this process did (launch/submit.py works without an install)
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, **OFFLINE_ENV, PYTHONPATH=path)
        try:
            proc = subprocess.run([sys.executable, "-m", "hpc_itt.study.readiness", str(job)], env=env, capture_output=True,
                                  text=True, timeout=_CHECK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise UserError(f"readiness check: loading everything offline took over {_CHECK_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        raise UserError(f"readiness check failed: with the hub offline, as on a compute node, "
                        f"{lines[-1] if lines else 'the check process failed'}")


def _check_offline(study: StudyConfig, sources: dict[str, str], expected: list[dict]) -> None:
    from transformers import AutoConfig

    for name, source in sources.items():
        AutoConfig.from_pretrained(source)  # the tokenizer loads inside prepared_datasets
    found = prepared_datasets(study, sources)
    if [e["what"] for e in found] != [e["what"] for e in expected]:
        raise UserError(f"offline, the datasets prepared were {[e['what'] for e in found]}, not "
                        f"{[e['what'] for e in expected]}")
    for want, got in zip(expected, found):
        for split, info in want["splits"].items():
            if got["splits"].get(split, {}).get("fingerprint") != info["fingerprint"]:
                raise UserError(f"dataset {want['what']} [{split}] does not come from the cache offline")


def main(argv: list[str]) -> int:
    from hpc_itt.console import quiet_progress

    quiet_progress()
    study, sources, expected = pickle.loads(Path(argv[0]).read_bytes())
    try:
        _check_offline(study, sources, expected)
    except UserError as err:
        print(err, file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - whatever a library raises offline, one line names it
        print(f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:300]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
