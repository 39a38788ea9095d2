"""Language by script, word limits, cleaning model answers, and the movement inside a rewrite."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wan.movement import describe
from wan.prompts.camera_words import keep_movement, motions, movement_in_chinese
from wan.prompts.cleaning import clean_answer, junk_reason
from wan.prompts.language import count_words, detect_language, limit_words


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("A misty forest at dawn, the camera pans left.", "en"),
        ("薄雾笼罩的森林，清晨的阳光穿过高大的松树。", "zh"),
        ("薄雾笼罩的森林，8K, cinematic 电影感画面，清晨的阳光", "zh"),  # a few Latin words are fine
        ("A misty forest 薄雾笼罩的森林 at dawn with tall trees", "mixed"),
        ("1234 !!! ...", "unknown"),
    ],
)
def test_language_by_script(text, language):
    assert detect_language(text) == language


def test_words_count_latin_words_and_han_characters():
    assert count_words("a misty forest, 8K") == 4
    assert count_words("薄雾森林") == 4
    assert count_words("it's a well-lit room") == 4


def test_limit_prefers_whole_sentences():
    text = "One two three four five six seven eight. Nine ten eleven twelve."
    assert limit_words(text, 10) == "One two three four five six seven eight."
    assert limit_words(text, 100) == text


def test_limit_cuts_inside_a_long_sentence_and_closes_it():
    assert limit_words("one two three four five six", 4) == "one two three four."
    assert limit_words("薄雾笼罩的森林清晨阳光", 4) == "薄雾笼罩。"


@given(st.text(alphabet=st.sampled_from(list("abc 薄雾森林.,。 ")), max_size=300), st.integers(1, 60))
def test_a_limited_text_never_exceeds_the_limit(text, limit):
    assert count_words(limit_words(text, limit)) <= limit


@pytest.mark.parametrize(
    "answer",
    [
        "Here is the enhanced prompt: A misty forest at dawn, sunbeams through pines.",
        "Sure! Here's a more cinematic version:\n\n**A misty forest at dawn, sunbeams through pines.**",
        '"A misty forest at dawn, sunbeams through pines."',
        "<think>The user wants a forest.</think>\nA misty forest at dawn, sunbeams through pines.",
        "Enhanced prompt: A misty forest at dawn, sunbeams through pines.\n\nI hope this helps!",
        "```\nA misty forest at dawn, sunbeams through pines.\n```",
        "# Prompt\n- A misty forest at dawn, sunbeams through pines.",
    ],
)
def test_cleaning_leaves_only_the_prompt(answer):
    assert clean_answer(answer) == "A misty forest at dawn, sunbeams through pines."


def test_cleaning_chinese_prefaces():
    assert (
        clean_answer("好的，以下是改写后的提示词：\n“薄雾笼罩的森林，清晨的阳光。”")
        == "薄雾笼罩的森林，清晨的阳光。"
    )


def test_an_unterminated_think_block_leaves_nothing():
    assert clean_answer("<think>I should describe the forest and") == ""


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty"),
        ("I'm sorry, but I can't help with that request.", "refused"),
        ("forest", "fewer than 3 words"),
        ("!!! ### 1234 5678 ???", "not words"),
        ("the the the the the the the the the the the the the the", "repeated"),
        ("forest light forest light forest light forest light forest light forest light", "repeated"),
    ],
)
def test_junk_is_recognised(answer, reason):
    assert reason in junk_reason(answer)


def test_a_good_answer_is_not_junk():
    assert junk_reason("A misty forest at dawn, the camera slowly pans left across tall pines.") is None


PAN_LEFT = "camera movement with gentle panning left (sustained)"


@pytest.mark.parametrize(
    "answer",
    [
        "A forest at dawn. The camera slowly pans to the left across the trees.",
        "A forest at dawn, the camera pans left.",
        "A forest at dawn as the camera tracks leftward.",
    ],
)
def test_an_answer_that_says_the_movement_is_kept(answer):
    assert keep_movement(answer, PAN_LEFT, "en") == (answer, "")


def test_a_contradicting_sentence_is_removed_and_the_phrase_added():
    text, note = keep_movement("A forest. The camera pans right over the trees. Soft light.", PAN_LEFT, "en")
    assert text == "A forest. Soft light. Camera movement with gentle panning left (sustained)."
    assert "contradicting" in note


def test_a_missing_movement_is_added():
    text, note = keep_movement("A forest at dawn, tall pines.", PAN_LEFT, "en")
    assert text.endswith("Camera movement with gentle panning left (sustained).")
    assert note == "the camera movement was added"


def test_each_movement_of_a_phrase_is_checked():
    phrase = "camera movement with moderate dolly forward (sustained) and gentle panning left (sustained)"
    assert motions(phrase) == [("dolly", "forward"), ("panning", "left")]
    only_one = "A castle. The camera pushes forward toward the gate."
    assert keep_movement(only_one, phrase, "en")[1] == "the camera movement was added"


def test_patterns_are_checked_too():
    assert (
        keep_movement("A castle as the camera orbits to the right.", "slow orbit to the right", "en")[1] == ""
    )
    text, _ = keep_movement("A castle as the camera orbits to the left.", "slow orbit to the right", "en")
    assert "orbits to the left" not in text and text.endswith("Slow orbit to the right.")


def test_chinese_answers_must_mention_the_camera():
    assert keep_movement("镜头缓缓向左平移，薄雾森林。", PAN_LEFT, "zh") == (
        "镜头缓缓向左平移，薄雾森林。",
        "",
    )
    text, _ = keep_movement("薄雾森林。", PAN_LEFT, "zh")
    assert text == "薄雾森林。镜头运动：缓慢向左平移（持续）。"


def test_no_phrase_no_change():
    assert keep_movement("A forest.", "", "en") == ("A forest.", "")


INTENSITIES = ["subtle", "gentle", "moderate", "strong"]
DURATIONS = ["brief", "extended", "sustained"]
DIRECTIONAL = [
    ("panning", "left"),
    ("panning", "right"),
    ("moving", "up"),
    ("moving", "down"),
    ("dolly", "forward"),
    ("dolly", "backward"),
    ("tilting", "up"),
    ("tilting", "down"),
    ("rotating", "left"),
    ("rotating", "right"),
    ("rolling", "clockwise"),
    ("rolling", "counter-clockwise"),
]
SWAYS = ["sway left and right", "bob up and down", "push in and out", "rock side to side", "nod up and down"]
movement_words = st.one_of(
    st.builds(
        lambda i, vd, d: describe.directional(i, vd[0], vd[1], d),
        st.sampled_from(INTENSITIES),
        st.sampled_from(DIRECTIONAL),
        st.sampled_from(DURATIONS),
    ),
    st.builds(
        describe.sway, st.sampled_from(INTENSITIES), st.sampled_from(SWAYS), st.sampled_from(DURATIONS)
    ),
    st.builds(describe.orbit, st.sampled_from(INTENSITIES), st.sampled_from(["left", "right"])),
    st.builds(
        describe.spiral,
        st.sampled_from(INTENSITIES),
        st.sampled_from(["clockwise", "counter-clockwise"]),
        st.sampled_from(["forward", "backward"]),
    ),
    st.builds(describe.pendulum, st.sampled_from(INTENSITIES), st.sampled_from(SWAYS), st.floats(0.5, 9)),
    st.builds(describe.zigzag, st.sampled_from(INTENSITIES), st.sampled_from(SWAYS), st.floats(0.5, 9)),
    st.builds(
        describe.figure_eight,
        st.sampled_from(INTENSITIES),
        st.sampled_from(["horizontal", "vertical"]),
        st.floats(1, 9),
    ),
)
shake_words = st.builds(describe.shake, st.sampled_from(INTENSITIES), st.sampled_from(["", "rapid", "slow"]))


@given(st.lists(movement_words, max_size=3), st.one_of(st.none(), shake_words))
def test_every_movement_phrase_translates_to_chinese(parts, shake):
    from wan.movement.result import Movement

    movements = [Movement("x", "x", "gentle", "brief", words, 1.0, ()) for words in parts]
    shaking = Movement("shake", "", "gentle", "", shake, 1.0, ()) if shake else None
    phrase = describe.describe(movements, shaking)
    chinese = movement_in_chinese(phrase)
    assert chinese is not None, phrase
    assert not re.search(r"[A-Za-z]", chinese)
    assert detect_language(chinese) == "zh"


def test_a_phrase_outside_the_vocabulary_is_not_translated():
    assert movement_in_chinese("camera movement with a barrel roll") is None
