"""Deforum math expressions (`5*sin(t/10)`), checked against a whitelist and evaluated with
numexpr over whole arrays of frames at once. User text never reaches Python's `eval`.

Every expression is parsed here first, in time linear in its length and to a bounded depth,
then handed to numexpr rewritten for floating point: whole-number literals become float literals
and the variables float64 arrays (Deforum's values are floats). numexpr computes the parts made
of literals alone with Python numbers while it compiles; with integers, `9**9**9` would build a
number of 370 million digits while holding the GIL. The constant parts are computed here first,
so a result too large for a float or a division by zero is reported, with its position, before
numexpr runs; whatever still comes out infinite or NaN is reported with its frame.

Whole numbers keep the operators numexpr gave them when frames were integers: `~a` becomes
-a - 1, and `&`, `|`, `^`, `<<` and `>>` are computed by numpy before the rest of the
expression (on int64, and as exact multiples of powers of 2).
"""

from __future__ import annotations

import difflib
import itertools
import math
import operator
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..errors import WanError

# Real Deforum expressions are a few dozen characters long and a few levels deep; these limits are
# far above that and only stop hostile input. numexpr compiles recursively, about two Python frames
# per level, so 100 levels stay well inside Python's default recursion limit of 1000 even when the
# caller is itself deep inside a web server; 4000 characters compile in a few milliseconds.
MAX_EXPRESSION_LENGTH = 4000
MAX_DEPTH = 100
# 1 << 1023 is the largest power of 2 a float holds.
MAX_SHIFT = 1023
# When a result is not finite, up to this many divisions, and divisors of this many characters in
# all, are evaluated on their own to find one by zero: the search costs at most a few compilations.
_DIAGNOSED_DIVISIONS = 16
_DIAGNOSED_LENGTH = MAX_EXPRESSION_LENGTH

# Reductions would sum over all frames of the vectorised evaluation instead of one frame as in
# Deforum; string and complex helpers have no meaning for a schedule value.
_EXCLUDED_FUNCTIONS = frozenset(
    {"sum", "prod", "min", "max", "contains", "complex", "conj", "real", "imag", "copy", "ones_like"}
)
_CONSTANTS = frozenset({"True", "False"})
# What numexpr computed with whole-number frames, which the bitwise operators and shifts need:
# booleans, whole numbers (these names, and these functions of them) or any real number.
_BOOL, _WHOLE, _REAL = "bool", "whole", "real"
_WHOLE_NAMES = frozenset({"t", "max_f", "s"})
_WHOLE_FUNCTIONS = frozenset({"round", "sign", "where"})  # where: its second and third arguments

