"""Where configs live and how a YAML file is read (keeping each key's line for error messages)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from hpc_itt.config.validate import Where
from hpc_itt.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]


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
