"""Prompt enhancement applied to a finished GenerationPlan.

Each clip's base prompt goes to the enhancer with its style and, when movement context is on,
its movement phrase; all clips in one batched call. With movement context off, the movement
phrase is added to the rewrite as the plan added it (movement_mode). A clip whose rewrite failed
keeps the prompt the plan gave it, and its `enhancement` note says why.
"""

from __future__ import annotations

from dataclasses import replace

from ..prompts import EnhancedPrompt, PromptContext, PromptEnhancementEngine
from .create import with_movement
from .plan import ClipPlan, GenerationPlan


def enhancement_note(result: EnhancedPrompt) -> str:
    """What the plan records about one clip's enhancement."""
    if result.source == "model":
        return "; ".join(n for n in (f"enhanced by {result.model}", result.note) if n)
    if result.source == "cache":
        return f"enhanced by {result.model} (cached)"
    return result.note


def enhancement_requests(plan: GenerationPlan, *, woven: bool) -> tuple[list[str], list[PromptContext]]:
    """What the enhancer is asked for each clip: its base prompt, and its style and (when the
    movement is woven into the rewrite) its movement phrase."""
    contexts = [PromptContext(clip.movement_phrase if woven else "", clip.style) for clip in plan.clips]
    return [clip.base_prompt for clip in plan.clips], contexts


def enhance_plan(
    plan: GenerationPlan, engine: PromptEnhancementEngine, *, movement_mode: str = "append"
) -> tuple[GenerationPlan, list[EnhancedPrompt]]:
    """(the plan with enhanced prompts, the before/after of every clip)."""
    woven = engine.options.movement_context
    results = engine.enhance_prompts(*enhancement_requests(plan, woven=woven))
    return with_enhancement(plan, results, woven=woven, movement_mode=movement_mode), results


def with_enhancement(
    plan: GenerationPlan, results: list[EnhancedPrompt], *, woven: bool, movement_mode: str
) -> GenerationPlan:
    """The plan with each clip's enhanced prompt (the movement phrase added when it was not
    woven in); a clip whose rewrite failed keeps its prompt, with the reason in its note."""
    clips = []
    for clip, result in zip(plan.clips, results, strict=True):
        if result.source in ("model", "cache"):
            prompt = (
                result.prompt if woven else with_movement(result.prompt, clip.movement_phrase, movement_mode)
            )
        else:
            prompt = clip.prompt
        clips.append(replace(clip, prompt=prompt, enhancement=enhancement_note(result)))
    return replace(plan, clips=tuple(clips))


def _prompt_key(clip: ClipPlan) -> tuple[str, str, str]:
    return clip.base_prompt, clip.style, clip.movement_phrase


def adopted_prompts(plan: GenerationPlan, stored: GenerationPlan) -> tuple[GenerationPlan, list[int]]:
    """(the plan with the prompts an earlier run of it used, the indices of the clips that found
    none). A clip takes the prompt of the stored clip at its index when their base prompt, style
    and movement phrase are the same, else of any stored clip with those (a re-render whose clips
    moved); resuming or re-rendering must not ask the enhancer again for what it answered."""
    by_key: dict[tuple[str, str, str], ClipPlan] = {}
    for old in stored.clips:
        by_key.setdefault(_prompt_key(old), old)
    clips, missing = [], []
    for clip in plan.clips:
        same = stored.clips[clip.index] if clip.index < len(stored.clips) else None
        if same is None or _prompt_key(same) != _prompt_key(clip):
            same = by_key.get(_prompt_key(clip))
        if same is None:
            missing.append(clip.index)
            clips.append(clip)
        else:
            clips.append(replace(clip, prompt=same.prompt, enhancement=same.enhancement))
    return replace(plan, clips=tuple(clips)), missing


def adopt_prompts(plan: GenerationPlan, stored: GenerationPlan) -> GenerationPlan:
    """The plan with the prompts an earlier run of it used (see adopted_prompts)."""
    return adopted_prompts(plan, stored)[0]
