"""Prompt schedules: per-frame lookup, --neg, global prompts, backticks, WebUI syntax, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.schedules import PromptSchedule, ScheduleError, plain_prompt, prompt_at_frames


def test_each_prompt_holds_until_the_next():
    frames = prompt_at_frames({"0": "a forest", "3": "a castle"}, 5)
    assert frames == [("a forest", "")] * 3 + [("a castle", "")] * 2


def test_negative_split_and_global_prompts_in_deforum_order():
    frames = prompt_at_frames(
        {"0": "a forest --neg blurry", "2": "a castle"}, 3, positive="cinematic", negative="lowres"
    )
    assert frames[0] == ("cinematic, a forest", "blurry, lowres")
    assert frames[2] == ("cinematic, a castle", "lowres")


def test_every_later_neg_part_is_negative_too():
    assert prompt_at_frames({"0": "a --neg b --neg c"}, 1) == [("a", "b, c")]


def test_expression_keys_quoted_or_not_and_first_prompt_covers_earlier_frames():
    frames = prompt_at_frames({"max_f/2": "second", "'max_f-1'": "last", "2": "first"}, 11)
    assert [p for p, _ in frames] == ["first"] * 5 + ["second"] * 4 + ["last"] * 2


def test_accepts_json_text_and_integer_keys():
    assert prompt_at_frames('{"0": "a", "1": "b"}', 2) == [("a", ""), ("b", "")]
    assert prompt_at_frames({0: "a", 1: "b"}, 2) == [("a", ""), ("b", "")]


def test_backtick_expressions_are_evaluated_per_frame():
    frames = prompt_at_frames({"0": "a tower with `t*2` windows"}, 3)
    assert [p for p, _ in frames] == [f"a tower with {n} windows" for n in (0, 2, 4)]
    last = prompt_at_frames({"0": "`max_f` steps"}, 4)[0][0]
    assert last == "3 steps"


def test_empty_backticks_stay_text():
    assert prompt_at_frames({"0": "a `` b"}, 1) == [("a `` b", "")]
    assert prompt_at_frames({"0": "a ` ` b"}, 1) == [("a ` ` b", "")]


def test_weights_from_backticks_are_dropped_with_the_syntax():
    frames = prompt_at_frames({"0": "(a cat:`0.5+t/10`) on a mat"}, 2)
    assert frames == [("a cat on a mat", "")] * 2


def test_prompts_outside_the_animation_are_reported_and_ignored():
    schedule = PromptSchedule({"0": "a", "50": "late", "-3": "early"}, 10)
    assert [k.text for k in schedule.keyframes] == ["a"]
    assert len(schedule.warnings) == 2
    assert any("'50' (frame 50)" in w for w in schedule.warnings)


def test_when_no_prompt_is_inside_the_nearest_holds():
    schedule = PromptSchedule({"20": "only"}, 10)
    assert schedule.per_frame() == [("only", "")] * 10
    assert "no prompt starts inside" in schedule.warnings[0]


def test_two_keys_on_one_frame_later_wins_with_a_warning():
    schedule = PromptSchedule({"0": "a", "max_f-max_f": "b"}, 3)
    assert schedule.per_frame() == [("b", "")] * 3
    assert "both start at frame 0" in schedule.warnings[0]


def test_raw_text_when_cleaning_is_off():
    assert prompt_at_frames({"0": "(cat:1.2)"}, 1, clean=False) == [("(cat:1.2)", "")]


@pytest.mark.parametrize(
    ("prompt", "plain"),
    [
        ("a (cat:1.2) on a ((mat))", "a cat on a mat"),
        ("[dog] in [rain:snow:0.7]", "dog in rain"),
        ("[rain:snow:0.2]", "snow"),
        ("[rain:snow:12]", "snow"),
        ("[to:0.3] x", "to x"),
        ("[from::0.8] y", "from y"),
        ("[cat|dog|bird] portrait", "cat, dog, bird portrait"),
        ("<lora:film:0.8> a castle, BREAK night <hypernet:x:1>", "a castle, night"),
        ("(A):0.6 AND (B):0.4", "A, B"),
        ("cat AND dog :0.3", "cat, dog"),
        ("a clock showing 10:30", "a clock showing 10:30"),
        ("unclosed (bracket here", "unclosed bracket here"),
        ("stray ) closer]", "stray closer"),
        (r"literal \(paren\)", "literal (paren)"),
        ("(a:b:1.2)", "a:b"),
        ("weird ,, commas ,and  spaces ,", "weird, commas, and spaces"),
        ("(masterpiece:1.4), (best quality), 1girl", "masterpiece, best quality, 1girl"),
        ("雾中的森林，(城堡:1.2)", "雾中的森林，城堡"),
        ("", ""),
    ],
)
def test_webui_syntax_is_made_plain(prompt, plain):
    assert plain_prompt(prompt) == plain


@given(st.text(max_size=80))
def test_plain_prompt_never_fails_and_keeps_no_weight_syntax(text):
    result = plain_prompt(text)
    assert isinstance(result, str)
    assert "<lora:" not in result.lower()


@pytest.mark.parametrize(
    ("prompts", "message"),
    [
        ({}, "needs at least one prompt"),
        ("not json", "is not a JSON object"),
        (["a", "b"], "each entry must be a frame and a prompt"),
        (5, "must be an object of frame -> prompt"),
        ({"0": 5}, "must be text"),
        ({"zero": "a"}, "unknown name 'zero'"),
        ({"0": "a `sinn(t)` b"}, "unknown function 'sinn'"),
        ({True: "a"}, "must be a number or an expression"),
        ({"0": "x" * 10_001}, "at most 10000"),
        ({str(i): "a" for i in range(10_001)}, "more than 10000 prompts"),
    ],
)
def test_bad_prompt_schedules(prompts, message):
    with pytest.raises(ScheduleError, match=message):
        prompt_at_frames(prompts, 10)


@given(
    st.dictionaries(st.integers(0, 60), st.text("abcdef ", min_size=1, max_size=6), min_size=1),
    st.integers(1, 60),
)
def test_each_frame_gets_the_latest_prompt_at_or_before_it(prompts, max_frames):
    frames = prompt_at_frames({str(k): v for k, v in prompts.items()}, max_frames, clean=False)
    inside = sorted(k for k in prompts if k < max_frames) or [min(prompts)]
    assert len(frames) == max_frames
    for frame, (positive, _) in enumerate(frames):
        current = max([k for k in inside if k <= frame], default=inside[0])
        assert positive == prompts[current].strip()
