"""The clip's movement phrase inside an enhanced prompt: present, never contradicted, in the
prompt's language.

wan.movement describes motion in a small fixed vocabulary ("camera movement with gentle panning
left (sustained)", "slow orbit to the right", "subtle handheld camera shake"). A rewritten
prompt must keep that motion: `keep_movement` checks an English answer for each (motion,
direction) pair, in any of the words a writer would use ("the camera slowly pans to the left"
counts for "panning left"), removes sentences that state the opposite direction, and appends
the phrase when something is missing. A Chinese answer must mention the camera (镜头 / 运镜);
otherwise the phrase is appended in Chinese (`movement_in_chinese`), a translation of that same
vocabulary.
"""

from __future__ import annotations

import re

_DIRECTIONS = ("counter-clockwise", "clockwise", "forward", "backward", "left", "right", "up", "down")
OPPOSITE = {
    "left": "right",
    "right": "left",
    "up": "down",
    "down": "up",
    "forward": "backward",
    "backward": "forward",
    "clockwise": "counter-clockwise",
    "counter-clockwise": "clockwise",
}
# Words a writer uses for each motion of wan.movement (verb as described there -> word stems).
FAMILIES = {
    "panning": r"pan\w*|track\w*|truck\w*|slid\w*|mov\w*|glid\w*",
    "tilting": r"tilt\w*|look\w*|angl\w*",
    "moving": r"mov\w*|ris\w*|rais\w*|lift\w*|crane\w*|pedestal\w*|descend\w*|lower\w*|sink\w*|glid\w*",
    "dolly": r"doll\w*|push\w*|pull\w*|mov\w*|track\w*|advanc\w*|retreat\w*|glid\w*|travel\w*|zoom\w*",
    "rotating": r"rotat\w*|turn\w*|yaw\w*|swivel\w*|pan\w*|swing\w*",
    "rolling": r"roll\w*|rotat\w*|spin\w*|turn\w*|twist\w*|tilt\w*",
    "orbit": r"orbit\w*|circl\w*|revolv\w*|arc\w*",
    "spiral": r"spiral\w*",
}
_DIRECTION_WORDS = {
    "left": r"left\w*",
    "right": r"right\w*",
    "up": r"up\w*|upward\w*|higher|skyward",
    "down": r"down\w*|lower",
    "forward": r"forward\w*|in(?:to|ward)?|closer|toward\w*|ahead",
    "backward": r"backward\w*|back|out(?:ward)?|away",
    "clockwise": r"(?<!counter-)(?<!counter)(?<!anti-)clockwise",
    "counter-clockwise": r"counter-?clockwise|anti-?clockwise",
}
_DIRECTIONAL = re.compile(
    r"\b(panning|tilting|moving|dolly|rotating|rolling)\s+(" + "|".join(_DIRECTIONS) + r")\b"
)
_PATTERN = re.compile(
    r"\borbit to the (left|right)\b|\b(clockwise|counter-clockwise) spiral (forward|backward)\b"
)
_NOUNS = (
    "figure-eight",
    "zig-zag",
    "pendulum",
    "sway",
    "swing",
    "bob",
    "push in and out",
    "rock",
    "nod",
    "shake",
)
_NEAR = r"(?:\W+\w+){0,4}?\W+"
_CAMERA_ZH = re.compile(r"镜头|运镜|摄像机|摄影机|机位")
_SENTENCES = re.compile(r"(?<=[.!?])\s+")


def motions(phrase: str) -> list[tuple[str, str]]:
    """The (motion, direction) pairs a movement phrase names, e.g. ('panning', 'left')."""
    pairs = [(m.group(1), m.group(2)) for m in _DIRECTIONAL.finditer(phrase)]
    for m in _PATTERN.finditer(phrase):
        pairs.append(("orbit", m.group(1)) if m.group(1) else ("spiral", m.group(2)))
        if m.group(2):
            pairs.append(("rolling", m.group(2)))
    return pairs


def _says(text: str, motion: str, direction: str) -> bool:
    family, where = FAMILIES[motion], _DIRECTION_WORDS[direction]
    pattern = rf"\b(?:{family}){_NEAR}(?:to\W+the\W+)?(?:{where})\b|\b(?:{where})\W+(?:{family})\b"
    return re.search(pattern, text, re.I) is not None


def _contradicts(sentence: str, pairs: list[tuple[str, str]]) -> bool:
    return any(
        _says(sentence, motion, OPPOSITE[direction]) and not _says(sentence, motion, direction)
        for motion, direction in pairs
    )


def _sentence(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:] + "."


