"""Prompt rewriting with a local Qwen model or an OpenAI-compatible server (enhance_* settings)."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .fields import Choice, Converted, FieldError, Flag, Integer, Invalid, Number, Text, setting
from .files import caller_path, current_file_access
from .group import SettingsGroup

SEED_MAX = 2**32 - 1
ENHANCE_BACKENDS = ("qwen", "openai")
# language code -> its name in messages
LANGUAGES = {"en": "English", "zh": "Chinese"}


def chat_server_url(value: Any) -> str:
    """Empty, or the http(s) base URL of a chat server (no credentials, query or fragment)."""
    text = Text(2048)(value).strip()
    if not text:
        return ""
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        raise ValueError("must be an http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8080/v1")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must be a base URL without user:password, ?query or #fragment")
    return text.rstrip("/")


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def _is_folder_name(text: str) -> bool:
    """Whether `Org/Name` names an existing folder rather than a Hugging Face id: relative to the
    working folder for the CLI, inside the models folder for a server's callers (whose text must
    not tell them what exists anywhere else on the server)."""
    access = current_file_access()
    if access.roots("models") is None:
        return Path(text).exists()
    try:
        return access.resolve("models", text).exists()
    except Invalid:
        return False


def enhancer_ref(value: Any) -> str:
    """auto, a model id, a Hugging Face id (`Org/Name`), or a folder (one the caller may name)."""
    text = Text(4096)(value).strip() or "auto"
    parts = text.split("/")
    hub_id = len(parts) == 2 and all(_WORD.match(part) for part in parts)
    if _WORD.match(text) or (hub_id and not _is_folder_name(text)):
        return text
    kept, path = caller_path(text, "models")
    if path is None or not path.is_dir():
        raise ValueError(
            "must be auto, a model id, a Hugging Face id like Qwen/Qwen2.5-3B-Instruct, or a folder"
        )
    return kept


@dataclass(frozen=True)
class EnhancementOptions(SettingsGroup):
    """How each clip's prompt is rewritten into a rich cinematic description."""

    PREFIX: ClassVar[str] = "enhance_"

    enabled: bool = setting(
        False, Flag(), "Rewrite each clip's prompt into a rich cinematic description", label="Enhance prompts"
    )
    backend: str = setting(
        "qwen",
        Choice(ENHANCE_BACKENDS),
        "qwen (local transformers) or openai (any compatible server)",
        label="Enhancer backend",
    )
    model: str = setting(
        "auto",
        Converted(enhancer_ref, "auto, a model id, a Hugging Face id or a folder"),
        "Enhancer model: auto, a Qwen model id, a Hugging Face id, or a local folder",
        label="Enhancer model",
    )
    language: str = setting(
        "en",
        Choice(tuple(LANGUAGES), {"english": "en", "chinese": "zh", "中文": "zh"}),
        "Language of the enhanced prompts: en (English) or zh (Chinese)",
        label="Enhanced prompt language",
    )
    strength: float = setting(
        0.5,
        Number(0.0, 1.0),
        "0 keeps the prompt, low adds detail to the user's words, 1 rewrites freely",
        label="Enhancement strength",
    )
    movement_context: bool = setting(
        True, Flag(), "Weave the clip's camera movement into the rewrite", label="Weave in the movement"
    )
    max_words: int = setting(
        120, Integer(10, 500), "Upper limit on the words of an enhanced prompt", label="Words at most"
    )
    seed: int = setting(0, Integer(0, SEED_MAX), "Sampling seed of the enhancer", label="Enhancer seed")
    api_url: str = setting(
        "",
        Converted(chat_server_url, "empty, or an http(s) URL"),
        "openai backend: the server's base URL, e.g. http://127.0.0.1:8080/v1",
        label="Chat server URL",
    )
    timeout: float = setting(
        60.0,
        Number(1.0, 3600.0),
        "openai backend: seconds to wait for each answer",
        label="Answer timeout (s)",
    )
    batch_size: int = setting(
        8, Integer(1, 256), "qwen backend: prompts rewritten together in one call", label="Batch size"
    )

    def _rule_server_needs_url(self) -> list[FieldError]:
        if self.backend == "openai" and not self.api_url:
            message = "the openai backend needs the chat server's URL, e.g. http://127.0.0.1:8080/v1"
            return [FieldError("enhance_api_url", self.api_url, message)]
        return []

    def cache_settings(self, style_strength: float) -> dict[str, Any]:
        """The settings that change an answer (not the server, timeout or batching)."""
        return {
            "language": self.language,
            "strength": self.strength,
            "style_strength": style_strength,
            "movement_context": self.movement_context,
            "max_words": self.max_words,
            "seed": self.seed,
        }
