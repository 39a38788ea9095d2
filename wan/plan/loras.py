"""Each clip's LoRAs and their weights (pure).

A LoRA's weight schedule is read at one frame per clip: the middle output frame of the clip's new
frames (for a linear schedule, the clip's average weight); a clip without output frames of its own
(a last clip that only covers the time after the last output frame) reads the last output frame.
The step-distilled LoRA of the speed preset (speed_lora) comes last, at its constant weight.
"""

from __future__ import annotations

from ..config import WanConfig
from .plan import ClipLora


def weight_frame(start: int, end: int, max_frames: int) -> int:
    """The output frame whose weight a clip of output frames [start, end) takes: the middle one."""
    if end <= start:
        return max_frames - 1
    return min((start + end - 1) // 2, max_frames - 1)


def clip_loras(config: WanConfig, ranges: list[tuple[int, int]]) -> list[tuple[ClipLora, ...]]:
    """The LoRAs of each clip of output frames [start, end), with their weights there."""
    options = config.lora
    frames = [weight_frame(start, end, config.max_frames) for start, end in ranges]
    per_clip: list[list[ClipLora]] = [[] for _ in ranges]
    for index, lora in enumerate(options.loras):
        values = options.weight_values(index, config.max_frames, config.seed)
        for clip, frame in zip(per_clip, frames, strict=True):
            clip.append(ClipLora(lora.file, round(float(values[frame]), 6), lora.expert))
    if config.speed.lora:
        for clip in per_clip:
            clip.append(ClipLora(config.speed.lora, config.speed.distill_lora_weight, "both"))
    return [tuple(clip) for clip in per_clip]
