"""The prompt enhancer: the engine's rules on a scripted backend, and the real transformers path
on a tiny random Qwen2 chat model (batching, left padding, unloading, caching)."""

import pytest

from wan.config import EnhancementOptions, SettingsError, config_from_dict
from wan.plan import adopt_prompts, create_plan, enhance_plan
from wan.prompts import PromptContext, PromptEnhancementEngine
from wan.prompts.backends import EnhancerError, QwenBackend, Sampling
from wan.prompts.instructions import system_message
from wan.prompts.models import choose_auto, enhancer_model, resolve_enhancer

GOOD = "A misty pine forest at dawn, golden sunbeams cut through drifting fog between tall trunks."


class Scripted:
    """A backend that answers from a function of the conversation, and records its calls."""

    identity = "scripted:test"

    def __init__(self, answer=lambda conversation: GOOD):
        self.answer = answer
        self.calls = []
        self.unloaded = 0

    def generate(self, conversations, sampling):
        self.calls.append((list(conversations), sampling))
        return [self.answer(c) for c in conversations]

    def unload(self):
        self.unloaded += 1


def engine(backend, tmp_path, **settings):
    return PromptEnhancementEngine(EnhancementOptions(**settings), backend=backend, cache=tmp_path / "cache")


def test_strength_zero_returns_the_prompts_without_asking_a_model(tmp_path):
    backend = Scripted()
    results = engine(backend, tmp_path, strength=0).enhance_prompts(["a forest", "a castle"])
    assert [r.prompt for r in results] == ["a forest", "a castle"]
    assert {r.source for r in results} == {"unchanged"}
    assert backend.calls == []


def test_all_prompts_go_in_one_call_and_duplicates_once(tmp_path):
    backend = Scripted()
    results = engine(backend, tmp_path).enhance_prompts(["a forest", "a castle", "a forest", ""])
    assert len(backend.calls) == 1
    assert [c[1]["content"] for c in backend.calls[0][0]] == ["a forest", "a castle"]
    assert [r.source for r in results] == ["model", "model", "model", "unchanged"]
    assert results[0].prompt == GOOD and results[0].changed
    assert results[3].note == "the prompt is empty"


def test_the_cache_answers_the_second_time(tmp_path):
    first = Scripted()
    engine(first, tmp_path).enhance_prompts(["a forest"])
    second = Scripted(answer=lambda c: pytest.fail("the model was asked again"))
    result = engine(second, tmp_path).enhance_prompt_with_context("a forest")
    assert (result.source, result.prompt) == ("cache", GOOD)
    # another setting is another key
    third = Scripted()
    engine(third, tmp_path, language="en", strength=0.9).enhance_prompts(["a forest"])
    assert len(third.calls) == 1


def test_without_a_cache_nothing_is_stored(tmp_path):
    backend = Scripted()
    PromptEnhancementEngine(EnhancementOptions(), backend=backend, cache=False).enhance_prompts(["a forest"])
    PromptEnhancementEngine(EnhancementOptions(), backend=backend, cache=False).enhance_prompts(["a forest"])
    assert len(backend.calls) == 2


def test_junk_keeps_the_original_and_says_why(tmp_path):
    results = engine(Scripted(lambda c: "I'm sorry, I cannot do that."), tmp_path).enhance_prompts(
        ["a forest"]
    )
    assert results[0].prompt == "a forest"
    assert results[0].source == "kept"
    assert results[0].note == "kept the original: the model refused"


ENGLISH = "A misty forest at dawn with tall pines."


