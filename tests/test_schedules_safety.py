"""Schedules from hostile callers: bounded evaluation, clear one-line errors, linear parsing.

The statements that froze the interpreter run in a fresh one with a timeout, so a regression
fails the test instead of hanging the test run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wan.schedules import (
    ExpressionError,
    PromptKeyframe,
    PromptSchedule,
    ScheduleError,
    evaluate_schedule,
    normalize_prompts,
    prompt_at_frames,
)
from wan.schedules.expressions import MAX_DEPTH, MAX_EXPRESSION_LENGTH, check_expression, evaluate_expression

ROOT = Path(__file__).resolve().parents[1]
VALUE_VARIABLES = ("t", "max_f", "s", "pi")

_SNIPPET = """
import json
from wan.schedules import ScheduleError, evaluate_schedule, prompt_at_frames
try:
    {statement}
except ScheduleError as exc:
    print(json.dumps({{"error": str(exc)}}))
else:
    print(json.dumps({{"error": None}}))
"""


def error_in_fresh_python(statement: str, timeout: float = 20) -> str | None:
    """The ScheduleError message `statement` raises, run in a new interpreter that may freeze."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _SNIPPET.format(statement=statement)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:  # the child is killed: a frozen one ignores SIGTERM
        pytest.fail(f"{statement} was still running after {timeout} s")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)["error"]


# --- 1. huge powers and shifts are refused before numexpr runs ------------------------------


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("evaluate_schedule('0:(9**9**9)', 10)", "schedule: keyframe 1, character 4: 9**9**9 is too large: "),
        (
            "evaluate_schedule('0:(0), 9**9**9:(1)', 10)",
            "keyframe 2, character 8: frame '9**9**9': 9**9**9 is too",
        ),
        (
            "prompt_at_frames({'0': 'a `9**9**9` b'}, 10)",
            "prompt at '0', expression `9**9**9`: 9**9**9 is too large",
        ),
        ("evaluate_schedule('0:(2**(9**9))', 10)", "character 4: 2**(9**9) is too large"),
        ("evaluate_schedule('0:(1<<100000000000)', 10)", "a shift count must be 0 to 1023"),
        ("evaluate_schedule('0:(t>>100000000000)', 10)", "a shift count must be 0 to 1023"),
        ("evaluate_schedule('0:(' + '9' * 60 + '<<1000)', 10)", "is too large: values are 64-bit floats"),
    ],
)
def test_huge_powers_and_shifts_give_a_clear_error_instead_of_freezing(statement, message):
    error = error_in_fresh_python(statement)
    assert error is not None and message in error, error
    assert "\n" not in error


def test_too_large_says_what_is_allowed():
    with pytest.raises(ScheduleError, match=r"values are 64-bit floats, at most 1\.8e308 in size"):
        evaluate_schedule("0:(10**400)", 3)


def test_whole_number_operators_keep_their_values():
    assert evaluate_schedule("0:(t<<2)", 4).tolist() == [0, 4, 8, 12]
    assert evaluate_schedule("0:((t-2)>>1)", 4).tolist() == [-1, -1, 0, 0]
    assert evaluate_schedule("0:(t&1)", 5).tolist() == [0, 1, 0, 1, 0]
    assert evaluate_schedule("0:(t|1)", 5).tolist() == [1, 1, 3, 3, 5]
    assert evaluate_schedule("0:(t^1)", 5).tolist() == [1, 0, 3, 2, 5]
    assert evaluate_schedule("0:(~t)", 3).tolist() == [-1, -2, -3]
    assert evaluate_schedule("0:(t&s)", 5, seed=6).tolist() == [0, 0, 2, 2, 4]
    assert evaluate_schedule("0:((t<<2)&4)", 3).tolist() == [0, 4, 0]
    assert evaluate_schedule("0:((t>1)&(t<3))", 4).tolist() == [0, 0, 1, 0]
    assert evaluate_schedule("0:(5&3 + (~1))", 1).tolist() == [1]  # 5 & (3 + -2)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("t<<0.5", "t<<0.5: '<<' shifts whole numbers only"),
        ("t&pi", "t&pi: '&' works on whole numbers and comparisons only"),
        ("1<<t", "a shift count must be 0 to 1023; in '1<<t' it gets 1024 at frame 1024"),
        ("t<<(t-3)", "a shift count must be 0 to 1023; in 't<<(t-3)' it gets -3 at frame 0"),
        (
            "(t*99999999999*99999999999)&1",
            "less than 2**63 in size; in '(t*99999999999*99999999999)&1' it gets",
        ),
    ],
)
def test_whole_number_operators_refuse_what_they_cannot_compute(value, message):
    with pytest.raises(ScheduleError) as caught:
        evaluate_schedule(f"0:({value})", 1100)
    assert message in str(caught.value)


