"""Where the clips of a plan lie on the model's frame axis: prompt segments (a cut at every
prompt keyframe, too-short segments merged away), each segment split into as few balanced clips
of 4n+1 generated frames as fit, and how clips after the first continue the one before."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..catalog import ModelSpec
from ..config import WanConfig
from ..schedules import PromptKeyframe, PromptSchedule
from ..timebase import Timebase

# Wan's VAE packs 4 frames into each latent frame after the first: a prompt shown for fewer
# model frames than that cannot get a latent frame of its own, so its segment is merged away.
MIN_SEGMENT_FRAMES = 4


@dataclass
class Segment:
    """The model frames [start, end) of one prompt keyframe."""

    start: int
    end: int
    keyframe: PromptKeyframe

    @property
    def length(self) -> int:
        """Model frames in the segment."""
        return self.end - self.start


def round_4n1_up(frames: int) -> int:
    return frames + (1 - frames) % 4


def prompt_segments(
    schedule: PromptSchedule, timebase: Timebase, model_frames: int
) -> tuple[list[Segment], list[str]]:
    starts: dict[int, PromptKeyframe] = {0: schedule.keyframes[0]}
    for keyframe in schedule.keyframes[1:]:
        cut = timebase.first_model_frame_at_or_after(keyframe.frame)
        if cut < model_frames:
            starts[cut] = keyframe  # a later keyframe in the same model frame wins
    cuts = sorted(starts)
    raw = [Segment(c, e, starts[c]) for c, e in zip(cuts, [*cuts[1:], model_frames], strict=True)]

    merged: list[Segment] = []
    warnings: list[str] = []
    carried_start: int | None = None
    for i, segment in enumerate(raw):
        if carried_start is not None:
            segment.start, carried_start = carried_start, None
        if segment.length >= MIN_SEGMENT_FRAMES or (not merged and i + 1 == len(raw)):
            merged.append(segment)
            continue
        key = segment.keyframe.key
        if merged:
            merged[-1].end = segment.end
            warnings.append(
                f"the prompt at '{key}' (frame {segment.keyframe.frame}) would last {segment.length} "
                f"model frame(s), fewer than {MIN_SEGMENT_FRAMES}; the previous prompt continues instead"
            )
        elif i + 1 < len(raw):
            carried_start = segment.start
            warnings.append(
                f"the prompt at '{key}' (frame {segment.keyframe.frame}) would last {segment.length} "
                f"model frame(s), fewer than {MIN_SEGMENT_FRAMES}; the next prompt starts at frame 0"
            )
    return merged, warnings


def _left_over(length: int, sizes: list[int]) -> int:
    """New frames left for the last clip of a segment."""
    return length - sum(sizes)


def split_segment(length: int, first_overlap: int, overlap: int, clip_frames: int) -> list[int]:
    """New frames per clip for one segment: all clips but the last generate exactly 4n+1."""
    cap_first = clip_frames - first_overlap
    if length <= cap_first:
        return [length]
    cap = clip_frames - overlap
    count = 1 + math.ceil((length - cap_first) / cap)
    target = length / count
    overlaps = [first_overlap] + [overlap] * (count - 2)
    sizes = []
    for o in overlaps:
        generated = 4 * round((target + o - 1) / 4) + 1
        sizes.append(min(max(generated, round_4n1_up(o + 1)), clip_frames) - o)
    # Too much left for the last clip: grow the shortest of the others that can still grow.
    while _left_over(length, sizes) > cap:
        growable = [i for i in range(len(sizes)) if sizes[i] + overlaps[i] + 4 <= clip_frames]
        j = min(growable, key=lambda i: (sizes[i], i))
        sizes[j] += 4
    # Too little left: shrink the longest of the others while that keeps everything valid.
    while _left_over(length, sizes) < MIN_SEGMENT_FRAMES and _left_over(length, sizes) + 4 <= cap:
        shrinkable = [i for i in range(len(sizes)) if sizes[i] - 4 >= 1]
        if not shrinkable:
            break
        j = max(shrinkable, key=lambda i: (sizes[i], -i))
        sizes[j] -= 4
    return [*sizes, _left_over(length, sizes)]


def continuation(config: WanConfig, spec: ModelSpec, i2v: ModelSpec | None) -> tuple[int, str, list[str]]:
    """(overlap for clips after the first, model id of those clips, warnings)."""
    warnings = []
    if spec.continues_clips and i2v is not None:
        warnings.append(f"i2v_model is not used: {spec.id} continues clips itself")
    if spec.kind == "vace":
        return config.clip_overlap, spec.id, warnings
    continuer = spec if spec.kind in ("i2v", "ti2v") else i2v
    if continuer is None:
        return 0, spec.id, warnings
    if config.clip_overlap != 1:
        warnings.append(
            f"{continuer.id} continues each clip from the previous clip's last frame, so "
            f"clip_overlap {config.clip_overlap} is used as 1"
        )
    return 1, continuer.id, warnings


@dataclass(frozen=True)
class ClipSlot:
    """Where one clip lies: its first new model frame, how many new frames it adds, how many of
    the frames before it condition it (overlap) and how many extra frames it trims at its end."""

    start: int
    new: int
    overlap: int
    trim: int
    segment: Segment


def clip_slots(segments: list[Segment], overlap: int, clip_frames: int) -> list[ClipSlot]:
    """Every clip of every segment, in order; each generates overlap + new + trim = 4n+1 frames."""
    slots = []
    position = 0
    for segment in segments:
        first_overlap = min(overlap, position)  # cannot condition on more than exists
        for j, new in enumerate(split_segment(segment.length, first_overlap, overlap, clip_frames)):
            kept = first_overlap if j == 0 else overlap
            slots.append(ClipSlot(position, new, kept, round_4n1_up(new + kept) - (new + kept), segment))
            position += new
    return slots