@pytest.mark.parametrize(
    ("answer", "settings", "reason"),
    [
        ("I'm sorry, I cannot do that.", {}, "the model refused"),
        (ENGLISH, {"language": "zh"}, "the answer was in English, not Chinese"),
    ],
)
def test_a_rejected_answer_is_cached_with_its_reason_and_not_asked_again(tmp_path, answer, settings, reason):
    """d1b0a49 cached only usable answers, so every rerun asked the model again for an answer it
    would reject again. A failure of the enhancer itself is still not cached."""
    first = Scripted(lambda c: answer)
    assert engine(first, tmp_path, **settings).enhance_prompts(["a forest"])[0].source == "kept"
    second = Scripted(lambda c: pytest.fail("the model was asked again"))
    again = engine(second, tmp_path, **settings).enhance_prompts(["a forest"])[0]
    assert (again.prompt, again.source, again.model) == ("a forest", "kept", "scripted:test")
    assert again.note == f"kept the original: {reason} (an earlier answer, cached)"
    assert not again.error and second.calls == []

    down = Scripted(lambda c: EnhancerError("the server is down"))
    assert engine(down, tmp_path, **settings).enhance_prompts(["a castle"])[0].error
    back = Scripted(lambda c: answer)
    engine(back, tmp_path, **settings).enhance_prompts(["a castle"])
    assert len(back.calls) >= 1  # asked again: the failure was not kept


def test_a_wrong_language_is_asked_again_once_with_a_firmer_instruction(tmp_path):
    answers = iter(["A misty forest at dawn with tall pines.", "薄雾笼罩的森林，清晨的阳光穿过高大的松树。"])
    backend = Scripted(lambda c: next(answers))
    result = engine(backend, tmp_path, language="zh").enhance_prompt_with_context("a misty forest")
    assert result.prompt == "薄雾笼罩的森林，清晨的阳光穿过高大的松树。"
    assert len(backend.calls) == 2
    assert "你上一次的回答不是中文" in backend.calls[1][0][0][0]["content"]
    assert backend.calls[1][1].seed == backend.calls[0][1].seed + 1


def test_a_language_still_wrong_after_the_retry_is_reported(tmp_path):
    backend = Scripted(lambda c: "A misty forest at dawn with tall pines.")
    result = engine(backend, tmp_path, language="zh").enhance_prompt_with_context("a misty forest")
    assert result.prompt == "a misty forest"
    assert result.note == "kept the original: the answer was in English, not Chinese"
    assert len(backend.calls) == 2


def test_chinese_input_gets_an_english_answer(tmp_path):
    backend = Scripted(lambda c: "An ancient castle on a hill, golden light, cinematic detail.")
    result = engine(backend, tmp_path, language="en").enhance_prompt_with_context("一座古老的城堡")
    assert result.source == "model"
    assert "translate" in backend.calls[0][0][0][0]["content"]


def test_the_answer_is_cleaned_limited_and_keeps_the_movement(tmp_path):
    long_answer = (
        "Sure! Here is the prompt: A forest glows softly. Tall pines rise out of pale morning fog, their "
        "trunks wet and dark, while thin beams of gold slip between the branches and settle on ferns "
        "heavy with dew. A narrow deer trail winds between mossy boulders toward a clearing where the "
        "light gathers, and somewhere far off a stream murmurs under the hush of the waking woods."
    )
    backend = Scripted(lambda c: long_answer)
    phrase = "camera movement with gentle panning left (sustained)"
    result = engine(backend, tmp_path, max_words=30).enhance_prompt_with_context("a forest", phrase)
    assert result.prompt.startswith("A forest glows softly.")
    assert result.prompt.endswith("Camera movement with gentle panning left (sustained).")
    assert len(result.prompt.split()) <= 30
    assert result.note == "the camera movement was added"


def test_the_system_message_carries_strength_movement_style_and_language():
    context = PromptContext("slow orbit to the right", "watercolor")
    light = system_message(
        "a fox", context, language="en", strength=0.1, style_strength=0.2, movement_context=True, max_words=80
    )
    assert "Keep every word of the user's prompt" in light
    assert "slow orbit to the right" in light and "never describe a different movement" in light
    assert "Visual style: watercolor. Only hint at this style." in light
    free = system_message(
        "a fox",
        context,
        language="zh",
        strength=0.9,
        style_strength=1.0,
        movement_context=False,
        max_words=80,
    )
    assert "自由" in free and "只用简体中文回答" in free and "让该风格占主导" in free
    assert "orbit" not in free


def test_light_strength_decodes_greedily_and_free_strength_samples(tmp_path):
    backend = Scripted()
    engine(backend, tmp_path, strength=0.2).enhance_prompts(["a fox"])
    engine(backend, tmp_path, strength=0.9).enhance_prompts(["a fox"])
    assert backend.calls[0][1].temperature == 0
    assert backend.calls[1][1].temperature > 0.5