def test_whole_number_arithmetic_gives_no_negative_zero():
    # with integer frames -t was 0 at frame 0; a float -0 shows in prompts and in arctan2
    assert prompt_at_frames({"0": "`-t` `-t*pi` `t*(t-1)` `-t//3`"}, 1, clean=False) == [("0 0 0 0", "")]
    assert not np.signbit(evaluate_schedule("0:(-t)", 1)).any()
    assert evaluate_schedule("0:(arctan2(t, -t))", 1).tolist() == [0.0]


# --- 2. floating point, and every non-finite value reported with its frame -------------------


def test_whole_number_arithmetic_does_not_wrap_around():
    values = evaluate_schedule("0:(t*t*t*t*t)", 100_000)  # int64 gave -3.37e17 at the last frame
    assert values[-1] == pytest.approx(99_999.0**5)


def test_deforum_whole_number_schedules_keep_their_values():
    assert evaluate_schedule("0:(2**3)", 1).tolist() == [8.0]
    assert evaluate_schedule("0:(7/2)", 1).tolist() == [3.5]
    assert evaluate_schedule("0:(t//2)", 6).tolist() == [0, 0, 1, 1, 2, 2]
    assert evaluate_schedule("0:(t%3)", 6).tolist() == [0, 1, 2, 0, 1, 2]
    assert evaluate_schedule("0:((t-7)//2)", 4).tolist() == [-4, -3, -3, -2]  # floors, as in Python
    assert evaluate_schedule("0:((t-7)%3)", 4).tolist() == [2, 0, 1, 2]  # the divisor's sign
    assert evaluate_schedule("0:(s%7)", 1, seed=2**32 - 1).tolist() == [(2**32 - 1) % 7]
    assert evaluate_schedule("0:(where(t>1, 2, -2))", 3).tolist() == [-2, -2, 2]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: evaluate_schedule("0:(10**(t*100))", 6),
            "keyframe 1, character 3: '(10**(t*100))' gives inf at frame 4",
        ),
        (lambda: evaluate_schedule("0:(0), 3:(log(t-4))", 6), "'(log(t-4))' gives nan at frame 3"),
        (lambda: prompt_at_frames({"0": "a `1e308*(t+1)` b"}, 5), "'1e308*(t+1)' gives inf at frame 1"),
        (
            lambda: prompt_at_frames({"0": "a", "2": "b `sqrt(1-t)`"}, 5),
            "prompt at '2', expression `sqrt(1-t)`",
        ),
        (lambda: evaluate_schedule("0:(0), exp(max_f*1000):(1)", 5), "'exp(max_f*1000)' gives inf"),
    ],
)
def test_non_finite_values_are_errors_on_every_path(call, message):
    with pytest.raises(ScheduleError) as caught:
        call()
    assert message in str(caught.value) and "finite" in str(caught.value)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("9" * 5000, "too large; a frame must lie between -2**53 and 2**53"),
        ("9" * 20, "too large (1e+20); a frame must lie"),
        ("2**60", "too large (1.15292e+18)"),
        ("1e400", "the number 1e400 is too large"),
        ("-max_f*1e300", "too large (-1.9e+301)"),
    ],
)
def test_frames_that_do_not_fit_are_clear_errors(frame, message):
    with pytest.raises(ScheduleError, match="keyframe 2, character 8") as caught:
        evaluate_schedule(f"0:(0), {frame}:(1)", 20)
    assert message in str(caught.value)
    with pytest.raises(ScheduleError, match="too large"):
        prompt_at_frames({"0": "a", frame: "b"}, 20)


def test_numbers_too_large_for_a_float_are_errors():
    with pytest.raises(
        ScheduleError, match=r"character 3: the number 9{20}\.\.\. \(400 characters\) is too large"
    ):
        evaluate_schedule("0:(" + "9" * 400 + ")", 3)  # was a schedule of inf


def test_prompt_input_that_python_cannot_read_is_a_schedule_error():
    with pytest.raises(ScheduleError, match="frame is too large"):
        normalize_prompts([(10**5000, "a")])  # str() of it raises
    with pytest.raises(ScheduleError, match="a number is too long"):
        normalize_prompts('[["0", ' + "9" * 5000 + "]]")
    with pytest.raises(ScheduleError, match="nested too deeply"):
        normalize_prompts("[" * 100_000 + "]" * 100_000)


# --- 3. division by zero ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1/0", "t/0", "t%0", "t//0", "t%(2-2)", "0**-1"])
def test_every_division_by_zero_gives_the_same_error(value):
    with pytest.raises(ScheduleError) as caught:
        evaluate_schedule(f"0:({value})", 10)
    message = f"division by zero in '{value}'; a value must be a finite number"
    assert str(caught.value) == f"schedule: keyframe 1, character 3: {message}"