# ASCII digits and spaces only: Python, and so numexpr, accepts no others in an expression.
_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n\f\v]+)
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|//|<=|>=|==|!=|<<|>>|[-+*/%<>&|~^(),])
    """,
    re.VERBOSE,
)

# Python's binding strength of the operators, loosest first; comparisons do not chain here.
_COMPARISON = 1
_BINARY = {
    **dict.fromkeys(("<", "<=", ">", ">=", "==", "!="), _COMPARISON),
    "|": 2,
    "^": 3,
    "&": 4,
    "<<": 5,
    ">>": 5,
    "+": 6,
    "-": 6,
    "*": 7,
    "/": 7,
    "//": 7,
    "%": 7,
    "**": 9,
}
_UNARY = 8
_ATOM = 10
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}
_DIVISIONS = frozenset({"/", "//", "%"})
_SHIFTS = frozenset({"<<", ">>"})
_BITWISE: dict[str, Callable] = {"&": operator.and_, "|": operator.or_, "^": operator.xor}
_FINITE = "a value must be a finite number"
FLOAT_RANGE = "values are 64-bit floats, at most 1.8e308 in size"


class ExpressionError(WanError, ValueError):
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


def excerpt(text: str, limit: int = 40) -> str:
    """`text` on one printable line, shortened to about `limit` characters, to quote in a message."""
    head = " ".join(text[: 4 * limit].split())
    head = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in head[: limit + 1])
    if len(head) > limit or len(text) > 4 * limit:
        return f"{head[: limit - 20]}... ({len(text)} characters)"
    return head


def _did_you_mean(name: str, options: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _too_deep(position: int) -> ExpressionError:
    return ExpressionError(f"the expression is nested more than {MAX_DEPTH} levels deep", position)


def _syntax(detail: str, position: int | None) -> ExpressionError:
    return ExpressionError(f"not a valid expression ({detail})", position)


class _Token(NamedTuple):
    kind: str  # "number", "name", "call" (a name before '('), "op" or "end"
    text: str
    start: int

    def describe(self) -> str:
        return "the end" if self.kind == "end" else f"'{excerpt(self.text)}'"


def _tokens(text: str, variables: Collection[str]) -> list[_Token]:
    """Split `text` into tokens; report unknown characters and names and unbalanced parentheses.

    Problems are reported in the order they occur in the text.
    """
    functions = allowed_functions()
    tokens: list[_Token] = []
    open_parens: list[int] = []

    def name_before(following: str) -> None:
        """Check the name token last read, now that the text after it is known."""
        token = tokens[-1]
        name = token.text
        if following == "(":
            if name not in functions:
                hint = _did_you_mean(name, functions)
                raise ExpressionError(f"unknown function '{excerpt(name)}'{hint}", token.start)
            tokens[-1] = token._replace(kind="call")
        elif name not in variables and name not in _CONSTANTS:
            names = ", ".join(sorted(variables))
            raise ExpressionError(
                f"unknown name '{excerpt(name)}'{_did_you_mean(name, variables)}; "
                f"the names available here are {names}",
                token.start,
            )

    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup != "space":
            following = "" if match is None else match.group()
            if tokens and tokens[-1].kind == "name":
                name_before(following)
        if match is None:
            raise ExpressionError(f"unexpected character {text[pos]!r}", pos)
        pos = match.end()
        if match.lastgroup == "space":
            continue
        token = _Token(match.lastgroup or "", match.group(), match.start())
        tokens.append(token)
        if token.text == "(":
            open_parens.append(token.start)
            if len(open_parens) > MAX_DEPTH:
                raise _too_deep(token.start)
        elif token.text == ")":
            if not open_parens:
                raise ExpressionError("')' without a matching '('", token.start)
            open_parens.pop()
    if tokens and tokens[-1].kind == "name":
        name_before("")
    if open_parens:
        raise ExpressionError("'(' is never closed", open_parens[-1])
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Node(NamedTuple):
    kind: str  # "number", "name", "unary", "binary" or "call"
    text: str  # the literal, name, operator or function name
    args: tuple[_Node, ...]
    start: int  # the span of source text the node was parsed from, without parentheses around it
    end: int
    depth: int = 1
    grouped: bool = False  # written inside its own parentheses
    outer: tuple[int, int] = (0, 0)  # the span with those parentheses, if any


class _Parser:
    """Operator-precedence parsing with explicit stacks (a shunting yard): nesting costs no recursion."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.operands: list[_Node] = []
        # operators waiting for their right operand, and open parentheses and calls, innermost last
        self.pending: list[tuple[str, _Token]] = []  # ("binary" | "unary" | "(" | "call", token)
        self.arguments: list[int] = []  # the number of arguments read so far, per open call

    def parse(self) -> _Node:
        expect_value = True
        previous: _Token | None = None
        for token in self.tokens:
            expect_value = self._value(token, previous) if expect_value else self._after_value(token)
            previous = token
        (root,) = self.operands
        return root

    def _push(self, kind: str, token: _Token) -> None:
        if len(self.pending) >= MAX_DEPTH:
            raise _too_deep(token.start)
        self.pending.append((kind, token))

    def _value(self, token: _Token, previous: _Token | None) -> bool:
        """Handle `token` where a value must start; returns whether a value is still expected."""
        if token.kind in ("number", "name"):
            end = token.start + len(token.text)
            self.operands.append(
                _Node(token.kind, token.text, (), token.start, end, outer=(token.start, end))
            )
            return False
        if token.kind == "call":
            self._push("call", token)
            self.arguments.append(0)
            return True
        if token.text == "(":
            if previous is not None and previous.kind == "call":
                return True  # the parenthesis of the call just opened
            self._push("(", token)
            return True
        if token.text in ("-", "+", "~"):
            self._push("unary", token)
            return True
        if token.text == ")" and self.pending and self.pending[-1][0] == "call":
            # f() or a trailing comma, f(a,): a group's '(' would be on top of the call instead
            self._close_call(token)
            return False
        after = "" if previous is None else f" after {previous.describe()}"
        raise _syntax(f"expected a value{after}, found {token.describe()}", token.start)

    def _after_value(self, token: _Token) -> bool:
        """Handle `token` after a complete value; returns whether a value is expected next."""
        if token.kind == "op" and token.text in _BINARY:
            precedence = _BINARY[token.text]
            while self.pending and self.pending[-1][0] in ("binary", "unary"):
                kind, top = self.pending[-1]
                top_precedence = _UNARY if kind == "unary" else _BINARY[top.text]
                # ** groups to the right, all others to the left
                if top_precedence > precedence or (top_precedence == precedence and token.text != "**"):
                    self._reduce()
                else:
                    break
            self._push("binary", token)
            return True
        if token.kind == "end" or token.text in (",", ")"):
            while self.pending and self.pending[-1][0] in ("binary", "unary"):
                self._reduce()
            if token.kind == "end":
                return False
            if token.text == "," and (not self.pending or self.pending[-1][0] == "("):
                raise _syntax("',' outside a function call", token.start)
            kind, opening = self.pending[-1]
            if kind == "(":
                self.pending.pop()
                inner = self.operands.pop()
                if inner.depth >= MAX_DEPTH:
                    raise _too_deep(opening.start)
                outer = (opening.start, token.start + 1)
                self.operands.append(inner._replace(depth=inner.depth + 1, grouped=True, outer=outer))
                return False
            self.arguments[-1] += 1
            if token.text == ",":
                return True
            self._close_call(token)
            return False
        raise _syntax(f"expected an operator before {token.describe()}", token.start)

    def _close_call(self, closing: _Token) -> None:
        _, name = self.pending.pop()
        count = self.arguments.pop()
        args = tuple(self.operands[len(self.operands) - count :])
        del self.operands[len(self.operands) - count :]
        self._add("call", name.text, args, name.start, closing.start + 1)

    def _reduce(self) -> None:
        kind, token = self.pending.pop()
        if kind == "unary":
            operand = self.operands.pop()
            self._add("unary", token.text, (operand,), token.start, operand.outer[1])
            return
        right = self.operands.pop()
        left = self.operands.pop()
        if _BINARY[token.text] == _COMPARISON and _is_comparison(left):
            raise _syntax(
                "comparisons cannot be chained; join them with &, as in (t > 2) & (t < 9)", token.start
            )
        self._add("binary", token.text, (left, right), left.outer[0], right.outer[1])

    def _add(self, kind: str, text: str, args: tuple[_Node, ...], start: int, end: int) -> None:
        """Push a new node; its depth counts the operations numexpr will see (~a becomes -a - 1)."""
        extra = 2 if kind == "unary" and text == "~" else 1
        depth = max((a.depth for a in args), default=0) + extra
        if depth > MAX_DEPTH:
            raise _too_deep(start)
        self.operands.append(_Node(kind, text, args, start, end, depth, False, (start, end)))


