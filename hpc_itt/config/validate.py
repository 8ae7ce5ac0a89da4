"""Turn parsed YAML into the schema's dataclasses, or fail with one line naming the key, the bad
value and the valid choices (and the file and line where the YAML came from a file)."""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union

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


# Range checks the types cannot express: (field, predicate, what the valid values are).
_RULES: dict[str, list[tuple[str, typing.Callable[[Any], bool], str]]] = {
    "TrainConfig": [
        ("epochs", lambda v: v >= 1, "an integer >= 1"),
        ("lr", lambda v: 0 < v < 1, "a float in (0, 1)"),
        ("micro_batch_size", lambda v: v >= 1, "an integer >= 1"),
        ("grad_accum", lambda v: v >= 1, "an integer >= 1"),
        ("max_length", lambda v: 8 <= v <= 4096, "an integer in [8, 4096]"),
        ("warmup_ratio", lambda v: 0 <= v < 1, "a float in [0, 1)"),
        ("weight_decay", lambda v: v >= 0, "a float >= 0"),
        ("grad_clip", lambda v: v >= 0, "a float >= 0 (0 disables clipping)"),
        ("zero_stage", lambda v: v in (0, 1, 2, 3), "one of 0, 1, 2, 3"),
        ("save_every_steps", lambda v: v >= 0, "an integer >= 0"),
        ("log_every_steps", lambda v: v >= 1, "an integer >= 1"),
        ("max_train_examples", lambda v: v is None or v >= 1, "null or an integer >= 1"),
        ("max_eval_examples", lambda v: v is None or v >= 1, "null or an integer >= 1"),
    ],
    "DataConfig": [
        ("train_fraction", lambda v: 0 < v < 1, "a float in (0, 1)"),
        ("eval_fraction", lambda v: 0 < v < 1, "a float in (0, 1)"),
        ("num_proc", lambda v: v >= 1, "an integer >= 1"),
    ],
    "ClusterConfig": [
        ("nodes", lambda v: v >= 1, "an integer >= 1"),
        ("tasks_per_node", lambda v: v >= 1, "an integer >= 1"),
        ("gpus_per_node", lambda v: v >= 0, "an integer >= 0"),
        ("cpus_per_task", lambda v: v >= 1, "an integer >= 1"),
        ("array_parallelism", lambda v: v >= 1, "an integer >= 1"),
        ("timeout_min", lambda v: v >= 1, "an integer >= 1"),
    ],
    "StudyConfig": [
        ("models", lambda v: len(v) >= 1, "a non-empty list"),
        ("tasks", lambda v: len(v) >= 1, "a non-empty list"),
        ("seeds", lambda v: len(v) >= 1 and len(set(v)) == len(v), "a non-empty list of distinct integers"),
        ("arms", lambda v: len(v) >= 1 and len(set(v)) == len(v), "a non-empty list of distinct arms"),
    ],
    "DjangoConfig": [
        ("min_pairs", lambda v: v >= 1, "an integer >= 1"),
        ("max_pairs_per_language", lambda v: v is None or v >= 2, "null or an integer >= 2"),
        ("layer", lambda v: v is None or v >= 0, "null or an integer >= 0"),
    ],
    "DatasetSpec": [("num_labels", lambda v: v >= 1, "an integer >= 1")],
    "XtremeConfig": [
        ("max_eval_per_language", lambda v: v is None or v >= 1, "null or an integer >= 1"),
        ("retrieval_layer", lambda v: v is None or v >= 0, "null or an integer >= 0"),
        ("doc_stride", lambda v: v >= 1, "an integer >= 1"),
        ("gpu_samples_per_s", lambda v: v > 0, "a number > 0"),
    ],
}


def _check_values(obj, where: Where, prefix: str) -> None:
    for name, ok, valid in _RULES.get(type(obj).__name__, []):
        value = getattr(obj, name)
        if not ok(value):
            raise UserError(f"{where(_join(prefix, name))}: invalid value {value!r} (valid: {valid})")
    if type(obj).__name__ == "DataConfig" and obj.train_fraction + obj.eval_fraction >= 1:
        raise UserError(f"{where(_join(prefix, 'eval_fraction'))}: train_fraction + eval_fraction must be < 1 "
                        f"to leave a test split (got {obj.train_fraction} + {obj.eval_fraction})")
    if type(obj).__name__ == "TrainConfig" and obj.zero_stage == 1 and obj.precision == "bf16":
        # DeepSpeed runs this combination with its BF16_Optimizer, whose checkpoints zero_to_fp32
        # refuses ("is not a zero checkpoint"): the run could never be consolidated.
        raise UserError(f"{where(_join(prefix, 'zero_stage'))}: zero_stage 1 with bf16 cannot be consolidated "
                        f"by DeepSpeed (valid with bf16: 0, 2, 3)")
    if type(obj).__name__ == "SourceSpec" and sum(x is not None for x in (obj.hub, obj.asset, obj.path,
                                                                           obj.xtreme)) != 1:
        raise UserError(f"{where(prefix)}: a dataset source needs exactly one of hub, asset, path, xtreme")
