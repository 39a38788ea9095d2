"""What the enhancer model is told: a system message per clip built from the settings and the
clip's context, written in the output language (small models follow an instruction best when
it is in the language they must answer in).

Strength decides how much of the user's text survives: below 0.35 every word is kept in order
and only details are added; below 0.7 subject, setting and key words are kept and expanded;
from 0.7 the model rewrites freely around the same subject. The length asked for grows with
strength, up to the word limit. INSTRUCTIONS_VERSION is part of the cache key: change it when
the wording changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .language import count_words

INSTRUCTIONS_VERSION = 1
LIGHT, FREE = 0.35, 0.7


@dataclass(frozen=True)
class PromptContext:
    """What the enhancer knows about a clip besides its prompt."""

    movement: str = ""
    style: str = ""


_TEXT = {
    "en": {
        "role": (
            "You write prompts for Wan, a text-to-video model. Turn the user's prompt into one paragraph "
            "that describes a single continuous shot: subject, action, setting, lighting, colours, "
            "atmosphere and camera."
        ),
        "light": "Keep every word of the user's prompt, in order; only add a few concrete visual details.",
        "medium": "Keep the user's subject, setting and key words; expand them with concrete visual detail.",
        "free": "Keep the user's subject and intent; otherwise rewrite freely and vividly.",
        "movement": (
            "The camera movement of this shot is: {movement}. Describe exactly this movement in camera "
            "language (for example 'the camera slowly pans left'); never describe a different movement."
        ),
        "style": "Visual style: {style}. {weight}",
        "strong": "Make this style dominant.",
        "clear": "Apply this style clearly, but let the subject lead.",
        "hint": "Only hint at this style.",
        "length": "Write about {target} words, never more than {limit}.",
        "language": "Answer in English only; translate if the user's prompt is in another language.",
        "retry": "Your previous answer was not in English. Write the prompt in English only.",
        "answer": "Reply with the prompt itself only: no preface, no title, no quotes, no lists.",
    },
    "zh": {
        "role": (
            "你为文本生成视频模型 Wan 编写提示词。把用户的提示词改写成一段描述单个连续镜头的文字："
            "主体、动作、场景、光线、色彩、氛围和镜头。"
        ),
        "light": "保留用户提示词的全部内容和顺序（英文则逐词译成中文），只补充少量具体的视觉细节。",
        "medium": "保留用户的主体、场景和关键词，并用具体的视觉细节加以扩展。",
        "free": "保留用户的主体和意图，其余部分可以自由、生动地改写。",
        "movement": (
            "这个镜头的运镜是：{movement}。用镜头语言准确描述这一运镜（例如“镜头缓缓向左平移”），"
            "不要描述任何其他运镜。"
        ),
        "style": "画面风格：{style}。{weight}",
        "strong": "让该风格占主导。",
        "clear": "清晰地体现该风格，但以主体为主。",
        "hint": "只略微带出该风格。",
        "length": "写大约 {target} 个字，不超过 {limit} 个字。",
        "language": "无论用户使用什么语言，都只用简体中文回答。",
        "retry": "你上一次的回答不是中文。请只用简体中文写出提示词。",
        "answer": "只输出提示词本身：不要开场白、标题、引号或列表。",
    },
}


def target_words(prompt: str, strength: float, max_words: int) -> int:
    """How many words to ask for: the prompt's own length grown towards the limit by strength."""
    own = count_words(prompt)
    grown = own + (max_words - own) * (0.4 + 0.6 * strength)
    return max(min(round(grown), max_words), min(own, max_words))


def system_message(
    prompt: str,
    context: PromptContext,
    *,
    language: str,
    strength: float,
    style_strength: float,
    movement_context: bool,
    max_words: int,
    retry: bool = False,
) -> str:
    """The system message for one prompt."""
    text = _TEXT[language]
    level = "light" if strength < LIGHT else "medium" if strength < FREE else "free"
    parts = [text["role"], text[level]]
    if movement_context and context.movement:
        parts.append(text["movement"].format(movement=context.movement))
    if context.style and style_strength > 0:
        weight = "strong" if style_strength >= 2 / 3 else "clear" if style_strength >= 1 / 3 else "hint"
        parts.append(text["style"].format(style=context.style, weight=text[weight]))
    parts.append(text["length"].format(target=target_words(prompt, strength, max_words), limit=max_words))
    parts.append(text["language"])
    if retry:
        parts.append(text["retry"])
    parts.append(text["answer"])
    return " ".join(parts) if language == "en" else "".join(parts)


def messages(prompt: str, system: str) -> list[dict[str, str]]:
    """The chat messages for one prompt."""
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