def test_english_answers_get_the_style_back_when_they_dropped_it(tmp_path):
    result = engine(Scripted(), tmp_path).enhance_prompt_with_context("a forest", style="watercolor")
    assert result.prompt == GOOD + " Watercolor."


def test_a_backend_error_keeps_the_prompt_and_is_marked(tmp_path):
    backend = Scripted(lambda c: EnhancerError("could not reach http://x (is the server running?)"))
    result = engine(backend, tmp_path).enhance_prompt_with_context("a forest")
    assert result.prompt == "a forest" and result.error
    assert "could not reach" in result.note


def test_a_missing_model_is_reported_not_raised(tmp_path):
    settings = EnhancementOptions(model="qwen2.5-7b")
    result = PromptEnhancementEngine(settings, models_dir=tmp_path).enhance_prompt_with_context("a fox")
    assert result.error and result.source == "kept"
    assert "hf download Qwen/Qwen2.5-7B-Instruct" in result.note


def test_settings_errors_name_the_setting():
    with pytest.raises(SettingsError, match="enhance_language: must be one of en, zh"):
        EnhancementOptions(language="fr")
    with pytest.raises(
        SettingsError, match="enhance_api_url: the openai backend needs the chat server's URL"
    ):
        EnhancementOptions(backend="openai")


def test_a_bad_combination_is_a_field_error_at_the_edge():
    with pytest.raises(SettingsError) as caught:
        config_from_dict({"enhance_enabled": True, "enhance_backend": "openai"})
    assert [e.key for e in caught.value.errors] == ["enhance_api_url"]


def test_the_engine_takes_the_settings_and_the_key(monkeypatch):
    monkeypatch.setenv("WAN_ENHANCE_API_KEY", "secret")
    config, _ = config_from_dict({"enhance_language": "zh", "enhance_strength": 0.3, "style_strength": 0.4})
    engine = PromptEnhancementEngine(config.enhancement, style_strength=config.style.strength)
    assert (engine.options.language, engine.options.strength, engine.style_strength) == ("zh", 0.3, 0.4)
    assert engine.api_key == "secret" and "secret" not in repr(engine.options)


# -- models ------------------------------------------------------------------------------------


def test_model_references():
    assert enhancer_model("Qwen/Qwen2.5-1.5B-Instruct").id == "qwen2.5-1.5b"
    assert enhancer_model("QWEN2.5-3B").hub_id == "Qwen/Qwen2.5-3B-Instruct"
    assert enhancer_model("someone/their-chat-model").hub_id == "someone/their-chat-model"
    with pytest.raises(ValueError, match="is not a known enhancer model"):
        enhancer_model("gpt-9")


@pytest.mark.parametrize(
    ("free_gb", "expected"),
    [(None, "qwen2.5-1.5b"), (2.0, "qwen2.5-0.5b"), (6.0, "qwen2.5-1.5b"), (40.0, "qwen2.5-1.5b")],
)
def test_auto_never_downloads_more_than_the_default(tmp_path, free_gb, expected):
    assert choose_auto(free_gb, tmp_path).id == expected