def keep_movement(text: str, phrase: str, language: str) -> tuple[str, str]:
    """(the prompt with the movement kept, a note of what was fixed or '')."""
    if not phrase:
        return text, ""
    if language == "zh":
        if _CAMERA_ZH.search(text):
            return text, ""
        return f"{text.rstrip()}{movement_in_chinese(phrase) or phrase}。", "the camera movement was added"
    pairs = motions(phrase)
    sentences = _SENTENCES.split(text.strip())
    kept = [s for s in sentences if not _contradicts(s, pairs)]
    note = "a sentence contradicting the camera movement was removed" if len(kept) < len(sentences) else ""
    body = " ".join(kept).strip()
    nouns_missing = any(n in phrase and n not in body.lower() for n in _NOUNS)
    missing = any(not _says(body, m, d) for m, d in pairs) or (not pairs and nouns_missing)
    if missing or not body:
        body = f"{body.rstrip()} {_sentence(phrase)}".strip() if body else _sentence(phrase)
        note = note or "the camera movement was added"
    return body, note


# Chinese for wan.movement's vocabulary; order matters (longer phrases first).
_ZH_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bcamera movement with\s+", "镜头运动："),
    (r"\bstatic camera with\s+", "固定镜头，伴有"),
    (r"\bstatic camera\b", "固定镜头"),
    (r"\bhandheld camera shake\b", "手持镜头抖动"),
    (r"\bpanning (left|right)\b", r"向\1平移"),
    (r"\btilting (up|down)\b", r"向\1摇"),
    (r"\bmoving (up|down)\b", r"向\1移动"),
    (r"\bdolly forward\b", "向前推进"),
    (r"\bdolly backward\b", "向后拉远"),
    (r"\brotating (left|right)\b", r"向\1转动"),
    (r"\brolling (clockwise|counter-clockwise)\b", r"\1旋转"),
    (r"\borbit to the (left|right)\b", r"向\1环绕"),
    (r"\b(clockwise|counter-clockwise) spiral (forward|backward)\b", r"\1螺旋\2"),
    (r"\b(horizontal|vertical) figure-eight\b", r"\1八字形运动"),
    (r"\bpendulum\s+", "钟摆式"),
    (r"\bzig-zag left and right\b", "之字形左右移动"),
    (r"\bzig-zag up and down\b", "之字形上下移动"),
    (r"\bzig-zag in and out\b", "之字形前后移动"),
    (r"\bzig-zag side to side\b", "之字形左右摇晃"),
    (r"\bsway left and right\b", "左右摇摆"),
    (r"\bswing left and right\b", "左右摆动"),
    (r"\bbob up and down\b", "上下起伏"),
    (r"\bnod up and down\b", "上下点头式摇动"),
    (r"\bpush in and out\b", "前后推拉"),
    (r"\brock side to side\b", "左右摇晃"),
    (r"\(period ([\d.]+) s\)", r"（周期 \1 秒）"),
    (r"\((brief|extended|sustained)\)", r"（\1）"),
    (r"\bvery slow\s+", "非常缓慢的"),
    (r"\bsubtle,?\s*", "轻微"),
    (r"\bgentle,?\s*", "缓慢"),
    (r"\bmoderate,?\s*", "平稳"),
    (r"\bstrong,?\s*", "强烈"),
    (r"\bslow\s+", "缓慢"),
    (r"\bsteady\s+", "平稳"),
    (r"\bfast\s+", "快速"),
    (r"\brapid\s+", "急促"),
    (r",?\s*\band\s+", "，"),
    (r",\s*with\s+", "，伴有"),
    (r",\s*", "，"),
)
_ZH_WORDS = {
    "left": "左",
    "right": "右",
    "up": "上",
    "down": "下",
    "forward": "向前",
    "backward": "向后",
    "counter-clockwise": "逆时针",
    "clockwise": "顺时针",
    "horizontal": "水平",
    "vertical": "垂直",
    "brief": "短暂",
    "extended": "较长",
    "sustained": "持续",
}


def movement_in_chinese(phrase: str) -> str | None:
    """The movement phrase in Chinese, or None if it holds words outside the vocabulary."""
    text = phrase
    for pattern, replacement in _ZH_PATTERNS:
        # \b would see no boundary between a Han character and a Latin letter (both are \w)
        latin = pattern.replace(r"\b", "", 1) if pattern.startswith(r"\b") else pattern
        latin = f"(?<![A-Za-z-]){latin}" if pattern.startswith(r"\b") else latin
        text = re.sub(latin, replacement, text)
    text = re.sub(r"counter-clockwise|[a-z]+", lambda m: _ZH_WORDS.get(m.group(0), m.group(0)), text)
    text = text.replace(" ", "")
    return None if re.search(r"[A-Za-z]", text) else text