@pytest.mark.parametrize("value", ["1/(t-5)", "t%(t-5)", "t//(t-5)", "(t+1)/(t-5)*2"])
def test_a_divisor_that_is_zero_at_some_frame_names_the_frame(value):
    with pytest.raises(
        ScheduleError, match=r"division by zero at frame 5 in '.*\(t-5\)'; a value must be a finite"
    ):
        evaluate_schedule(f"0:({value})", 10)
    with pytest.raises(ScheduleError, match="division by zero at frame 5"):
        prompt_at_frames({"0": f"a `{value}` b"}, 10)


def test_a_guarded_division_is_fine():
    values = evaluate_schedule("0:(where(t==5, 0, 1/(t-5)))", 7)
    assert values.tolist() == [-0.2, -0.25, -1 / 3, -0.5, -1.0, 0.0, 1.0]


# --- 4. nesting and length are limited --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(" * 3000 + "t" + ")" * 3000, "the expression has 6001 characters; at most 4000"),
        ("-" * 5000 + "1", "the expression has 5001 characters"),
        ("+".join(["t"] * 3000), "the expression has 5999 characters"),
        ("+".join(["sin(t/3)"] * 700), "the expression has 6299 characters"),
        ("(" * 150 + "t" + ")" * 150, f"nested more than {MAX_DEPTH} levels deep"),
        ("-" * 150 + "t", f"nested more than {MAX_DEPTH} levels deep"),
        ("+".join(["t"] * 150), f"nested more than {MAX_DEPTH} levels deep"),
        ("**".join(["t"] * 150), f"nested more than {MAX_DEPTH} levels deep"),
        ("sin(" * 150 + "t" + ")" * 150, f"nested more than {MAX_DEPTH} levels deep"),
    ],
)
def test_long_and_deep_expressions_are_refused_without_recursion_error(text, message):
    with pytest.raises(ExpressionError, match=re.escape(message)):
        check_expression(text, VALUE_VARIABLES)
    with pytest.raises(ExpressionError, match=r"nested|characters"):
        evaluate_expression(text, {"t": np.arange(3.0), "max_f": 2, "s": 0, "pi": np.pi})
    with pytest.raises(ScheduleError, match=r"keyframe 1, character \d+: "):
        evaluate_schedule(f"0:({text})", 3)


def test_the_limits_leave_room_for_real_schedules():
    assert MAX_EXPRESSION_LENGTH >= 2000 and MAX_DEPTH >= 50
    deep = "(" * 60 + "t" + ")" * 60
    long = "+".join(["(1.0025+0.002*sin(1.25*3.14*t/30))"] * 60)  # 2099 characters, 67 levels
    assert evaluate_schedule(f"0:({deep})", 3).tolist() == [0, 1, 2]
    assert evaluate_schedule(f"0:({long})", 3)[0] == pytest.approx(60 * 1.0025)


# --- 5. linear time ---------------------------------------------------------------------------


class _CountingText(str):
    """A str that counts the characters copied by slicing it."""

    copied = 0

    def __getitem__(self, key):  # type: ignore[override]
        piece = str.__getitem__(self, key)
        _CountingText.copied += len(piece)
        return piece


def test_checking_does_not_copy_the_rest_of_the_text_per_token():
    text = _CountingText("+".join(["(" + "+".join(["sin(t)"] * 30) + ")"] * 18))  # 1080 names
    _CountingText.copied = 0
    check_expression(text, VALUE_VARIABLES)
    assert _CountingText.copied <= 2 * len(text)  # copying the rest per name made it 2 million


def test_ten_thousand_prompts_parse_without_comparing_them_pairwise(monkeypatch):
    comparisons = 0
    equal = PromptKeyframe.__eq__

    def counting_eq(self, other):
        nonlocal comparisons
        comparisons += 1
        return equal(self, other)

    monkeypatch.setattr(PromptKeyframe, "__eq__", counting_eq)
    schedule = PromptSchedule({str(i): f"prompt {i}" for i in range(10_000)}, 5_000)
    assert len(schedule.keyframes) == 5_000 and len(schedule.warnings) == 5_000
    assert schedule.at(4_321) == ("prompt 4321", "")
    assert comparisons <= 10_000  # `k not in inside` made it 37 million


# --- 6. messages ------------------------------------------------------------------------------


def test_messages_quote_long_and_multi_line_text_briefly():
    with pytest.raises(ScheduleError) as caught:
        evaluate_schedule("0:(0),\n" + "x" * 3000 + "\n", 5)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200
    assert "'xxxxxxxxxxxxxxxxxxxx... (3000 characters)' needs a ':'" in message