def _is_comparison(node: _Node) -> bool:
    return node.kind == "binary" and not node.grouped and _BINARY[node.text] == _COMPARISON


class _Folded(NamedTuple):
    node: _Node  # the node rewritten for evaluation in floating point
    value: float | None  # its value, when it is constant
    kind: str  # what numexpr computed with whole-number frames: _BOOL, _WHOLE or _REAL


def _excerpt_of(source: str, node: _Node) -> str:
    return excerpt(source[node.start : node.end])


def _number(value: float, like: _Node) -> _Node:
    return _Node("number", repr(value), (), like.start, like.end)


def _no_negative_zero(folded: _Folded) -> _Node:
    """The node, plus 0.0 where it is whole: -t at t=0 is 0, as it was with integer frames."""
    # a float -0 shows where a whole number meets a float: `-0` in a prompt, arctan2(0, -0)
    node = folded.node
    if folded.kind != _WHOLE or node.kind in ("number", "name", "step"):
        return node
    return _Node("binary", "+", (node, _number(0.0, node)), node.start, node.end)


def _too_large(source: str, node: _Node) -> ExpressionError:
    return ExpressionError(f"{_excerpt_of(source, node)} is too large: {FLOAT_RANGE}", node.start)


def _lower(node: _Node, source: str) -> _Folded:
    """Rewrite `node` for floats, and compute its constant parts as numexpr would (in Python floats).

    Raises ExpressionError where a constant part is too large for a float or divides by zero,
    where a constant shift count is out of range, and where a whole-number operator gets a fraction.
    """
    if node.kind == "number":
        value = float(node.text)
        if not math.isfinite(value):
            raise ExpressionError(f"the number {excerpt(node.text)} is too large: {FLOAT_RANGE}", node.start)
        return _Folded(node, value, _REAL if any(c in node.text for c in ".eE") else _WHOLE)
    if node.kind == "name":
        if node.text in _CONSTANTS:
            return _Folded(node, float(node.text == "True"), _BOOL)
        return _Folded(node, None, _WHOLE if node.text in _WHOLE_NAMES else _REAL)
    folded = [_lower(arg, source) for arg in node.args]
    if node.kind == "call":
        return _lower_call(node, folded)
    if node.kind == "unary":
        return _lower_unary(node, folded[0])
    return _lower_binary(node, folded[0], folded[1], source)


