"""Read YAML configs (studies, cluster profiles, model and task registries) and CLI overrides."""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from hpc_itt.config.schema import ClusterConfig, ModelSpec, StudyConfig, TaskSpec
from hpc_itt.config.validate import Where, build
from hpc_itt.errors import UserError, choices
from hpc_itt.xtreme import tasks as xtreme_tasks

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STUDY = "configs/studies/quickstart.yaml"


def config_root() -> Path:
    return Path(os.environ.get("HPC_ITT_CONFIGS", REPO_ROOT / "configs"))


def read_yaml(path: str | Path) -> tuple[Any, Where]:
    """Parse a YAML file, keeping the line of every mapping key for later error messages."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{path}{line}: malformed YAML: {problem}") from None
    lines: dict[str, int] = {}
    _key_lines(node, "", lines)
    return data, Where(str(path), lines)


def _key_lines(node, prefix: str, out: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[key] = key_node.start_mark.line + 1
            _key_lines(value_node, key, out)


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
    profile_data = load_cluster_profile(profile_name)
    study_cluster = {k: v for k, v in (data.get("cluster") or {}).items() if k != "profile"}
    data = dict(data, cluster=merge(profile_data, study_cluster))
    if cluster is not None:
        data["cluster"]["kind"] = cluster
    data = merge(data, parse_overrides(list(overrides)))
    study = build(StudyConfig, data, where)
    study.targets = xtreme_tasks.expand(study.targets)
    if study.data.xtreme_dir:  # jobs may run elsewhere (Slurm: a code snapshot): pin the folder now
        study.data.xtreme_dir = str(Path(study.data.xtreme_dir).expanduser().resolve())
    _check_study(study)
    return study


def load_cluster_profile(name: str) -> dict:
    directory = config_root() / "cluster"
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = [p.stem for p in directory.glob("*.yaml")]
        raise UserError(f"unknown cluster profile {name!r} (valid: {choices(known)})")
    data, where = read_yaml(path)
    build(ClusterConfig, data, where)  # validate the file on its own so errors name it
    return data or {}


def load_models() -> dict[str, ModelSpec]:
    """The model registry; aliases (`xlnet` for `xlnet-base`) resolve to the same spec."""
    data, where = read_yaml(config_root() / "models.yaml")
    registry: dict[str, ModelSpec] = {}
    for name, entry in (data or {}).items():
        spec = build(ModelSpec, dict(entry or {}, name=name), where, name)
        for key in [name, *spec.aliases]:
            registry[key] = spec
    return registry


def load_tasks() -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for path in sorted((config_root() / "tasks").glob("*.yaml")):
        data, where = read_yaml(path)
        spec = build(TaskSpec, dict(data or {}, name=path.stem), where)
        tasks[spec.name] = spec
    return tasks


def resolve_model(name: str) -> ModelSpec:
    models = load_models()
    if name not in models:
        raise UserError(f"unknown model {name!r} (valid: {choices(models)})")
    return models[name]


def resolve_task(name: str) -> TaskSpec:
    tasks = load_tasks()
    if name not in tasks:
        raise UserError(f"unknown task {name!r} (valid: {choices(tasks)})")
    return tasks[name]


def _check_study(study: StudyConfig) -> None:
    for stage in ("intermediate", "target"):
        if getattr(study, stage).precision == "fp16" and study.cluster.gpus_per_node == 0:
            raise UserError(f"{stage}.precision 'fp16' needs a GPU (cluster.gpus_per_node is 0); "
                            f"use precision=bf16 or fp32")
    for model in study.models:
        resolve_model(model)
    for task_name in study.tasks:
        task = resolve_task(task_name)
        for target in study.targets:
            if target not in task.targets and not xtreme_tasks.is_xtreme(target):
                raise UserError(f"task {task_name!r} has no target {target!r} (valid: "
                                f"{choices([*task.targets, xtreme_tasks.SUITE, *xtreme_tasks.TASKS])})")
        own_targets = [task.targets[t] for t in study.targets if t in task.targets]
        for dataset in [task.intermediate, *own_targets]:
            if task.kind == "regression" and dataset.num_labels != 1:
                raise UserError(f"task {task_name!r} is a regression: {dataset.description!r} needs num_labels: 1")
            if getattr(dataset, study.data.source) is None:
                raise UserError(f"task {task_name!r} has no {study.data.source!r} source for "
                                f"{dataset.description or 'a dataset'} (set data.source to the other one)")
    _check_xtreme(study)


def _check_xtreme(study: StudyConfig) -> None:
    for name in study.xtreme.languages:
        xtreme_tasks.languages(xtreme_tasks.get(name), study.xtreme.languages)  # names the bad value
    uses_xtreme = any(xtreme_tasks.is_xtreme(t) for t in study.targets) or any(
        getattr(getattr(resolve_task(t).intermediate, study.data.source), "xtreme", None) for t in study.tasks)
    if uses_xtreme and study.data.source == "offline" and not study.data.xtreme_dir:
        raise UserError("XTREME-R data offline needs data.xtreme_dir (the folder download_data.sh of "
                        "google-research/xtreme fills), or data.source=hub")
    if study.data.xtreme_dir and not Path(study.data.xtreme_dir).is_dir():
        raise UserError(f"data.xtreme_dir: {study.data.xtreme_dir} is not a directory")
