"""Reading files of an XTREME download: a missing file, an unreadable line or a missing field is
one line naming the path (and line)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from hpc_itt.errors import UserError


# ------------------------------------------------------------------------------------- file helpers


def _need(path: Path) -> Path:
    """`path` if it is a file; otherwise a one-line UserError saying what is there instead."""
    if path.is_file():
        return path
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    if folder != path.parent:
        raise UserError(f"XTREME file not found: {path} (directory {path.parent} does not exist; "
                        f"run scripts/download_data.sh into data_dir)")
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    shown = ", ".join(present[:12]) + (f", ... ({len(present)} files)" if len(present) > 12 else "")
    raise UserError(f"XTREME file not found: {path} (present in {folder}: {shown or 'nothing'})")


def _text(path: Path) -> str:
    data = _need(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text ({err.reason})") from None
    return text[1:] if text.startswith("\ufeff") else text


def _lines(path: Path) -> list[str]:
    """Physical lines without their terminator (LF, CRLF or CR-LF mixes); only LF splits lines, so a
    U+2028 inside a token stays a character."""
    return [line[:-1] if line.endswith("\r") else line for line in _text(path).split("\n")]


def _jsonl(path: Path) -> Iterable[tuple[int, dict]]:
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{number}: not a JSON line ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
        yield number, obj


def _json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno})") from None


def _field(obj: dict, key: str, where: str, kind: type | tuple = str) -> Any:
    if key not in obj:
        raise UserError(f"{where}: missing field {key!r} (fields: {', '.join(map(str, obj)) or 'none'})")
    value = obj[key]
    if not isinstance(value, kind):
        raise UserError(f"{where}: field {key!r} should be {getattr(kind, '__name__', 'text')}, "
                        f"got {type(value).__name__}")
    return value


def _rid(dataset: str, split: str, lang: str, index: Any) -> str:
    return f"{dataset}-{split}-{lang}-{index}"