def _lower_call(node: _Node, args: list[_Folded]) -> _Folded:
    if node.text == "where":
        kinds = {f.kind for f in args[1:]}
        kind = _BOOL if kinds == {_BOOL} else _WHOLE if kinds and _REAL not in kinds else _REAL
        if kind == _WHOLE:  # the values pass through unchanged
            return _Folded(node._replace(args=tuple(f.node for f in args)), None, kind)
    else:
        whole = node.text in _WHOLE_FUNCTIONS and bool(args) and all(f.kind != _REAL for f in args)
        kind = _WHOLE if whole else _REAL
    return _Folded(node._replace(args=tuple(_no_negative_zero(f) for f in args)), None, kind)


def _lower_unary(node: _Node, operand: _Folded) -> _Folded:
    value = operand.value
    if node.text != "~":
        signed = None if value is None else (-value if node.text == "-" else value)
        kind = _WHOLE if operand.kind == _BOOL else operand.kind
        return _Folded(node._replace(args=(operand.node,)), signed, kind)
    if operand.kind == _BOOL:  # numexpr's own logical not; ~True is Python's -2
        constant = None if value is None else -value - 1
        return _Folded(node._replace(args=(operand.node,)), constant, _BOOL if value is None else _WHOLE)
    if operand.kind == _REAL:
        raise ExpressionError("'~' works on whole numbers and comparisons only", node.start)
    if value is not None:
        return _Folded(_number(-value - 1, node), -value - 1, _WHOLE)
    negated = _Node("unary", "-", (operand.node,), node.start, node.end)  # ~a is -a - 1
    return _Folded(_Node("binary", "-", (negated, _number(1.0, node)), node.start, node.end), None, _WHOLE)


