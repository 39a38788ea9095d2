"""Deforum keyframe schedules: syntax, expressions, interpolation, Deforum's failures, bad input."""

from __future__ import annotations

import re

import numexpr
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.schedules import ScheduleError, evaluate_schedule, parse_keyframes

# --- an independent model of Deforum's FrameInterpolater, written against pandas -------------

_DEFORUM_NUMBER = re.compile(r"^(?=.)([+-]?([0-9]*)(\.([0-9]+))?)$")


def _strip(text: str) -> str:
    return text.replace("'", "").replace('"', "").replace("(", "").replace(")", "")


def deforum_reference(keyframes: dict[int, str], max_frames: int, seed: int, method: str) -> np.ndarray:
    """What Deforum computes for a schedule whose keyframes include frame 0 (frame by frame)."""
    series = pd.Series([np.nan] * max_frames, dtype=float)
    value, is_number = "", True
    for frame in range(max_frames):
        if frame in keyframes:
            value = keyframes[frame]
            is_number = bool(_DEFORUM_NUMBER.match(_strip(value)))
            if is_number:
                series[frame] = float(_strip(value))
        if not is_number:
            variables = {"t": frame, "max_f": max_frames - 1, "s": seed}
            series[frame] = float(numexpr.evaluate(value, local_dict=variables))
    if method == "Cubic" and len(keyframes) <= 3:
        method = "Quadratic"
    if method == "Quadratic" and len(keyframes) <= 2:
        method = "Linear"
    series[0] = series[series.first_valid_index()]
    series[max_frames - 1] = series[series.last_valid_index()]
    return series.interpolate(method=method.lower(), limit_direction="both").to_numpy()


EXPRESSIONS = [
    "5*sin(t/10)",
    "t/3",
    "(max_f-t)*0.1",
    "where(t>20, 2, -2)",
    "1.0025+0.002*sin(1.25*3.14*t/30)",
    "s % 7",
    "abs(cos(t/4))**2",
    "1e-2",
]
numbers = st.floats(-50, 50, allow_nan=False).map(lambda x: f"{x:.3f}")
values = st.one_of(numbers, numbers, st.sampled_from(EXPRESSIONS))


@st.composite
def schedules(draw):
    max_frames = draw(st.integers(1, 120))
    frames = draw(st.sets(st.integers(1, max_frames + 15), max_size=8))
    keyframes = {0: draw(values)} | {f: draw(values) for f in sorted(frames)}
    return keyframes, max_frames


@given(schedules(), st.sampled_from(["Linear", "Quadratic", "Cubic"]), st.integers(0, 2**32 - 1))
def test_matches_deforum_reference(case, method, seed):
    keyframes, max_frames = case
    text = ", ".join(f"{frame}:({value})" for frame, value in keyframes.items())
    expected = None
    for fallback in ("Cubic", "Quadratic", "Linear")[("Cubic", "Quadratic", "Linear").index(method) :]:
        try:  # too few known points for scipy's spline: Deforum crashes, we lower the degree
            expected = deforum_reference(keyframes, max_frames, seed, fallback)
            break
        except ValueError:
            continue
    actual = evaluate_schedule(text, max_frames, seed=seed, interpolation=method)
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-9)


def test_linear_interpolation_and_hold():
    values = evaluate_schedule("0:(0), 10:(10)", 15)
    np.testing.assert_allclose(values, [*range(11), 10, 10, 10, 10])


def test_expression_holds_until_next_numeric_keyframe():
    values = evaluate_schedule("0:(t*2), 5:(100)", 8)
    np.testing.assert_allclose(values, [0, 2, 4, 6, 8, 100, 100, 100])


def test_numeric_keyframe_after_expression_interpolates_from_its_value():
    values = evaluate_schedule("0:(0), 4:(t), 6:(0)", 8)
    # frames 0..3 interpolate 0 -> t(4) = 4; the expression runs for 4 and 5; then 0 holds
    np.testing.assert_allclose(values, [0, 1, 2, 3, 4, 5, 0, 0])


