"""Prompt adherence and aesthetics of each clip (quality_* settings): a CLIP score between a
clip's prompt and frames sampled from it, and a LAION aesthetic score when its head is given."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from .fields import Converted, Flag, Integer, Text, setting
from .files import LocalFile, caller_path, current_file_access
from .group import SettingsGroup

DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14"
# the hub ids a server's callers may name (anyone may name any with the CLI or the Python API): a
# caller must not make the server fetch arbitrary repositories
KNOWN_CLIP_MODELS = (
    DEFAULT_CLIP_MODEL,
    "openai/clip-vit-large-patch14-336",
    "openai/clip-vit-base-patch32",
    "openai/clip-vit-base-patch16",
)
HEAD_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
# owner/name as the Hugging Face hub spells a repository
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def clip_model_ref(value: Any) -> str:
    """A local CLIP folder (as the caller may name it: inside the models folder for API callers)
    or a Hugging Face hub id such as openai/clip-vit-large-patch14."""
    text = Text(4096)(value).strip()
    if not text:
        return ""
    kept, path = caller_path(text, "models") if not _HUB_ID.match(text) else (text, None)
    if path is not None:
        if not (path / "config.json").is_file():
            raise ValueError("must be a folder holding a transformers CLIP model (config.json), or a hub id")
        return kept
    if current_file_access().is_restricted and text not in KNOWN_CLIP_MODELS:
        raise ValueError(f"not allowed: this server takes one of {', '.join(KNOWN_CLIP_MODELS)}, or a folder")
    return text


@dataclass(frozen=True)
class QualityOptions(SettingsGroup):
    """Per-clip prompt adherence (CLIP score) and aesthetics, measured only when asked for."""

    PREFIX: ClassVar[str] = "quality_"

    adherence: bool = setting(
        False,
        Flag(),
        "Score each clip against its prompt with CLIP (and its aesthetics, with a head file)",
        label="Prompt adherence score",
    )
    clip_model: str = setting(
        DEFAULT_CLIP_MODEL,
        Converted(clip_model_ref, "a hub id such as openai/clip-vit-large-patch14, or a local CLIP folder"),
        "CLIP model for the score: a hub id (looked for in the models folder and the Hugging Face "
        "cache; downloaded only when downloads are allowed) or a local transformers folder",
        label="CLIP model",
    )
    clip_frames: int = setting(
        8,
        Integer(1, 64),
        "Frames sampled evenly from each clip for the scores",
        label="Frames scored per clip",
    )
    aesthetic_head: str = setting(
        "",
        LocalFile("models", HEAD_SUFFIXES, "a LAION aesthetic predictor head (state dict)"),
        "LAION aesthetic predictor head (linear or MLP state dict) for the CLIP model's image "
        "embeddings; empty: no aesthetic score",
        label="Aesthetic head file",
    )
