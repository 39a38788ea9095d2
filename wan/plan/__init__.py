"""The generation plan: the animation cut into the clips Wan generates, as pure data (plan),
how it is made from settings (create, layout, preview), how its prompts are enhanced (enhance)
and what determines each clip's frames (fingerprint).
Needs neither torch nor a GPU."""

from .create import camera_path, create_plan, movement_by_prompt, prompt_windows, with_movement
from .enhance import (
    adopt_prompts,
    adopted_prompts,
    enhance_plan,
    enhancement_note,
    enhancement_requests,
    with_enhancement,
)
from .fingerprint import clip_fingerprints, clip_materials, what_changed
from .layout import MIN_SEGMENT_FRAMES
from .loras import clip_loras, weight_frame
from .plan import PLAN_VERSION, ClipLora, ClipPlan, Conditioning, GenerationPlan
from .preview import preview_plan

__all__ = [
    "MIN_SEGMENT_FRAMES",
    "PLAN_VERSION",
    "ClipLora",
    "ClipPlan",
    "Conditioning",
    "GenerationPlan",
    "adopt_prompts",
    "adopted_prompts",
    "camera_path",
    "clip_fingerprints",
    "clip_loras",
    "clip_materials",
    "create_plan",
    "enhance_plan",
    "enhancement_note",
    "enhancement_requests",
    "movement_by_prompt",
    "preview_plan",
    "prompt_windows",
    "weight_frame",
    "what_changed",
    "with_enhancement",
    "with_movement",
]
