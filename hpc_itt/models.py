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
    if _hub_cached(spec.hub_id):
        return spec.hub_id
    _check_hub(spec)
    if download:
        from huggingface_hub import snapshot_download

        snapshot_download(spec.hub_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"])
    return spec.hub_id


def _hub_cached(hub_id: str) -> bool:
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(hub_id, local_files_only=True)
        return True
    except (OSError, ValueError):
        return False


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
