"""Turn parsed YAML into the schema's dataclasses, or fail with one line naming the key, the bad
value and the valid choices (and the file and line where the YAML came from a file)."""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union

from hpc_itt.config.schema import Invalid
from hpc_itt.errors import UserError, choices


class Where:
    """Names a config location for error messages: `file:line: key`."""

    def __init__(self, source: str = "<config>", lines: dict[str, int] | None = None):
        self.source, self.lines = source, lines or {}

    def __call__(self, key: str) -> str:
        parts = key.split(".")
        for n in range(len(parts), 0, -1):  # nearest enclosing key that has a line
            line = self.lines.get(".".join(parts[:n]))
            if line is not None:
                return f"{self.source}:{line}: {key}"
        return f"{self.source}: {key}"


def build(cls, data: Any, where: Where | None = None, prefix: str = ""):
    where = where or Where()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{where(prefix or '<root>')}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise UserError(f"{where(_join(prefix, key))}: unknown key {key!r} (valid: {', '.join(names)})")
    kwargs = {k: _convert(hints[k], v, where, _join(prefix, k)) for k, v in data.items()}
    obj = cls(**kwargs)
    _check_values(obj, where, prefix)
    return obj


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _convert(tp, value, where: Where, key: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where, key)
    if origin is Literal:
        if value not in args:
            raise UserError(f"{where(key)}: invalid value {value!r} (valid: {choices(args)})")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where, key)
    if origin is list:
        if not isinstance(value, list):
            value = [value]  # `models: xlnet` and `models=xlnet` mean a one-element list
        return [_convert(args[0], v, where, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where(key)}: expected a mapping, got {value!r}")
        return {str(k): _convert(args[1], v, where, _join(key, k)) for k, v in value.items()}
    return _scalar(tp, value, where, key)


def _scalar(tp, value, where: Where, key: str):
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads 5e-5 as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if tp is bool and isinstance(value, bool) or tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, float) and isinstance(value, tp):
        return value
    raise UserError(f"{where(key)}: expected {tp.__name__}, got {value!r}")


def _check_values(obj, where: Where, prefix: str) -> None:
    """The rules the schema keeps beside its fields (`rule`), then the class's cross-field `check`."""
    for f in dataclasses.fields(obj):
        if "rule" in f.metadata:
            ok, valid = f.metadata["rule"]
            value = getattr(obj, f.name)
            if not ok(value):
                raise UserError(f"{where(_join(prefix, f.name))}: invalid value {value!r} (valid: {valid})")
    if hasattr(obj, "check"):
        try:
            obj.check()
        except Invalid as err:
            key = _join(prefix, err.key) if err.key else prefix
            raise UserError(f"{where(key)}: {err}") from None
