"""Where a model's weights come from, and how a task model is built from any encoder checkpoint."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from hpc_itt.config.schema import ModelSpec
from hpc_itt.errors import UserError

HUB_TIMEOUT_S = 5


def model_source(spec: ModelSpec, download: bool = False) -> str:
    """A local folder or a hub id `from_pretrained` can load. Hub models are checked here, on the
    login node, so an unreachable hub stops the submission in seconds instead of inside a job."""
    if spec.path:
        if not Path(spec.path).is_dir():
            raise UserError(f"model {spec.name!r}: local folder {spec.path} does not exist")
        return spec.path
    if spec.asset:
        from hpc_itt.assets import AssetError, model_asset

        try:
            return str(model_asset(spec.asset))
        except AssetError as err:
            raise UserError(str(err)) from None
    cached = hub_snapshot(spec)
    if cached is not None:
        return cached
    _check_hub(spec)
    if not download:
        return spec.hub_id
    return download_model(spec)


# Tokenizer and config files of every architecture we use (WordPiece vocab.txt, BPE merges.txt,
# sentencepiece *.model); weights are chosen per repository by `weight_files`.
_SIDE_FILES = ["*.json", "*.model", "*.txt"]


def weight_files(files: list[str]) -> list[str]:
    """The top-level weight files `from_pretrained` loads: safetensors when the repository has them,
    else PyTorch `.bin` (xlnet/xlnet-base-cased has only pytorch_model.bin), loaded with
    `torch.load(weights_only=True)` by transformers. Sharded checkpoints keep every shard."""
    top = [f for f in files if "/" not in f]
    for suffix in (".safetensors", ".bin"):
        chosen = sorted(f for f in top if f.endswith(suffix) and f.startswith(("model", "pytorch_model")))
        if chosen:
            return chosen
    return []


def download_model(spec: ModelSpec) -> str:
    """Fetch config, tokenizer and weights (whatever format the repository has) into the hub cache;
    returns the local snapshot folder, which jobs load with no network."""
    from huggingface_hub import HfApi, snapshot_download

    try:
        files = HfApi().list_repo_files(spec.hub_id, revision=spec.revision)
    except Exception as err:  # noqa: BLE001 - any hub error: the user can only change the id or revision
        raise UserError(f"model {spec.name!r}: cannot list {spec.hub_id}@{spec.revision or 'main'} on the hub "
                        f"({type(err).__name__}: {_first_line(err)})") from None
    weights = weight_files(files)
    if not weights:
        raise UserError(f"model {spec.name!r}: {spec.hub_id} has no model*.safetensors or pytorch_model*.bin "
                        f"at its top level (files: {', '.join(sorted(files)[:8])})")
    try:
        folder = snapshot_download(spec.hub_id, revision=spec.revision, allow_patterns=_SIDE_FILES + weights)
    except Exception as err:  # noqa: BLE001 - network, disk, auth: one line naming the repository
        raise UserError(f"model {spec.name!r}: downloading {spec.hub_id}@{spec.revision or 'main'} failed "
                        f"({type(err).__name__}: {_first_line(err)}); rerun --stage prepare") from None
    missing = [w for w in weights if not (Path(folder) / w).is_file()]
    if missing:
        raise UserError(f"model {spec.name!r}: the download of {spec.hub_id} lacks {missing[0]}")
    return folder


def hub_snapshot(spec: ModelSpec) -> str | None:
    """The cached snapshot folder of a hub model, only if it holds its config and weights (a cached
    config.json alone does not make a model that an offline node can load)."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(spec.hub_id, revision=spec.revision, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached (or only partly): LocalEntryNotFoundError and kin
        return None
    names = [p.name for p in Path(folder).iterdir()]
    return folder if "config.json" in names and weight_files(names) else None


def hub_revision(spec: ModelSpec) -> str:
    """The commit a hub model's weights come from: the pinned one, else the one the cache holds."""
    if spec.revision and len(spec.revision) == 40:
        return spec.revision
    folder = hub_snapshot(spec)
    return Path(folder).name if folder else (spec.revision or "main")


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


def _check_hub(spec: ModelSpec) -> None:
    alternative = (f"use the offline preset `--model {spec.offline_alternative}`" if spec.offline_alternative
                   else "point a models.yaml entry's `path:` at a local copy")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise UserError(f"model {spec.name!r} needs {spec.hub_id} from the Hugging Face hub, but HF_HUB_OFFLINE=1 "
                        f"and it is not cached; {alternative}")
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(spec.hub_id, timeout=HUB_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 - DNS, proxy, TLS and HTTP errors all mean "cannot get it"
        reason = type(err).__name__
        raise UserError(f"model {spec.name!r} needs {spec.hub_id} from the Hugging Face hub, which cannot be "
                        f"reached from here ({reason}) and it is not in the local cache; {alternative} "
                        f"or a local folder (models.yaml `path:`)") from None


def load_tokenizer(source: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(source)


def build_task_model(source: str, num_labels: int, kind: str, seed: int):
    """A fresh, seeded sequence classification (or regression) head on the encoder from `source`."""
    return build_model(source, "AutoModelForSequenceClassification", seed, num_labels=num_labels,
                       problem_type="regression" if kind == "regression" else "single_label_classification")


def build_model(source: str, auto_class: str, seed: int, keep_head: bool = False, **config_updates):
    """`auto_class` (a transformers Auto* class name) on the encoder from `source`, head fresh and seeded.

    `source` may be a hub/preset encoder or a consolidated ITT checkpoint that carries the
    intermediate task's head: only the encoder (the model's `base_model`) is transferred, so both
    arms of the study start the target with an identically initialised head for the same seed.
    `keep_head` loads the whole model instead: a later phase of one target (XCOPA: SIQA → COPA).
    """
    import transformers
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(source)
    for key, value in config_updates.items():
        setattr(config, key, value)
    model_class = getattr(transformers, auto_class)
    if keep_head:
        return model_class.from_pretrained(source, config=config, dtype=torch.float32)
    torch.manual_seed(seed)
    model = model_class.from_config(config)
    encoder = AutoModel.from_pretrained(source, config=config, dtype=torch.float32).state_dict()
    wanted = model.base_model.state_dict()
    missing = [k for k in wanted if k not in encoder]
    if missing:
        raise UserError(f"{source} has no weights for {missing[:3]} of {type(model.base_model).__name__}")
    # AutoModel may carry parts the task model's encoder lacks (RoBERTa's pooler): leave them out.
    model.base_model.load_state_dict({k: encoder[k] for k in wanted}, strict=True)
    return model
