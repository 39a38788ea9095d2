"""Which language a text is written in (by script), word counts and the word limit.

English and Chinese differ in script, so the check counts characters: Han characters against
Latin letters. Chinese prompts often keep a few Latin words (names, "8K"), so a text is Chinese
when at least 60% of its letters are Han, English when under 5% are.

A "word" is a run of Latin letters or digits, or one Han character (Chinese has no spaces;
one Han character carries about as much as two thirds of an English word, so a Chinese prompt
at the same limit comes out a little shorter).
"""

from __future__ import annotations

import re

from ..config.enhancement import LANGUAGES

# what detect_language found, in words
FOUND = {**LANGUAGES, "mixed": "mixed Chinese and English", "unknown": "no recognisable script"}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORD_OR_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z0-9\u00c0-\u024f'’-]+")
_SENTENCE_END = re.compile(r"[.!?。！？；;]")
ZH_MIN_SHARE = 0.6
EN_MAX_HAN_SHARE = 0.05


def han_share(text: str) -> float:
    """Share of Han characters among the letters (Han + Latin) of a text; 0 if it has none."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    return han / (han + latin) if han + latin else 0.0


def detect_language(text: str) -> str:
    """'zh', 'en', 'mixed', or 'unknown' (no letters at all), by script."""
    if not _HAN.search(text) and not _LATIN.search(text):
        return "unknown"
    share = han_share(text)
    if share >= ZH_MIN_SHARE:
        return "zh"
    if share < EN_MAX_HAN_SHARE:
        return "en"
    return "mixed"


def count_words(text: str) -> int:
    """Words of a text: Latin words and numbers, plus one per Han character."""
    return len(_WORD_OR_HAN.findall(text))


def limit_words(text: str, max_words: int) -> str:
    """The text cut to at most `max_words` words, at the last sentence end that fits if any."""
    matches = list(_WORD_OR_HAN.finditer(text))
    if len(matches) <= max_words:
        return text
    cut = matches[max_words - 1].end()
    head = text[:cut]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    # Keep whole sentences unless that would throw away more than a third of the allowance.
    if ends and count_words(head[: ends[-1]]) >= (2 * max_words) // 3:
        return head[: ends[-1]].strip()
    return head.rstrip(" ,，;；:：-") + ("。" if detect_language(head) == "zh" else ".")