def test_auto_prefers_the_largest_model_on_disk_that_fits(tmp_path):
    for name in ("Qwen2.5-7B-Instruct", "qwen2.5-3b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
        (tmp_path / name / "tokenizer.json").write_text("{}")
    assert choose_auto(40.0, tmp_path).id == "qwen2.5-7b"
    assert choose_auto(12.0, tmp_path).id == "qwen2.5-3b"  # 7B needs ~15 GB
    assert choose_auto(None, tmp_path).id == "qwen2.5-1.5b"  # without a GPU: not bigger than 1.5B


# -- the real transformers path on the tiny Qwen2 model ----------------------------------------


@pytest.fixture(scope="module")
def qwen(tiny_qwen_models):
    backend = QwenBackend(resolve_enhancer("tiny-qwen", models_dir=tiny_qwen_models), batch_size=8)
    backend.load()
    yield backend
    backend.unload()


CONVERSATIONS = [
    [{"role": "system", "content": "Rewrite the prompt."}, {"role": "user", "content": "a fox"}],
    [
        {"role": "system", "content": "只用简体中文回答。"},
        {"role": "user", "content": "一座古老的城堡矗立在山丘上，金色的光线"},
    ],
    [
        {
            "role": "user",
            "content": "a misty forest at dawn, the camera slowly pans left across tall pine trees",
        }
    ],
]


def test_the_tiny_model_loads_through_from_pretrained_with_left_padding(qwen):
    assert qwen._tokenizer.padding_side == "left"
    assert type(qwen._model).__name__ == "Qwen2ForCausalLM"
    texts = qwen._prompt_texts(CONVERSATIONS[:1])
    assert texts[0].endswith("<|im_start|>assistant\n")


def test_batched_generation_equals_one_by_one(qwen):
    greedy = Sampling(max_new_tokens=12, temperature=0.0, seed=0)
    together = qwen.generate(CONVERSATIONS, greedy)
    alone = [qwen.generate([c], greedy)[0] for c in CONVERSATIONS]
    assert together == alone
    assert len({len(qwen._tokenizer(t)["input_ids"]) for t in qwen._prompt_texts(CONVERSATIONS)}) > 1


def test_batches_are_split_by_batch_size(qwen, monkeypatch):
    sizes = []
    original = qwen._generate_batch
    monkeypatch.setattr(qwen, "batch_size", 2)
    monkeypatch.setattr(
        qwen, "_generate_batch", lambda chunk, s: sizes.append(len(chunk)) or original(chunk, s)
    )
    assert len(qwen.generate(CONVERSATIONS, Sampling(4, 0.0, 0))) == 3
    assert sizes == [2, 1]


def test_sampling_is_seeded(qwen):
    sampled = Sampling(max_new_tokens=12, temperature=0.9, seed=7)
    assert qwen.generate(CONVERSATIONS, sampled) == qwen.generate(CONVERSATIONS, sampled)


def test_the_engine_on_the_tiny_model_keeps_prompts_and_says_why(tiny_qwen_models, tmp_path):
    settings = EnhancementOptions(model="tiny-qwen", max_words=20)
    with PromptEnhancementEngine(settings, models_dir=tiny_qwen_models, cache=tmp_path) as enhancer:
        results = enhancer.enhance_prompts(["a fox", "a castle"])
        backend = enhancer.backend
        assert backend.loaded
    assert not backend.loaded  # unloaded on leaving the block
    # random weights answer random bytes: junk or the wrong script, never a silent change
    assert [r.prompt for r in results] == ["a fox", "a castle"]
    assert all(r.note.startswith("kept the original: ") for r in results)


def test_enhancing_a_plan(tmp_path):
    config, _ = config_from_dict(
        {
            "prompts": {"0": "a misty forest", "32": "a castle"},
            "max_frames": 64,
            "fps": 16,
            "animation_mode": "3D",
            "translation_x": "0:(3)",
            "style_text": "watercolor",
        }
    )
    plan = create_plan(config, seed=1)
    backend = Scripted(lambda c: "A misty forest at dawn, tall pines. The camera pans to the right.")
    enhanced, _ = enhance_plan(plan, engine(backend, tmp_path))
    clip = enhanced.clips[0]
    assert clip.base_prompt == "a misty forest" and clip.style == "watercolor"
    assert clip.prompt == "A misty forest at dawn, tall pines. The camera pans to the right. Watercolor."
    assert clip.enhancement == "enhanced by scripted:test"
    assert "moderate panning right" in backend.calls[0][0][0][0]["content"]
    # resuming takes the prompts the run already used
    assert adopt_prompts(plan, enhanced) == enhanced


def test_enhancing_a_plan_without_movement_context_appends_the_phrase(tmp_path):
    config, _ = config_from_dict({"prompts": {"0": "a fox"}, "max_frames": 32, "translation_x": "0:(3)"})
    plan = create_plan(config, seed=1)
    enhanced, _ = enhance_plan(plan, engine(Scripted(), tmp_path, movement_context=False))
    assert enhanced.clips[0].prompt == f"{GOOD}, {plan.clips[0].movement_phrase}"