def test_deforum_number_rule_treats_scientific_notation_as_expression():
    # Deforum's number pattern has no exponent, so 1e1 holds instead of interpolating.
    np.testing.assert_allclose(evaluate_schedule("0:(1e1), 4:(0)", 5), [10, 10, 10, 10, 0])
    np.testing.assert_allclose(evaluate_schedule("0:(10), 4:(0)", 5), [10, 7.5, 5, 2.5, 0])


@pytest.mark.parametrize(
    "text",
    [
        "0:(0),10:(10)",
        "0: (0), 10: (10)",
        "  0 :(0) ,  10 : (10)  ",
        "0:(0),\n10:(10)",
        "0:0, 10:10",
        "0:(0), 10:(10),",
        "'0':(0), \"10\":(10)",
        "0:((0)), 10:(((10)))",
    ],
)
def test_whitespace_quoting_and_parentheses(text):
    np.testing.assert_allclose(evaluate_schedule(text, 11), np.arange(11.0))


def test_spaces_inside_parentheses_make_an_expression_like_deforum():
    # "( 0)" is not a plain decimal once quotes and parentheses are gone, so it holds
    np.testing.assert_allclose(evaluate_schedule("0:( 0), 4:(4)", 5), [0, 0, 0, 0, 4])


def test_frame_expressions_quoted_or_not():
    for text in ('0:(0), "max_f-10":(10)', "0:(0), 'max_f-10':(10)", "0:(0), max_f-10:(10)"):
        values = evaluate_schedule(text, 31)
        assert values[20] == 10 and values[10] == 5


def test_frame_expression_can_use_seed_and_is_truncated():
    values = evaluate_schedule("0:(0), s/2:(1)", 20, seed=9)  # frame int(4.5) = 4
    assert values[4] == 1 and values[3] == 0.75


def test_seed_schedule_default_of_deforum():
    text = '0:(s), 1:(-1), "max_f-2":(-1), "max_f-1":(s)'
    # max_f = 5: the keyframes land on frames 0, 1, 3 and 4; the last value holds to frame 5
    np.testing.assert_allclose(evaluate_schedule(text, 6, seed=42), [42, -1, -1, -1, 42, 42])


def test_comma_inside_function_call_does_not_split():
    # Deforum splits on every comma and fails here; we split only between keyframes.
    values = evaluate_schedule("0:(where(t>50, 2, -2)), 90:(0)", 100)
    assert values[50] == -2 and values[51] == 2 and values[95] == 0


def test_quoted_expression_values_are_unquoted():
    for text in ('0:("t/2")', "0:('t/2')", "0:'t/2'", '0:"(t/2)"'):
        np.testing.assert_allclose(evaluate_schedule(text, 4), [0, 0.5, 1, 1.5])
    with pytest.raises(ScheduleError) as caught:
        evaluate_schedule('0:("sinn(t)")', 4)
    assert caught.value.position == 4  # the s of sinn, inside the quotes


def test_first_keyframe_after_frame_zero_holds_back():
    # Deforum raises UnboundLocalError here; the first value holds for the frames before it.
    np.testing.assert_allclose(evaluate_schedule("5:(3), 9:(7)", 12), [3] * 6 + [4, 5, 6, 7, 7, 7])
    values = evaluate_schedule("3:(t)", 6)  # an expression holds its value at the keyframe
    np.testing.assert_allclose(values, [3, 3, 3, 3, 4, 5])


def test_keyframes_outside_the_animation_are_ignored_like_deforum():
    np.testing.assert_allclose(evaluate_schedule("0:(0), 100:(10)", 5), [0] * 5)
    np.testing.assert_allclose(evaluate_schedule("-5:(9), 0:(1), 2:(3)", 4), [1, 2, 3, 3])


def test_all_keyframes_outside_hold_the_nearest():
    np.testing.assert_allclose(evaluate_schedule("50:(7), 60:(9)", 4), [7] * 4)
    np.testing.assert_allclose(evaluate_schedule("-9:(2), -3:(4)", 3), [4] * 3)