def _lower_binary(node: _Node, a: _Folded, b: _Folded, source: str) -> _Folded:
    op = node.text
    if _BINARY[op] == _COMPARISON or (op in _BITWISE and a.kind == b.kind == _BOOL):
        return _Folded(node._replace(args=(a.node, b.node)), None, _BOOL)
    if op in _BITWISE or op in _SHIFTS:
        return _lower_whole_operation(node, a, b, source)
    if op in _DIVISIONS and b.value == 0:
        # no position: the message names the division, and it points at the whole value
        raise ExpressionError(f"division by zero in '{_excerpt_of(source, node)}'; {_FINITE}")
    negative_power = op == "**" and b.value is not None and b.value < 0
    whole = _REAL not in (a.kind, b.kind) and op != "/" and not negative_power
    kind = _WHOLE if whole else _REAL
    args = (a.node, b.node) if whole else (_no_negative_zero(a), _no_negative_zero(b))
    rewritten = node._replace(args=args)
    if a.value is None or b.value is None:
        return _Folded(rewritten, None, kind)
    try:
        result = _ARITHMETIC[op](a.value, b.value)
    except OverflowError:
        raise _too_large(source, node) from None
    except ZeroDivisionError:  # 0 ** -1
        raise ExpressionError(f"division by zero in '{_excerpt_of(source, node)}'; {_FINITE}") from None
    if isinstance(result, complex):  # (-8) ** (1/3); numexpr reports it
        return _Folded(rewritten, None, _REAL)
    if not math.isfinite(result):
        raise _too_large(source, node)
    return _Folded(rewritten, result, kind)


def _lower_whole_operation(node: _Node, a: _Folded, b: _Folded, source: str) -> _Folded:
    """& | ^ << >> on whole numbers: a constant, or a step computed before numexpr runs."""
    op = node.text
    if _REAL in (a.kind, b.kind):
        what = "shifts whole numbers only" if op in _SHIFTS else "works on whole numbers and comparisons only"
        raise ExpressionError(f"{_excerpt_of(source, node)}: '{op}' {what}", node.start)
    if op in _SHIFTS and b.value is not None and not 0 <= b.value <= MAX_SHIFT:
        shown = _excerpt_of(source, node)
        raise ExpressionError(
            f"{shown} shifts by {b.value:g}; a shift count must be 0 to {MAX_SHIFT}", node.start
        )
    if a.value is None or b.value is None:
        return _Folded(_Node("step", op, (a.node, b.node), node.start, node.end), None, _WHOLE)
    try:
        if op in _SHIFTS:
            value = float(_shift(op, np.float64(a.value), np.float64(b.value)))
        else:
            value = float(_BITWISE[op](int(a.value), int(b.value)))
    except OverflowError:
        raise _too_large(source, node) from None
    if not math.isfinite(value):
        raise _too_large(source, node)
    return _Folded(_number(value, node), value, _WHOLE)


