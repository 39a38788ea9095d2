"""Prompts for Wan: the style system and the prompt enhancer (local Qwen or an OpenAI-compatible
server). Importing this package loads no model and no torch."""

from .backends import EnhancerError, OpenAIBackend, QwenBackend, Sampling
from .cache import EnhancementCache, default_cache_dir
from .engine import EnhancedPrompt, EnhancementConfig, PromptEnhancementEngine
from .instructions import PromptContext
from .language import count_words, detect_language, limit_words
from .models import ENHANCER_MODELS, EnhancerModel, choose_auto, enhancer_model, resolve_enhancer
from .style import AdvancedStyleConfig, apply_style, parse_style_schedule

__all__ = [
    "ENHANCER_MODELS",
    "AdvancedStyleConfig",
    "EnhancedPrompt",
    "EnhancementCache",
    "EnhancementConfig",
    "EnhancerError",
    "EnhancerModel",
    "OpenAIBackend",
    "PromptContext",
    "PromptEnhancementEngine",
    "QwenBackend",
    "Sampling",
    "apply_style",
    "choose_auto",
    "count_words",
    "default_cache_dir",
    "detect_language",
    "enhancer_model",
    "limit_words",
    "parse_style_schedule",
    "resolve_enhancer",
]
