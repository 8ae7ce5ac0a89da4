"""Read YAML configs (studies, cluster profiles, model and task registries) and CLI overrides."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from hpc_itt import targets
from hpc_itt.config.files import REPO_ROOT, config_root, read_yaml
from hpc_itt.config.registry import load_models, load_tasks, resolve_model, resolve_task
from hpc_itt.config.schema import ClusterConfig, StudyConfig
from hpc_itt.config.validate import build
from hpc_itt.errors import UserError, choices

__all__ = ["REPO_ROOT", "load_cluster_profile", "load_models", "load_study", "load_tasks", "merge",
           "parse_overrides", "read_yaml", "resolve_model", "resolve_task"]

DEFAULT_STUDY = "configs/studies/quickstart.yaml"


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`a.b=1` → {"a": {"b": 1}}; values are YAML (so `seeds=[1,2]` is a list)."""
    tree: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"override {item!r} is not key=value (e.g. intermediate.epochs=2)")
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"override {item!r} conflicts with another override of {part!r}")
        node[parts[-1]] = value
    return tree


def merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_study(path: str | Path | None = None, overrides: list[str] = (), cluster: str | None = None,
               profile: str | None = None) -> StudyConfig:
    """Study YAML < cluster profile (configs/cluster/<profile>.yaml) < `key=value` overrides."""
    path = Path(path or REPO_ROOT / DEFAULT_STUDY)
    data, where = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: a study config must be a mapping")
    profile_name = profile or cluster or (data.get("cluster") or {}).get("profile") or "local"
    if profile is None and cluster is not None and not _profile_path(cluster).is_file():
        profile_name = "local"  # a backend without a profile of its name: the defaults of this machine
    profile_data = load_cluster_profile(profile_name)
    study_cluster = {k: v for k, v in (data.get("cluster") or {}).items() if k != "profile"}
    data = dict(data, cluster=merge(profile_data, study_cluster))
    if cluster is not None:
        data["cluster"]["kind"] = cluster
    data = merge(data, parse_overrides(list(overrides)))
    study = build(StudyConfig, data, where)
    study.targets = targets.expand(study.targets)
    if study.data.xtreme_dir:  # jobs may run elsewhere (Slurm: a code snapshot): pin the folder now
        study.data.xtreme_dir = str(Path(study.data.xtreme_dir).expanduser().resolve())
    _check_study(study)
    return study


def _profile_path(name: str) -> Path:
    return config_root() / "cluster" / f"{name}.yaml"


def load_cluster_profile(name: str) -> dict:
    path = _profile_path(name)
    if not path.is_file():
        known = [p.stem for p in path.parent.glob("*.yaml")]
        raise UserError(f"unknown cluster profile {name!r} (valid: {choices(known)})")
    data, where = read_yaml(path)
    build(ClusterConfig, data, where)  # validate the file on its own so errors name it
    return data or {}


def _check_study(study: StudyConfig) -> None:
    for stage in ("intermediate", "target"):
        if getattr(study, stage).precision == "fp16" and study.cluster.gpus_per_node == 0:
            raise UserError(f"{stage}.precision 'fp16' needs a GPU (cluster.gpus_per_node is 0); "
                            f"use precision=bf16 or fp32")
    for model in study.models:
        resolve_model(model)
    from hpc_itt.targets.sequence import check_dataset

    for task_name in study.tasks:
        check_dataset(study, task_name, resolve_task(task_name).intermediate)
    targets.check(study)
