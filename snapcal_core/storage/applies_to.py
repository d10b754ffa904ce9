"""``appliesTo`` expressions (SNAPRed): comma-separated conditions that must all hold.

Each condition is ``>=N``, ``<=N``, ``>N``, ``<N`` or a bare ``N`` (equality), N a run number;
SNAPRed writes a single condition, which is the one-element case of this grammar.
"""

from __future__ import annotations

import operator
import re

from snapcal_core.errors import StorageError

_CONDITION = re.compile(r"\s*(>=|<=|>|<|==|=)?\s*([0-9]+)\s*")
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
MAX_EXPRESSION_CHARS = 200


def default_applies_to(run_number: int) -> str:
    """The runs a calibration applies to unless a person says otherwise: its own run and every later one."""
    return f">={run_number}"


def parse_applies_to(expression: str) -> list[tuple[str, int]]:
    """Conditions ``(operator, run)`` of an expression; :class:`StorageError` naming the bad part otherwise."""
    if not isinstance(expression, str) or not expression.strip():
        raise StorageError(f"appliesTo {expression!r} is empty; use e.g. '>=57000' or '>=57000,<58000'")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise StorageError(f"appliesTo is {len(expression)} characters long (at most {MAX_EXPRESSION_CHARS})")
    conditions = []
    for part in expression.split(","):
        m = _CONDITION.fullmatch(part)
        if m is None:
            raise StorageError(f"appliesTo {expression!r}: condition {part.strip()!r} is not >=N, <=N, >N, <N or N "
                               f"(N a run number; conditions separated by commas)")
        op = m.group(1) or "=="
        conditions.append(("==" if op == "=" else op, int(m.group(2))))
    return conditions


def applies(expression: str, run_number: int) -> bool:
    """True when every condition of ``expression`` holds for ``run_number``."""
    return all(_OPS[op](run_number, n) for op, n in parse_applies_to(expression))


def normalise(expression: str) -> str:
    """Canonical text of an expression (validated), e.g. ``' >= 5, <9'`` -> ``'>=5,<9'``."""
    return ",".join(f"{'' if op == '==' else op}{n}" for op, n in parse_applies_to(expression))
