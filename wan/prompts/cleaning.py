"""Cleaning a language model's answer into a bare prompt, and recognising junk.

Small instruct models wrap their answer: a `<think>` block (Qwen3), a preface ("Here is the
enhanced prompt:", "好的，以下是…"), a label ("Prompt:"), quotes, markdown bold, headings,
bullets or code fences, and sometimes a closing remark. `clean_answer` removes all of those;
`junk_reason` says why an answer is unusable (empty, a refusal, repetition, no letters), or
None when it is fine.
"""

from __future__ import annotations

import re

from .language import count_words

_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.S | re.I)
_FENCE = re.compile(r"```[a-zA-Z]*\n?|```")
_PREFACE = re.compile(
    r"^\s*(?:(?:sure|okay|ok|certainly|of course|absolutely)[!,.]?\s*)?"
    r"(?:here(?:'s| is| are)\b[^:\n]{0,80}:|(?:the\s+)?(?:enhanced|rewritten|improved|expanded|new|final)"
    r"\s+(?:video\s+)?(?:prompt|description|version)\s*:|(?:video\s+)?(?:prompt|description)\s*:)\s*",
    re.I,
)
_PREFACE_ZH = re.compile(
    r"^\s*(?:好的|当然|没问题)?[，,。！!]?\s*(?:以下是|这是|下面是)?[^：:\n]{0,30}"
    r"(?:提示词|描述|版本|改写|prompt)[^：:\n]{0,10}[：:]\s*"
)
_AFTERWORD = re.compile(
    r"\n\s*(?:this (?:prompt|description)|i (?:hope|have)|let me know|note:|feel free|注[：:]|希望)[\s\S]*$",
    re.I,
)
_HEADING = re.compile(r"^\s*#+[^\n]*\n?", re.M)
_MARKDOWN = re.compile(r"\*\*|__|(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)|^\s*(?:[-*•]|\d+[.)])\s+", re.M)
_QUOTES = "\"'“”‘’「」『』"
_REFUSAL = re.compile(
    r"^\s*(?:i(?:'m| am) sorry|sorry,|i can(?:not|'t)|as an ai|i(?:'m| am) unable"
    r"|抱歉|对不起|我无法|作为一个)",
    re.I,
)
MIN_WORDS = 3


def clean_answer(text: str) -> str:
    """The bare prompt inside a model's answer."""
    text = _THINK.sub("", text)
    text = _FENCE.sub("", text).strip()
    text = _AFTERWORD.sub("", text)
    for _ in range(3):  # prefaces can stack: "Sure! Here is the prompt: Prompt: ..."
        stripped = _PREFACE_ZH.sub("", _PREFACE.sub("", text, count=1), count=1)
        if stripped == text:
            break
        text = stripped
    without_titles = _HEADING.sub("", text)
    text = _MARKDOWN.sub("", without_titles if without_titles.strip() else text.lstrip("# "))
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if paragraphs:
        # One prompt is wanted; when the model gives several paragraphs, the longest is it.
        text = max(paragraphs, key=count_words) if len(paragraphs) > 1 else paragraphs[0]
    text = re.sub(r"\s+", " ", text).strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text.strip(_QUOTES + " ")


def _repeats(text: str) -> bool:
    words = re.findall(r"\w+", text.lower())
    if len(words) < 12:
        return False
    # Degenerate sampling loops: a short n-gram repeated over most of the text.
    for n in (1, 2, 3, 4):
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        top = max(grams.count(g) for g in set(grams))
        if top * n > 0.5 * len(words) and top >= 4:
            return True
    return False


def junk_reason(text: str) -> str | None:
    """Why a cleaned answer is unusable, or None if it is a usable prompt."""
    if not text:
        return "the answer was empty"
    if _REFUSAL.match(text):
        return "the model refused"
    letters = sum(ch.isalpha() for ch in text)
    if letters < 0.5 * len(text.replace(" ", "")):
        return "the answer was mostly not words"
    if count_words(text) < MIN_WORDS:
        return f"the answer had fewer than {MIN_WORDS} words"
    if _repeats(text):
        return "the answer repeated itself"
    return None
