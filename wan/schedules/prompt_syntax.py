"""WebUI prompt syntax made plain for Wan's UMT5 text encoder, which has no token weights.

Stable Diffusion users write `(word:1.2)`, `((word))`, `[word]`, `[from:to:0.5]`, `[a|b]`,
`<lora:name:0.8>`, `A AND B :0.5` and `BREAK`. A T5 encoder would read those characters as
text, so the syntax is removed and the words kept:

| syntax                     | becomes                                                    |
|----------------------------|------------------------------------------------------------|
| `(word:1.2)`, `((word))`   | `word`                                                     |
| `[word]`                   | `word`                                                     |
| `[from:to:when]`           | the text active for most of the denoising: `from` when    |
|                            | `when` is a fraction of at least 0.5, else `to`            |
| `[to:when]`, `[from::when]`| the same rule with an empty side                           |
| `[a|b|c]` (alternation)    | `a, b, c`                                                  |
| `<lora:…>`, `<lyco:…>`,    | removed (WebUI networks; Wan LoRAs are configured apart)   |
| `<hypernet:…>`             |                                                            |
| `A :0.6 AND B :0.4`        | `A, B`                                                     |
| `BREAK`                    | `,`                                                        |
| `\\(`, `\\)`, `\\[`, `\\]`     | the literal bracket                                        |

Unbalanced brackets never fail: an unclosed group runs to the end, a stray closer is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NETWORK_TAG = re.compile(r"<\s*(?:lora|lyco|lycoris|hypernet|hypernetwork)\s*:[^>]*>", re.I)
_AND = re.compile(r"\s+AND\s+")
_BREAK = re.compile(r"\bBREAK\b")
_WEIGHT = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*")
_TRAILING_WEIGHT = re.compile(r"\s*:\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*$")
_LEADING_WEIGHT = re.compile(r"^\s*:\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?![\d.])")
_SPECIAL = "()[]:|\\"


@dataclass
class _Group:
    bracket: str  # "(" or "[" ("" for the top level)
    parts: list[list[str | _Group]] = field(default_factory=lambda: [[]])
    separators: list[str] = field(default_factory=list)


def _parse(text: str) -> _Group:
    root = _Group("")
    stack = [root]
    i = 0
    while i < len(text):
        char = text[i]
        top = stack[-1]
        if char == "\\" and i + 1 < len(text):
            top.parts[-1].append(text[i + 1])
            i += 2
            continue
        if char in "([":
            group = _Group(char)
            top.parts[-1].append(group)
            stack.append(group)
        elif char in ")]":
            closes = "(" if char == ")" else "["
            if len(stack) > 1 and top.bracket == closes:
                stack.pop()
        elif char in ":|" and top.bracket:
            top.parts.append([])
            top.separators.append(char)
        else:
            j = i
            while j < len(text) and text[j] not in _SPECIAL:
                j += 1
            if j == i:  # a lone ':' / '|' at the top level, or a trailing backslash
                j = i + 1
            top.parts[-1].append(text[i:j])
            i = j
            continue
        i += 1
    return root


def _weight(part: list[str | _Group]) -> float | None:
    text = "".join(p for p in part if isinstance(p, str))
    if any(isinstance(p, _Group) for p in part) or not _WEIGHT.fullmatch(text):
        return None
    return float(text)


def _render_part(part: list[str | _Group]) -> str:
    return "".join(p if isinstance(p, str) else _render(p) for p in part)


def _render(group: _Group) -> str:
    parts = group.parts
    if group.bracket == "(":
        if len(parts) > 1 and _weight(parts[-1]) is not None:
            parts = parts[:-1]
        return ":".join(_render_part(p) for p in parts)
    if group.bracket == "[":
        if "|" in group.separators:
            return ", ".join(_render_part(p).strip() for p in parts)
        when = _weight(parts[-1]) if len(parts) in (2, 3) else None
        if when is not None:
            before = _render_part(parts[0]) if len(parts) == 3 else ""
            after = _render_part(parts[-2])
            return before if 0.5 <= when <= 1.0 else after
        return ":".join(_render_part(p) for p in parts)
    return _render_part(_drop_group_weights(parts[0]))


def _drop_group_weights(part: list[str | _Group]) -> list[str | _Group]:
    """Drop a `:0.6` written right after a group, as in Deforum's `(A):0.6 AND (B):0.4`."""
    kept: list[str | _Group] = []
    for item in part:
        if isinstance(item, str) and kept and isinstance(kept[-1], _Group):
            item = _LEADING_WEIGHT.sub("", item)
        kept.append(item)
    return kept


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;!?])", r"\1", text)
    text = re.sub(r",(?:\s*,)+", ",", text)
    text = re.sub(r",(?=\S)", ", ", text)
    return text.strip(" ,")


def plain_prompt(text: str) -> str:
    """Remove WebUI emphasis, editing, alternation, network and composable syntax; keep words."""
    text = _NETWORK_TAG.sub(" ", text)
    text = _BREAK.sub(",", text)
    pieces = _AND.split(text)
    if len(pieces) > 1:
        pieces = [_TRAILING_WEIGHT.sub("", piece) for piece in pieces]
    rendered = [_render(_parse(piece)) for piece in pieces]
    return _tidy(", ".join(rendered))
