"""Guidance batching: the conditional and unconditional passes as one batch of 2 give the
unbatched output (to float rounding) for T2V, I2V and VACE, with one transformer run per step;
which memory presets turn it on, and why a step cache turns it off."""

from __future__ import annotations

import numpy as np
import pytest

from wan.config import MEMORY_PRESETS, SettingsError, config_from_dict

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402

from wan.models.guidance import GuidanceBatcher, decide_batching, remove_guidance_batching  # noqa: E402
from wan.models.loading import encode_prompts  # noqa: E402
from wan.models.tiny import build_tiny_pipeline  # noqa: E402

# A batch of 2 may sum in another order than two batches of 1 (float32 on the CPU): measured
# differences are about 1e-7; this bound is far below anything visible (1/255 = 4e-3).
ROUNDING = 1e-5
STEPS = 4


def _pipeline(kind: str):
    pipe = build_tiny_pipeline(kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _inputs(kind: str) -> dict:
    if kind == "i2v":
        return {"image": Image.fromarray(np.full((64, 64, 3), 90, np.uint8))}
    if kind == "vace":
        video = [Image.fromarray(np.full((64, 64, 3), v, np.uint8)) for v in [40] * 4 + [128] * 13]
        mask = [Image.fromarray(np.full((64, 64), v, np.uint8)) for v in [0] * 4 + [255] * 13]
        return {"video": video, "mask": mask}
    return {}


def _generate(pipe, kind: str, embeddings, guidance: float = 5.0) -> np.ndarray:
    output = pipe(
        prompt_embeds=embeddings[0],
        negative_prompt_embeds=embeddings[1],
        height=64,
        width=64,
        num_frames=17,
        num_inference_steps=STEPS,
        guidance_scale=guidance,
        generator=torch.Generator().manual_seed(3),
        output_type="np",
        **_inputs(kind),
    )
    return np.asarray(output.frames[0])


class ForwardCounter:
    """Counts the transformer's own forwards (under the batching hook) and their batch sizes."""

    def __init__(self, transformer) -> None:
        self.batches: list[int] = []
        transformer.blocks[0].register_forward_pre_hook(
            lambda _m, args: self.batches.append(args[0].shape[0])
        )


@pytest.mark.parametrize("kind", ["t2v", "i2v", "vace"])
def test_batched_guidance_gives_the_unbatched_output_with_one_run_per_step(kind):
    pipe = _pipeline(kind)
    pair = ("a misty forest", "fog, blur")
    embeddings = encode_prompts(pipe, [pair], device=torch.device("cpu"))[pair]
    counter = ForwardCounter(pipe.transformer)
    unbatched = _generate(pipe, kind, embeddings)
    assert counter.batches == [1] * (2 * STEPS)

    counter.batches.clear()
    batcher = GuidanceBatcher(pipe)
    with batcher.armed(embeddings[1]):
        batched = _generate(pipe, kind, embeddings)
    assert counter.batches == [2] * STEPS  # one run of batch 2 per step
    assert batcher.counts() == {"batched_calls": STEPS, "reused_calls": STEPS}
    assert np.abs(batched - unbatched).max() <= ROUNDING

    counter.batches.clear()  # disarmed, the hook passes every call through
    again = _generate(pipe, kind, embeddings)
    assert counter.batches == [1] * (2 * STEPS) and np.array_equal(again, unbatched)
    remove_guidance_batching(pipe)
    assert pipe.transformer._diffusers_hook.get_hook("wan_guidance_batching") is None


def test_an_unconditional_call_that_differs_from_the_batched_one_runs_itself():
    pipe = _pipeline("t2v")
    transformer = pipe.transformer
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 16, 5, 8, 8, generator=generator)
    other = torch.randn(1, 16, 5, 8, 8, generator=generator)
    positive, negative = (torch.randn(1, 512, 32, generator=generator) for _ in range(2))
    step = torch.tensor([500])

    def call(name, hidden, text):
        with torch.no_grad(), transformer.cache_context(name):
            return transformer(
                hidden_states=hidden, timestep=step, encoder_hidden_states=text, return_dict=False
            )[0]

    expected = call("uncond", other, negative)
    batcher = GuidanceBatcher(pipe)
    with batcher.armed(negative):
        call("cond", latents, positive)
        assert torch.allclose(call("uncond", other, negative), expected, atol=ROUNDING)  # other latents
        call("cond", latents, positive)
        assert torch.allclose(
            call("uncond", latents, positive), call("cond", latents, positive), atol=ROUNDING
        )
        assert batcher.counts()["reused_calls"] == 0
        call("cond", latents, positive)
        kept = call("uncond", latents, negative)
    assert batcher.counts()["reused_calls"] == 1
    assert torch.allclose(kept, call("uncond", latents, negative), atol=ROUNDING)


def test_guidance_scale_one_calls_the_transformer_once_per_step_and_batching_stays_off():
    pipe = _pipeline("t2v")
    pair = ("a forest", "")
    embeddings = encode_prompts(pipe, [pair], device=torch.device("cpu"))[pair]
    counter = ForwardCounter(pipe.transformer)
    _generate(pipe, "t2v", embeddings, guidance=1.0)
    assert counter.batches == [1] * STEPS
    decision = decide_batching(MEMORY_PRESETS["none"], "on", cache="none", guidance=1.0)
    assert not decision.enabled and "guidance_scale" in decision.reason


@pytest.mark.parametrize(
    ("preset", "setting", "cache", "enabled", "reason"),
    [
        ("none", "auto", "none", True, ""),
        ("conservative", "auto", "none", True, ""),
        ("balanced", "auto", "none", False, "balanced memory preset"),
        ("aggressive", "auto", "none", False, "aggressive memory preset"),
        ("aggressive", "on", "none", True, ""),
        ("none", "off", "none", False, "memory_batch_guidance is off"),
        ("none", "auto", "first_block", False, "first_block step cache"),
        ("none", "on", "mag", False, "mag step cache"),
    ],
)
def test_the_memory_preset_decides_and_the_setting_overrides(preset, setting, cache, enabled, reason):
    decision = decide_batching(MEMORY_PRESETS[preset], setting, cache=cache, guidance=5.0)
    assert decision.enabled == enabled and reason in decision.reason
    assert decision.to_dict()["enabled"] == enabled


def test_asking_for_batching_with_a_step_cache_names_the_setting():
    with pytest.raises(SettingsError) as caught:
        config_from_dict({"memory_batch_guidance": "on", "speed_preset": "fast"})
    assert "memory_batch_guidance" in str(caught.value) and "first_block" in str(caught.value)
    config, _ = config_from_dict({"memory_batch_guidance": "auto", "speed_preset": "fast"})
    assert config.memory.batch_guidance == "auto"