def test_repeated_frame_last_wins():
    np.testing.assert_allclose(evaluate_schedule("0:(1), 0:(5)", 3), [5, 5, 5])


def test_quadratic_and_cubic_fall_back_like_deforum():
    two = evaluate_schedule("0:(0), 10:(10)", 11, interpolation="Cubic")
    np.testing.assert_allclose(two, np.arange(11.0))
    cubic = evaluate_schedule("0:(0), 5:(10), 10:(0), 15:(10), 19:(0)", 20, interpolation="cubic")
    linear = evaluate_schedule("0:(0), 5:(10), 10:(0), 15:(10), 19:(0)", 20)
    assert cubic[5] == 10 and not np.allclose(cubic, linear)


def test_single_frame_animation():
    assert evaluate_schedule("0:(3), 10:(5)", 1).tolist() == [3.0]


def test_pi_is_available():
    assert evaluate_schedule("0:(sin(pi/2))", 1)[0] == pytest.approx(1.0)


def test_result_is_a_fresh_float_array():
    first = evaluate_schedule("0:(0), 10:(10)", 11)
    first[:] = -1
    second = evaluate_schedule("0:(0), 10:(10)", 11)
    assert second.dtype == np.float64 and second[10] == 10 and second.flags.writeable


def test_keyframes_are_sorted_and_classified():
    keyframes = parse_keyframes("30:(5*t), 0:(1)", 60)
    assert [(k.frame, k.number) for k in keyframes] == [(0, 1.0), (30, None)]
    assert keyframes[1].value == "(5*t)"


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("0:(0), 30 (5)", "needs a ':'", 8),
        ("0:(sinn(t))", "unknown function 'sinn' (did you mean 'sin'?)", 4),
        ("0:(0), 10:(x*2)", "unknown name 'x'", 12),
        ("0:(0), 10:((t)", "'(' is never closed", 11),
        ("0:(t))", "')' without a matching '('", 6),
        ("0:(1), 5:($)", "unexpected character '$'", 11),
        ("0:", "value after ':' is missing", 3),
        (":(5)", "frame before ':' is missing", 1),
        ("t:(5)", "unknown name 't'", 1),
        ("0:(t/0)", "finite", 3),
        ("0:(1/0)", "division by zero", 3),
        ("0:(5 5)", "not a valid expression", None),
        ("0:(__import__('os'))", "unknown function '__import__'", 4),
        ("0:(t.real)", "unexpected character '.'", None),
        ('0:("text")', "unknown name 'text'", 5),
    ],
)
def test_bad_input_names_schedule_keyframe_and_position(text, message, position):
    with pytest.raises(ScheduleError) as caught:
        evaluate_schedule(text, 40, name="translation_x")
    error = caught.value
    assert str(error).startswith("translation_x")
    assert message in str(error)
    if position is not None:
        assert error.position == position - 1, str(error)
        assert error.pointer().splitlines()[1].index("^") == position + 1


def test_empty_and_non_text_schedules():
    with pytest.raises(ScheduleError, match="is empty"):
        evaluate_schedule("   ", 10, name="zoom")
    with pytest.raises(ScheduleError, match="must be a text"):
        evaluate_schedule(5, 10, name="zoom")  # type: ignore[arg-type]


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_frames"):
        evaluate_schedule("0:(0)", 0)
    with pytest.raises(ScheduleError, match="interpolation must be one of"):
        evaluate_schedule("0:(0)", 5, interpolation="Spline")


def test_reductions_are_not_allowed():
    # vectorised over frames, sum(t) would sum all frames; Deforum sums one frame
    with pytest.raises(ScheduleError, match="unknown function 'sum'"):
        evaluate_schedule("0:(sum(t))", 5)


def test_ten_thousand_frames_of_expressions():
    values = evaluate_schedule("0:(5*sin(t/10)), 5000:(0), 9999:(t%7)", 10_000)
    assert values.shape == (10_000,) and values[9999] == 9999 % 7
