"""Raw labels of the XTREME files and hub copies -> the 0-based ids of the example records."""
from __future__ import annotations

from typing import Any

from hpc_itt.errors import UserError
from hpc_itt.xtreme.formats.spec import NLI_LABELS


UNLABELLED = -1


def _unlabelled(value: Any, where: str, unlabelled_ok: bool, valid: str) -> bool:
    """True for a row without a label (None, "", -1) where that is allowed (test files); an error
    naming the valid labels where it is not."""
    if value is None or value == "" or value == -1 or value == "-1":
        if unlabelled_ok:
            return True
        raise UserError(f"{where}: missing label (valid: {valid})")
    return False


def nli_label(value: Any, where: str, unlabelled_ok: bool = False) -> int:
    """0 entailment, 1 neutral, 2 contradiction; -1 when unlabelled (None, "", -1)."""
    if _unlabelled(value, where, unlabelled_ok, ", ".join(NLI_LABELS)):
        return UNLABELLED
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int) and 0 <= value <= 2:
        return value
    text = str(value).strip().lower()
    if text in ("0", "1", "2"):
        return int(text)
    if text == "contradictory":
        return 2
    if text in NLI_LABELS:
        return NLI_LABELS.index(text)
    raise UserError(f"{where}: unknown NLI label {value!r} (valid: {', '.join(NLI_LABELS)}, 0, 1, 2)")


def binary_label(value: Any, where: str, unlabelled_ok: bool = False) -> int:
    """COPA/XCOPA: 0 (choice1) or 1 (choice2); -1 when unlabelled."""
    if _unlabelled(value, where, unlabelled_ok, "0, 1"):
        return UNLABELLED
    if not isinstance(value, bool) and str(value).strip() in ("0", "1"):
        return int(str(value).strip())
    raise UserError(f"{where}: unknown label {value!r} (valid: 0, 1)")


def siqa_label(value: Any, where: str, unlabelled_ok: bool = False) -> int:
    """SIQA: letters A-C or the 1-based digits 1-3 (hub, original label files) -> 0-2."""
    if _unlabelled(value, where, unlabelled_ok, "A, B, C, 1, 2, 3"):
        return UNLABELLED
    text = str(value).strip().upper()
    if text in ("A", "B", "C"):
        return "ABC".index(text)
    if not isinstance(value, bool) and text in ("1", "2", "3"):
        return int(text) - 1
    raise UserError(f"{where}: unknown SIQA label {value!r} (valid: A, B, C, 1, 2, 3)")


def _question(value: Any, where: str) -> str:
    text = str(value).strip().lower()
    if text not in ("cause", "effect"):
        raise UserError(f"{where}: unknown COPA question {value!r} (valid: cause, effect)")
    return text
