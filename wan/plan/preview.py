"""A preview of a plan: the same clips, seeds and prompts, smaller and with fewer steps.

The plan is made at the full size first (the movement words depend on the frame size), then
its output and render sizes, steps and guidance become the preview's (wan.config.preview), so a
preview and its full render differ only in how the frames are made, never in what they show. A
preview speed preset with a fixed step list (a step-distilled LoRA's) runs exactly those steps,
with its guidance and its published flow shift (unless flow_shift is set); otherwise the flow
shift stays the full render's, so the motion previewed is the motion rendered.
"""

from __future__ import annotations

from dataclasses import replace

from ..catalog.sizes import render_size
from ..config import SPEED_PRESETS, WanConfig
from .plan import GenerationPlan


def preview_plan(plan: GenerationPlan, config: WanConfig) -> GenerationPlan:
    """The preview of `plan` when `config` asks for one, else `plan` itself."""
    options = config.preview
    if not options.enabled:
        return plan
    width, height = options.size(plan.width, plan.height)
    size = render_size(width, height, config.model_spec)
    speed = options.speed_of(config.speed)
    own = speed.preset != config.speed.preset  # the preview runs a preset of its own
    preset = SPEED_PRESETS[speed.preset]
    timesteps = preset.timesteps if own else plan.timesteps
    steps = len(timesteps) if timesteps else options.sampling_steps(plan.steps)  # a fixed list wins
    guidance = options.guidance(plan.guidance_scale)
    flow_shift = plan.flow_shift
    if own and preset.flow_shift is not None and config.flow_shift is None:
        flow_shift = preset.flow_shift
    note = (
        f"preview: {width}x{height}, {steps} steps (the full render: {plan.width}x{plan.height}, "
        f"{plan.steps} steps); render it in full with preview_enabled false and from_run set to this run"
    )
    return replace(
        plan,
        width=width,
        height=height,
        render_width=size.width,
        render_height=size.height,
        size_note=size.reason,
        steps=steps,
        guidance_scale=guidance,
        guidance_scale_2=None if plan.guidance_scale_2 is None else options.guidance(plan.guidance_scale_2),
        flow_shift=flow_shift,
        timesteps=timesteps,
        warnings=(*plan.warnings, note),
    )
