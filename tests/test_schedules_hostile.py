"""Hostile schedules, prompts and expressions, and random token soups: each one gives finite
values or raises ScheduleError / ExpressionError (with a one-line message), in bounded time.

Both checks run in a fresh interpreter with a timeout, because the failure they guard against is
a freeze: numexpr building a huge integer holds the GIL and ignores SIGTERM. The timeouts only
stop a hang; they are far above a healthy run. The tests start this file as a script:
`python tests/test_schedules_hostile.py corpus` (or `soups`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wan.schedules import ExpressionError, ScheduleError, evaluate_schedule, prompt_at_frames
from wan.schedules.expressions import check_expression, evaluate_expression

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 2_000
SEED = 2**32 - 1
VARIABLES = {"t": np.arange(FRAMES), "max_f": FRAMES - 1, "s": SEED, "pi": np.pi}
# the whole corpus takes about two seconds
CORPUS_HANG_GUARD_S = 20
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
SOUP_EXAMPLES = 3000 if THOROUGH else 300
SOUP_HANG_GUARD_S = 600 if THOROUGH else 120

_LONG_SUM = "+".join(["sin(t/3)"] * 700)  # 6299 characters


def _balanced(leaves: int) -> str:
    if leaves == 1:
        return "t"
    return f"({_balanced(leaves // 2)}+{_balanced(leaves - leaves // 2)})"


SCHEDULES = [
    # huge powers
    "0:(9**9**9)",
    "9**9**9:(0)",
    "0:(9**9**9**9**9)",
    "0:((-9)**9**9)",
    "0:(0.5**9**9**9)",
    "0:(2**1024)",
    "0:(2.0**1023*2)",
    "0:(t**t)",
    "0:(9**t)",
    "0:(t**9**9)",
    "0:(10**-400)",
    "0:(1e308*10)",
    "0:(-1e308*10)",
    "0:(1e-308/1e308)",
    "max_f**max_f**max_f:(1)",
    "s**s**s:(1)",
    # shifts
    "0:(1<<100000000000)",
    "0:(1<<1024)",
    "0:(1<<1023)",
    "0:(t<<99999)",
    "0:(1>>99999)",
    "0:(" + "9" * 30 + "<<1000)",
    "0:(t<<-1)",
    "0:(1<<t)",
    "0:(-1>>t)",
    "0:(s<<62)",
    "0:(True<<True)",
    "0:(0.5<<1)",
    # deep nesting
    "0:(" + "(" * 3000 + "t" + ")" * 3000 + ")",
    "0:(" + "(" * 3000 + "1" + ")" * 3000 + ")",
    "0:(" + "-" * 5000 + "t)",
    "0:(" + "+".join(["t"] * 3000) + ")",
    "0:(" + "sin(" * 500 + "t" + ")" * 500 + ")",
    "0:(" + "**".join(["t"] * 1000) + ")",
    "0:(" + "~" * 3000 + "(t>1))",
    "0:(" + "where(t>1," * 300 + "t" + ",1)" * 300 + ")",
    "0:(" + "(" * 99 + "t" + ")" * 99 + ")",
    "(" * 5000,
    ")" * 5000,
    # long
    f"0:({_LONG_SUM})",
    f"0:({_balanced(1000)})",
    ", ".join(f"{i}:({i % 7})" for i in range(100_000)),
    ", ".join(f"{i}:(t/{i + 1})" for i in range(2_000)),
    "0:" * 5000,
    "0:(" + "'" * 101 + ")",
    # huge and tiny numbers
    "0:(" + "9" * 5000 + ")",
    "0:(" + "1" * 100_000 + ")",
    "0:(0." + "0" * 100_000 + "1)",
    "9" * 5000 + ":(0)",
    "0:(1e400)",
    "1e400:(0)",
    "0:(1e-400)",
    "0:(0), 1e308:(1)",
    "-1e308:(0)",
    "0:(0), 9007199254740993:(1)",
    "0:(0), -9007199254740991:(1)",
    # NaN and infinity by name or by computation
    "0:(nan)",
    "0:(inf)",
    "0:(NaN)",
    "0:(Infinity)",
    "nan:(0)",
    "inf:(0)",
    "0:(float('inf'))",
    "0:(log(0))",
    "0:(sqrt(-1))",
    "0:(0/0)",
    "0:(arcsin(2))",
    "0:(exp(t))",
    "0:(isinf(1/t))",
    "0:(where(t>0, 1/t, 0))",
    # digits and spaces that are not ASCII
    "0:(٣)",
    "٣:(1)",
    "0:(１２)",
    "0:(t*٣)",
    "0:(t²)",
    "0:(t\u00a0+1)",
    "0:(t\u2212 1)",
    "0:(ｔ)",
    "0:(𝟗**𝟗**𝟗)",
    # control characters
    "0:(t\x00)",
    "\x00:(1)",
    "0:(1)\x00",
    "0:(\x00)",
    "0:(t)\r\n5:(1)",
    "0:(t\x1b[2J)",
    # Python, not math
    "0:(__import__('os').system('id'))",
    "0:(t.real)",
    "0:(lambda: 1)",
    "0:(t if t else 1)",
    "0:([t])",
    "0:({t})",
    "0:(t;1)",
    "0:(`t`)",
    '0:("t")',
    "0:(sum(t))",
    "0:(t,t)",
    "0:(t<t<t)",
    "0:(t & 1)",
    "0:(~t)",
    "0:(where(t))",
    "0:(sin())",
    "0:(sin(t,t,t))",
    "0:(1 2)",
    "0:(t!)",
    "0:(complex(1,1))",
    "0:((-8)**(1/3))",
    "0:(t**-1)",
    "0:(0**-1)",
    "0:(copy(t))",
    "0:(max_f(1))",
    "0:(t(1))",
    "0:(pi=1)",
    "0:(1e)",
    "0:(0x10)",
    "0:(1_000)",
    "0:(.)",
    "0:(())",
    "0:(,)",
    "0:(:)",
    ":::::",
    ",,,,,",
    "'" * 5000,
]

PROMPTS: list[object] = [
    {"0": "a `9**9**9` b"},
    {"0": "`1/(t-2)`"},
    {"0": "`9**t`"},
    {"0": "`t` --neg `1/t`"},
    {"0": "`t%0`"},
    {"0": "`" + "(" * 3000 + "t" + ")" * 3000 + "`"},
    {"0": "`" + "-" * 5000 + "t`"},
    {"0": "`t`" * 3000},
    {"0": "a\x00`t`"},
    {"0": "x" * 10_000},
    {"0": "`nan`"},
    {"9" * 5000: "a"},
    {"1e400": "a"},
    {"nan": "a"},
    {"max_f/0": "a"},
    {"max_f**max_f**max_f": "a"},
    {str(i): "a" for i in range(10_001)},
    "[" * 100_000 + "]" * 100_000,
    '[["0", ' + "9" * 5000 + "]]",
    [(10**5000, "a")],
    [(2**60, "a")],
]

EXPRESSIONS = [
    "9**9**9",
    "1<<100000000000",
    "(" * 3000 + "1" + ")" * 3000,
    "-" * 5000 + "1",
    "t*t*t*t*t",
    _LONG_SUM,
    "t+" * 500_000 + "t",
    "(" * 100 + "t" + ")" * 100,
]


def _finite_prompts(pairs: list[tuple[str, str]]) -> bool:
    return not any(re.search(r"\b(?:inf|nan)\b", text) for pair in pairs for text in pair)


def _problem(kind: str, case: object) -> str | None:
    """None if `case` gives finite values or a clear error; otherwise what went wrong."""
    try:
        if kind == "schedule":
            finite = bool(np.isfinite(evaluate_schedule(case, FRAMES, seed=SEED)).all())  # type: ignore[arg-type]
        elif kind == "prompts":
            finite = _finite_prompts(prompt_at_frames(case, 200))
        else:
            check_expression(case, VARIABLES.keys())  # type: ignore[arg-type]
            finite = bool(np.isfinite(evaluate_expression(case, VARIABLES)).all())  # type: ignore[arg-type]
    except (ScheduleError, ExpressionError) as exc:
        message = str(exc)
        if "\n" in message or len(message) > 300:
            return f"an unclear message: {message[:300]!r}"
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None if finite else "values that are not finite"


def _corpus() -> list[tuple[str, object]]:
    return (
        [("schedule", case) for case in SCHEDULES]
        + [("prompts", case) for case in PROMPTS]
        + [("expression", case) for case in EXPRESSIONS]
    )


def _label(case: object) -> str:
    return ascii(case[:60]) if isinstance(case, str) else type(case).__name__


def _run_here(mode: str, timeout: float) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    try:
        return subprocess.run(
            [sys.executable, __file__, mode],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environment,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:  # the child is killed
        lines = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        done = len(lines.splitlines())
        corpus = _corpus()
        running = _label(corpus[done][1]) if mode == "corpus" and done < len(corpus) else "?"
        pytest.fail(f"'{mode}' still running after {timeout} s (on case {done}: {running})")


def test_hostile_corpus_gives_finite_values_or_clear_errors():
    done = _run_here("corpus", CORPUS_HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    corpus = _corpus()
    assert len(results) == len(corpus)
    problems = [f"{_label(corpus[r['case']][1])}: {r['problem']}" for r in results if r["problem"]]
    assert not problems, "\n".join(problems)


_LEAVES = ("t", "max_f", "s", "pi", "True", "0", "1", "2", "9", "0.5", ".5e1", "1e308", "99999999999")
_OPERATORS = ("+", "-", "*", "/", "//", "%", "**", "<<", ">>", "<", "<=", "==", "!=", "&", "|", "^")
_OTHERS = ("x", "e", ".", "(", ")", ",", "~", " ", "sin", "where", "log", "`", "'", ":")
_TOKENS = [*_LEAVES, *_OPERATORS, *_OTHERS]


def _grown(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pairs = st.tuples(children, st.sampled_from(_OPERATORS), children)
    return st.one_of(
        pairs.map(lambda p: f"{p[0]}{p[1]}{p[2]}"),
        st.tuples(st.sampled_from("-+~"), children).map("".join),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(["sin", "log", "sqrt", "abs", "floor", "round", "exp"]), children).map(
            lambda p: f"{p[0]}({p[1]})"
        ),
        st.tuples(children, children).map(lambda p: f"arctan2({p[0]}, {p[1]})"),
        st.tuples(children, children, children).map(lambda p: f"where({p[0]}, {p[1]}, {p[2]})"),
    )


# token soups, which are rarely valid, and expressions built by the grammar, which mostly are
SOUPS = st.one_of(
    st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=40).map("".join),
    st.recursive(st.sampled_from(_LEAVES), _grown, max_leaves=40),
)


@settings(max_examples=SOUP_EXAMPLES, deadline=None, database=None)
@given(SOUPS)
def _token_soups_raise_only_expression_errors(text: str) -> None:
    for kind, case in [
        ("expression", text),
        ("schedule", f"0:({text})"),
        ("schedule", f"0:(0), {text}:(1)"),
        ("prompts", {"0": f"a `{text}` b"}),
    ]:
        problem = _problem(kind, case)
        assert problem is None, f"{kind} {case!r}: {problem}"


def test_token_soups_raise_only_expression_errors():
    done = _run_here("soups", SOUP_HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-3000:]


if __name__ == "__main__":
    if sys.argv[1:] == ["corpus"]:
        for number, (kind, case) in enumerate(_corpus()):
            print(json.dumps({"case": number, "problem": _problem(kind, case)}), flush=True)
    elif sys.argv[1:] == ["soups"]:
        _token_soups_raise_only_expression_errors()
    else:
        sys.exit(f"usage: {sys.argv[0]} corpus|soups")
