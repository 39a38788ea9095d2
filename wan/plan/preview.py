"""A preview of a plan: the same clips, seeds and prompts, smaller and with fewer steps.

The plan is made at the full size first (the movement words depend on the frame size), then
its generation size, steps and guidance become the preview's (wan.config.preview), so a
preview and its full render differ only in how the frames are made, never in what they show.
"""

from __future__ import annotations

from dataclasses import replace

from ..config import PreviewOptions
from .plan import GenerationPlan


def preview_plan(plan: GenerationPlan, options: PreviewOptions) -> GenerationPlan:
    """The preview of `plan` when `options` asks for one, else `plan` itself."""
    if not options.enabled:
        return plan
    width, height = options.size(plan.width, plan.height)
    steps = options.sampling_steps(plan.steps)
    note = (
        f"preview: {width}x{height}, {steps} steps (the full render: {plan.width}x{plan.height}, "
        f"{plan.steps} steps); render it in full with preview_enabled false and from_run set to this run"
    )
    return replace(
        plan,
        width=width,
        height=height,
        steps=steps,
        guidance_scale=options.guidance(plan.guidance_scale),
        warnings=(*plan.warnings, note),
    )
