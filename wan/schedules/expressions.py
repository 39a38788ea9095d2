"""Deforum math expressions (`5*sin(t/10)`), checked against a whitelist and evaluated with
numexpr over whole arrays of frames at once. User text never reaches Python's `eval`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from functools import lru_cache

import numpy as np

# Reductions would sum over all frames of the vectorised evaluation instead of one frame as in
# Deforum; string and complex helpers have no meaning for a schedule value.
_EXCLUDED_FUNCTIONS = frozenset(
    {"sum", "prod", "min", "max", "contains", "complex", "conj", "real", "imag", "copy", "ones_like"}
)
_CONSTANTS = frozenset({"True", "False"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|//|<=|>=|==|!=|<<|>>|[-+*/%<>&|~^(),])
    """,
    re.VERBOSE,
)


class ExpressionError(ValueError):
    """A math expression that cannot be evaluated; `position` is a 0-based offset into it."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@lru_cache(maxsize=1)
def allowed_functions() -> frozenset[str]:
    """Names of the numexpr functions a schedule expression may call."""
    from numexpr import expressions

    return frozenset(expressions.functions) - _EXCLUDED_FUNCTIONS


def _did_you_mean(name: str, options: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_expression(text: str, variables: Collection[str]) -> None:
    """Raise ExpressionError, with the character position, unless `text` is a safe expression."""
    if not text.strip():
        raise ExpressionError("the expression is empty", 0)
    functions = allowed_functions()
    open_parens: list[int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected character {text[pos]!r}", pos)
        kind, token = match.lastgroup, match.group()
        if kind == "name":
            follows_call = text[match.end() :].lstrip().startswith("(")
            if follows_call:
                if token not in functions:
                    raise ExpressionError(f"unknown function '{token}'{_did_you_mean(token, functions)}", pos)
            elif token not in variables and token not in _CONSTANTS:
                names = ", ".join(sorted(variables))
                raise ExpressionError(
                    f"unknown name '{token}'{_did_you_mean(token, variables)}; "
                    f"the names available here are {names}",
                    pos,
                )
        elif token == "(":
            open_parens.append(pos)
        elif token == ")":
            if not open_parens:
                raise ExpressionError("')' without a matching '('", pos)
            open_parens.pop()
        pos = match.end()
    if open_parens:
        raise ExpressionError("'(' is never closed", open_parens[-1])


def evaluate_expression(text: str, variables: Mapping[str, np.ndarray | int | float]) -> np.ndarray:
    """Evaluate `text` with numexpr; returns float64 values (0-d when nothing varies)."""
    check_expression(text, variables.keys())
    import numexpr

    try:
        result = numexpr.evaluate(text, local_dict=dict(variables), global_dict={})
    except ZeroDivisionError:
        raise ExpressionError("division by zero") from None
    except (SyntaxError, ValueError, TypeError, KeyError, OverflowError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise ExpressionError(f"not a valid expression ({detail})") from None
    result = np.asarray(result)
    if result.dtype.kind not in "biuf":
        raise ExpressionError("the expression must give a real number")
    return result.astype(np.float64, copy=False)
