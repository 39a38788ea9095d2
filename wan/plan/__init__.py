"""The generation plan: the animation cut into the clips Wan generates, as pure data (plan),
how it is made from settings (create, layout) and how its prompts are enhanced (enhance).
Needs neither torch nor a GPU."""

from .create import camera_path, create_plan, movement_by_prompt, prompt_windows, with_movement
from .enhance import adopt_prompts, enhance_plan, enhancement_note, enhancement_requests, with_enhancement
from .layout import MIN_SEGMENT_FRAMES
from .loras import clip_loras, weight_frame
from .plan import PLAN_VERSION, ClipLora, ClipPlan, Conditioning, GenerationPlan

__all__ = [
    "MIN_SEGMENT_FRAMES",
    "PLAN_VERSION",
    "ClipLora",
    "ClipPlan",
    "Conditioning",
    "GenerationPlan",
    "adopt_prompts",
    "camera_path",
    "clip_loras",
    "create_plan",
    "enhance_plan",
    "enhancement_note",
    "enhancement_requests",
    "movement_by_prompt",
    "prompt_windows",
    "weight_frame",
    "with_enhancement",
    "with_movement",
]
