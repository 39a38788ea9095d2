"""The style system: a style text blended into every clip's prompt, optionally changing over time.

Blend modes:
- `blend`: the style's terms are added after the prompt;
- `overwrite`: the prompt's own medium words (oil painting, anime, photograph, ...) are removed
  and the style's terms are added, so the style decides the look;
- `adaptive`: style terms the prompt already says or implies are skipped ("photorealistic" when
  the prompt says "a photograph of"), and a style medium that contradicts the prompt's own
  medium is skipped too: the user's prompt wins.

Strength 0-1 is said in words, which Wan's T5 encoder reads (it ignores weight syntax):
0 adds nothing, below 1/3 "with a faint hint of ...", below 2/3 "with touches of ...", above
that the terms themselves.

The style schedule uses Deforum keyframe syntax with text values, `0:(watercolor), 48:(oil
painting)`, or a JSON object like a prompt schedule (`{"0": "watercolor", "48": "oil
painting"}`); a style holds from its keyframe until the next one and the first one also covers
the frames before it. With `temporal_consistency` on, a clip takes the style in effect at its
first frame, so a clip never changes style midway and follows the previous clip's style until
the schedule changes it; off, a clip takes the style that covers most of its frames.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

from ..config.style import BLEND_MODES, StyleOptions
from ..schedules import parse_style_schedule

# Words that name how an image is made. One group per medium; a term implies its group's others.
MEDIUMS: tuple[tuple[str, ...], ...] = (
    ("photograph", "photo", "photorealistic", "photography", "realistic photo", "dslr", "film still"),
    ("oil painting", "oil on canvas", "painterly", "impasto"),
    ("watercolor", "watercolour", "aquarelle"),
    ("pencil sketch", "pencil drawing", "charcoal drawing", "sketch", "graphite"),
    ("ink drawing", "ink wash", "sumi-e"),
    ("anime", "manga", "cel shaded", "cel-shaded"),
    ("cartoon", "comic", "comic book"),
    ("3d render", "cgi", "octane render", "unreal engine", "blender render"),
    ("pixel art", "8-bit", "16-bit"),
    ("claymation", "stop motion", "stop-motion", "plasticine"),
    ("low poly", "low-poly"),
    ("vector art", "flat illustration", "flat design"),
)
# Looser implications: a prompt term (key) that makes a style term (value) redundant.
IMPLIES: dict[str, tuple[str, ...]] = {
    "film still": ("cinematic",),
    "cinematic": ("film still",),
    "golden hour": ("warm light", "warm lighting", "sunset light"),
    "neon": ("neon lights", "neon lighting"),
    "foggy": ("mist", "misty", "fog"),
    "misty": ("mist", "fog", "foggy"),
    "night": ("nighttime", "at night"),
}
_WORD = re.compile(r"[\w'-]+", re.UNICODE)
_STOP_WORDS = frozenset(
    ("a", "an", "the", "of", "in", "on", "at", "with", "and", "to", "by", "for", "from", "style", "like")
)


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ies", "ing", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w.lower() not in _STOP_WORDS}


def _contains_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text.lower()) is not None


def _medium_of(term: str) -> int | None:
    for index, group in enumerate(MEDIUMS):
        if any(_contains_phrase(term, word) for word in group):
            return index
    return None


def _without_mediums(term: str) -> str:
    """A prompt term with its medium words taken out: 'a photograph of a fox' -> 'a fox'."""
    for group in MEDIUMS:
        for word in group:
            term = re.sub(
                rf"(?<![\w-])(?:an?\s+)?{re.escape(word)}(?:\s+of)?(?![\w-])\s*", "", term, flags=re.I
            )
    return term.strip()


def split_terms(text: str) -> list[str]:
    """The comma-separated terms of a style or prompt, trimmed, empty ones dropped."""
    return [t.strip() for t in re.split(r"[,，]", text) if t.strip()]


def _implied(prompt: str, term: str) -> bool:
    words = _content_words(term)
    if words and words <= _content_words(prompt):
        return True
    medium = _medium_of(term)
    if medium is not None and _medium_of(prompt) == medium:
        return True
    return any(
        _contains_phrase(prompt, source) and any(_contains_phrase(term, t) for t in targets)
        for source, targets in IMPLIES.items()
    )


def _qualified(terms: list[str], strength: float) -> str:
    text = ", ".join(terms)
    if not text or strength <= 0:
        return ""
    if strength < 1 / 3:
        return f"with a faint hint of {text}"
    if strength < 2 / 3:
        return f"with touches of {text}"
    return text


def style_terms(prompt: str, style: str, mode: str) -> tuple[str, list[str]]:
    """(the prompt to keep, the style terms to add) for one blend mode."""
    terms = split_terms(style)
    if mode == "overwrite":
        if not terms or _medium_of(style) is None:
            return prompt, terms
        kept = [_without_mediums(t) for t in split_terms(prompt)]
        return ", ".join(t for t in kept if t), terms
    if mode == "adaptive":
        prompt_medium = _medium_of(prompt)
        added = [
            t
            for t in terms
            if not _implied(prompt, t) and (prompt_medium is None or _medium_of(t) in (None, prompt_medium))
        ]
        return prompt, added
    return prompt, terms


def apply_style(prompt: str, style: str, *, strength: float = 1.0, mode: str = "blend") -> tuple[str, str]:
    """(the styled prompt, the style words that were added) for one clip's prompt."""
    if mode not in BLEND_MODES:
        raise ValueError(f"style blend mode must be one of {', '.join(BLEND_MODES)}, not {mode!r}")
    if not style.strip() or strength <= 0:
        return prompt, ""
    kept, terms = style_terms(prompt, style, mode)
    added = _qualified(terms, strength)
    if not added:
        return kept, ""
    if not kept:
        return added, added
    if kept.rstrip()[-1] in ".!?":  # prose (an enhanced prompt): the style is a sentence of its own
        return f"{kept.rstrip()} {added[0].upper()}{added[1:]}.", added
    return f"{kept}, {added}", added


def style_of_frames(options: StyleOptions, frame_count: int) -> list[str]:
    """The style text of every frame: the schedule's where it has one, else the base text."""
    keyframes = parse_style_schedule(options.schedule, frame_count)
    if not keyframes:
        return [options.text] * frame_count
    frames = [f for f, _ in keyframes]
    return [keyframes[max(bisect.bisect_right(frames, frame) - 1, 0)][1] for frame in range(frame_count)]


def clip_styles(options: StyleOptions, windows: list[tuple[int, int]], frame_count: int) -> list[str]:
    """The style of each clip given its output-frame window [start, end): the style at its first
    frame with temporal consistency, else the style that covers most of its frames."""
    if not options.active:
        return [""] * len(windows)
    per_frame = style_of_frames(options, frame_count)
    last = frame_count - 1
    styles = []
    for start, end in windows:
        first = min(max(start, 0), last)
        if options.temporal_consistency:
            styles.append(per_frame[first])
        else:
            counts = Counter(per_frame[first : max(min(end, frame_count), first + 1)])
            styles.append(max(counts, key=lambda s: (counts[s], -per_frame.index(s))))
    return styles
