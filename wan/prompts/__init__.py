"""Prompts for Wan: the style system and the prompt enhancer (local Qwen or an OpenAI-compatible
server). Importing this package loads no model and no torch."""

from .backends import EnhancerError, OpenAIBackend, QwenBackend, Sampling
from .cache import EnhancementCache, default_cache_dir
from .engine import EnhancedPrompt, PromptEnhancementEngine, api_key_from_environment
from .instructions import PromptContext
from .language import count_words, detect_language, limit_words
from .models import ENHANCER_MODELS, EnhancerModel, choose_auto, enhancer_model, resolve_enhancer
from .style import apply_style, clip_styles, style_of_frames

__all__ = [
    "ENHANCER_MODELS",
    "EnhancedPrompt",
    "EnhancementCache",
    "EnhancerError",
    "EnhancerModel",
    "OpenAIBackend",
    "PromptContext",
    "PromptEnhancementEngine",
    "QwenBackend",
    "Sampling",
    "api_key_from_environment",
    "apply_style",
    "choose_auto",
    "clip_styles",
    "count_words",
    "default_cache_dir",
    "detect_language",
    "enhancer_model",
    "limit_words",
    "resolve_enhancer",
    "style_of_frames",
]
