"""The model and task registries (configs/models.yaml, configs/tasks/*.yaml), read once.

A registry is re-read only when one of its files changes (their paths and mtimes are the cache
key), so the many lookups of a grid cost one parse, and a test or user who edits a file still
sees the edit."""
from __future__ import annotations

from pathlib import Path

from hpc_itt.config.files import config_root, read_yaml
from hpc_itt.config.schema import ModelSpec, TaskSpec
from hpc_itt.config.validate import build
from hpc_itt.errors import UserError, choices

_cache: dict[tuple, dict] = {}


def _stamp(paths: list[Path]) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.is_file())


def _cached(kind: str, paths: list[Path], parse) -> dict:
    key = (kind, _stamp(paths))
    if key not in _cache:
        _cache[key] = parse(paths)
    return _cache[key]


def load_models() -> dict:
    """The model registry; aliases (`xlnet` for `xlnet-base`) resolve to the same spec."""
    return dict(_cached("models", [config_root() / "models.yaml"], _parse_models))


def load_tasks() -> dict:
    return dict(_cached("tasks", sorted((config_root() / "tasks").glob("*.yaml")), _parse_tasks))


def _parse_models(paths: list[Path]) -> dict[str, ModelSpec]:
    data, where = read_yaml(paths[0])  # a missing file: one line naming it
    registry: dict[str, ModelSpec] = {}
    for name, entry in (data or {}).items():
        spec = build(ModelSpec, dict(entry or {}, name=name), where, name)
        for key in [name, *spec.aliases]:
            registry[key] = spec
    return registry


def _parse_tasks(paths: list[Path]) -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for path in paths:
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