def _shift(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a << b or a >> b for whole numbers held in floats, exactly (0 << 2000 is 0, not NaN)."""
    with np.errstate(over="ignore"):
        if op == "<<":
            return np.ldexp(a, b.astype(np.int64)) + 0.0
        return np.floor(np.ldexp(a, -b.astype(np.int64))) + 0.0


class _Step(NamedTuple):
    """A bitwise operation or shift of whole numbers, computed by numpy before numexpr runs."""

    name: str  # the variable that holds the result
    operator: str
    operands: tuple[str, str]  # their numexpr sources
    start: int
    end: int


class _Renderer:
    """numexpr source for a lowered tree; whole-number operations are taken out as steps."""

    def __init__(self) -> None:
        self.steps: list[_Step] = []

    def render(self, node: _Node) -> tuple[str, int]:
        """The source for `node` and the binding strength of its outermost operator."""
        if node.kind == "number":
            text = repr(float(node.text))
            return text, _UNARY if text.startswith("-") else _ATOM
        if node.kind == "name":
            return node.text, _ATOM
        if node.kind == "call":
            return f"{node.text}({', '.join(self.render(arg)[0] for arg in node.args)})", _ATOM
        if node.kind == "unary":
            text, strength = self.render(node.args[0])
            return node.text + (text if strength >= _UNARY else f"({text})"), _UNARY
        left, right = node.args
        (left_text, left_strength), (right_text, right_strength) = self.render(left), self.render(right)
        if node.kind == "step":
            name = f"_step{len(self.steps)}"
            self.steps.append(_Step(name, node.text, (left_text, right_text), node.start, node.end))
            return name, _ATOM
        strength = _BINARY[node.text]
        if node.text == "**":  # right-associative, and its right side may be a unary minus: 2**-1
            left_paren, right_paren = left_strength <= strength, right_strength < _UNARY
        elif strength == _COMPARISON:
            left_paren, right_paren = left_strength <= strength, right_strength <= strength
        else:
            left_paren, right_paren = left_strength < strength, right_strength <= strength
        left_text = f"({left_text})" if left_paren else left_text
        right_text = f"({right_text})" if right_paren else right_text
        return f"{left_text}{node.text}{right_text}", strength


@dataclass(frozen=True)
class _Program:
    tree: _Node  # lowered to operations on floats
    source: str  # what numexpr evaluates
    steps: tuple[_Step, ...]  # computed first, in this order


def _program(tree: _Node) -> _Program:
    renderer = _Renderer()
    source = renderer.render(tree)[0]
    return _Program(tree, source, tuple(renderer.steps))


@lru_cache(maxsize=1024)
def _compile(text: str, variables: frozenset[str]) -> _Program:
    tree = _Parser(_tokens(text, variables)).parse()
    return _program(_no_negative_zero(_lower(tree, text)))


def _compile_checked(text: str, variables: Collection[str]) -> _Program:
    if not text.strip():
        raise ExpressionError("the expression is empty", 0)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"the expression has {len(text)} characters; at most {MAX_EXPRESSION_LENGTH} are allowed", 0
        )
    return _compile(text, frozenset(variables))


def check_expression(text: str, variables: Collection[str]) -> None:
    """Raise ExpressionError, with the character position, unless `text` is a safe expression."""
    _compile_checked(text, variables)


def _run(source: str, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    if source in arrays:
        return arrays[source]
    import numexpr

    try:
        with np.errstate(all="ignore"):
            result = numexpr.evaluate(source, local_dict=dict(arrays), global_dict={})
    except ZeroDivisionError:
        raise ExpressionError(f"division by zero; {_FINITE}") from None
    except OverflowError:
        raise ExpressionError(f"a part of it is too large: {FLOAT_RANGE}") from None
    except (RecursionError, MemoryError):  # the limits above should make these impossible
        raise ExpressionError("the expression is too complex to evaluate") from None
    except Exception as exc:  # numexpr rejects what it cannot compute in many ways
        detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise _syntax(excerpt(detail, 120), None) from None
    result = np.asarray(result)
    if result.dtype.kind not in "biuf":
        raise ExpressionError("the expression must give a real number")
    return result.astype(np.float64, copy=False)


def _first(values: np.ndarray, bad: np.ndarray, arrays: Mapping[str, np.ndarray]) -> tuple[int, float, str]:
    """The flat index and value of the first bad element, and ' at frame N' when frames vary."""
    shape = np.broadcast_shapes(values.shape, *(a.shape for a in arrays.values()))
    index = int(np.argmax(np.broadcast_to(bad, shape).ravel()))
    frames = arrays.get("t")
    at = ""
    if frames is not None and frames.ndim:
        at = f" at frame {int(np.broadcast_to(frames, shape).ravel()[index])}"
    return index, float(np.broadcast_to(values, shape).ravel()[index]), at


def _whole_operands(
    step: _Step, arrays: Mapping[str, np.ndarray], text: str
) -> tuple[np.ndarray, np.ndarray]:
    """The step's operands, checked: whole numbers, int64-sized for & | ^, counts 0..MAX_SHIFT."""
    checked = []
    for side, source in enumerate(step.operands):
        values = _run(source, arrays)
        whole = np.isfinite(values) & (values == np.floor(values))
        if step.operator not in _SHIFTS:
            whole &= np.abs(values) < 2.0**63
        elif side == 1:
            whole &= (values >= 0) & (values <= MAX_SHIFT)
        if not whole.all():
            _, value, at = _first(values, ~whole, arrays)
            shown = excerpt(text[step.start : step.end])
            if not math.isfinite(value):  # whole-number arithmetic that overflowed
                raise ExpressionError(f"'{shown}' is too large{at}: {FLOAT_RANGE}", step.start)
            if step.operator in _SHIFTS and side == 1:
                rule = f"a shift count must be 0 to {MAX_SHIFT}"
            elif step.operator in _SHIFTS:
                rule = "only whole numbers can be shifted"
            else:
                rule = f"'{step.operator}' works on whole numbers of less than 2**63 in size"
            raise ExpressionError(f"{rule}; in '{shown}' it gets {value:g}{at}", step.start)
        checked.append(values)
    return checked[0], checked[1]


def _execute(program: _Program, arrays: Mapping[str, np.ndarray], text: str) -> np.ndarray:
    """Compute the program's steps with numpy, then its expression with numexpr."""
    arrays = dict(arrays)
    for step in program.steps:
        a, b = _whole_operands(step, arrays, text)
        if step.operator in _SHIFTS:
            arrays[step.name] = _shift(step.operator, a, b)
        else:  # on int64, as numexpr computed them when frames were integers
            result = _BITWISE[step.operator](a.astype(np.int64), b.astype(np.int64))
            arrays[step.name] = result.astype(np.float64)
    return _run(program.source, arrays)


def _divisions(node: _Node) -> Iterator[_Node]:
    """The divisions (/, // and %) in `node`, innermost first."""
    for arg in node.args:
        yield from _divisions(arg)
    if node.kind == "binary" and node.text in _DIVISIONS:
        yield node


def _not_finite(
    text: str, program: _Program, arrays: Mapping[str, np.ndarray], values: np.ndarray
) -> ExpressionError:
    """Say where `values` first stops being finite: the frame, and a division by zero if there is one."""
    index, value, at = _first(values, ~np.isfinite(values), arrays)
    shape = np.broadcast_shapes(values.shape, *(a.shape for a in arrays.values()))
    budget = _DIAGNOSED_LENGTH
    for division in itertools.islice(_divisions(program.tree), _DIAGNOSED_DIVISIONS):
        divisor = _program(division.args[1])
        budget -= len(divisor.source) + sum(len(s) for step in divisor.steps for s in step.operands)
        if budget < 0:
            break
        try:
            divisors = _execute(divisor, arrays, text)
        except ExpressionError:
            continue
        if np.broadcast_to(divisors, shape).ravel()[index] == 0:
            return ExpressionError(f"division by zero{at} in '{_excerpt_of(text, division)}'; {_FINITE}")
    return ExpressionError(f"'{excerpt(text)}' gives {value}{at}; {_FINITE}")


def evaluate_expression(text: str, variables: Mapping[str, np.ndarray | int | float]) -> np.ndarray:
    """Evaluate `text` with numexpr in float64; raises ExpressionError unless every value is finite."""
    program = _compile_checked(text, variables.keys())
    arrays: dict[str, np.ndarray] = {}
    for name, value in variables.items():
        try:
            arrays[name] = np.asarray(value, dtype=np.float64)
        except (OverflowError, TypeError, ValueError):
            raise ExpressionError(f"the value of {name} is not a number a float can hold") from None
    values = _execute(program, arrays, text)
    if not np.isfinite(values).all():
        raise _not_finite(text, program, arrays, values)
    return values
