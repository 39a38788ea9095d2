"""PromptEnhancementEngine: Deforum's short tag lists into rich, cinematic prompts for Wan.

For every prompt: strength 0 or an empty prompt returns it unchanged, with no model loaded.
Otherwise the cache is asked first; what is left goes to the backend in one batched call.
Each answer is cleaned (wan.prompts.cleaning), checked for junk and for its language by
script; answers in the wrong language are asked again once with a firmer instruction, and
if still wrong the original prompt is kept with a note saying so. The answer is then cut to
the word limit, its camera movement is made to match the clip's (wan.prompts.camera_words),
and, for English, style terms the answer dropped are added back (adaptive style blend). A
prompt that could not be enhanced is kept as it was, and `note` says why; nothing raises for
a bad answer or a server that is down.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .backends import Backend, EnhancerError, OpenAIBackend, QwenBackend, Sampling
from .cache import EnhancementCache, cache_key
from .camera_words import keep_movement
from .cleaning import clean_answer, junk_reason
from .instructions import INSTRUCTIONS_VERSION, LIGHT, PromptContext, messages, system_message
from .language import FOUND, LANGUAGES, count_words, detect_language, limit_words
from .style import apply_style

Source = Literal["model", "cache", "unchanged", "kept"]
BACKENDS = ("qwen", "openai")
# Enough tokens for the word limit: English runs ~1.4 tokens a word, Chinese ~1 per character.
TOKENS_PER_WORD = 1.6
API_KEY_VARIABLES = ("WAN_ENHANCE_API_KEY", "OPENAI_API_KEY")


@dataclass(frozen=True)
class EnhancementConfig:
    """How prompts are enhanced (see wan.config's enhance_* settings for the meaning of each)."""

    model: str = "auto"
    backend: str = "qwen"
    language: str = "en"
    strength: float = 0.5
    style_strength: float = 1.0
    movement_context: bool = True
    max_words: int = 120
    seed: int = 0
    api_url: str = ""
    api_key: str = field(default="", repr=False)
    timeout: float = 60.0
    batch_size: int = 8

    def __post_init__(self) -> None:
        problems = []
        if self.backend not in BACKENDS:
            problems.append(f"enhance_backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.language not in LANGUAGES:
            problems.append(f"enhance_language must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        for name, value in (("enhance_strength", self.strength), ("style_strength", self.style_strength)):
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be between 0 and 1, not {value!r}")
        if self.max_words < 10:
            problems.append(f"enhance_max_words must be at least 10, not {self.max_words}")
        if self.backend == "openai" and not self.api_url:
            problems.append("enhance_api_url is needed for the openai backend, e.g. http://127.0.0.1:8080/v1")
        if self.batch_size < 1 or self.timeout <= 0:
            problems.append("enhance_batch_size and enhance_timeout must be positive")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_options(
        cls, options: Any, *, style_strength: float = 1.0, api_key: str | None = None
    ) -> EnhancementConfig:
        """From the settings' enhance_* group; the API key comes from the argument or the environment."""
        key = (
            api_key
            if api_key is not None
            else next((os.environ[v] for v in API_KEY_VARIABLES if v in os.environ), "")
        )
        return cls(
            model=options.model,
            backend=options.backend,
            language=options.language,
            strength=options.strength,
            style_strength=style_strength,
            movement_context=options.movement_context,
            max_words=options.max_words,
            seed=options.seed,
            api_url=options.api_url,
            api_key=key,
            timeout=options.timeout,
            batch_size=options.batch_size,
        )

    def cache_settings(self) -> dict[str, Any]:
        """The settings that change an answer (not the key, timeout or batching)."""
        return {
            "language": self.language,
            "strength": self.strength,
            "style_strength": self.style_strength,
            "movement_context": self.movement_context,
            "max_words": self.max_words,
            "seed": self.seed,
            "instructions": INSTRUCTIONS_VERSION,
        }


@dataclass(frozen=True)
class EnhancedPrompt:
    """One prompt before and after enhancement, and what happened to it."""

    original: str
    prompt: str
    context: PromptContext
    source: Source
    note: str = ""
    model: str = ""
    error: bool = False  # the enhancer failed (not the answer): a server down, a model that won't load

    @property
    def changed(self) -> bool:
        """Whether the prompt differs from the original."""
        return self.prompt != self.original

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "original": self.original,
            "prompt": self.prompt,
            "movement": self.context.movement,
            "style": self.context.style,
            "source": self.source,
            "note": self.note,
            "model": self.model,
            "error": self.error,
        }


@dataclass(frozen=True)
class _Verdict:
    answer: str | None
    reason: str = ""
    wrong_language: bool = False
    error: bool = False


class PromptEnhancementEngine:
    """Rewrites prompts with a chat model; use as a context manager to unload it afterwards."""

    def __init__(
        self,
        config: EnhancementConfig | None = None,
        *,
        backend: Backend | None = None,
        cache: EnhancementCache | str | Path | Literal[False] | None = None,
        models_dir: str | Path | None = None,
        allow_download: bool = False,
        device: str | None = None,
    ) -> None:
        self.config = config or EnhancementConfig()
        self._backend = backend
        self.cache = (
            None
            if cache is False
            else cache
            if isinstance(cache, EnhancementCache)
            else EnhancementCache(cache)
        )
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.allow_download = allow_download
        self.device = device

    # -- the backend --------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        """The backend, created (not loaded) on first use."""
        if self._backend is None:
            if self.config.backend == "openai":
                model = "" if self.config.model == "auto" else self.config.model
                self._backend = OpenAIBackend(
                    self.config.api_url, model, api_key=self.config.api_key, timeout=self.config.timeout
                )
            else:
                from .models import resolve_enhancer

                location = resolve_enhancer(
                    self.config.model, models_dir=self.models_dir, allow_download=self.allow_download
                )
                self._backend = QwenBackend(location, device=self.device, batch_size=self.config.batch_size)
        return self._backend

    def unload(self) -> None:
        """Free the model's memory (call before the video model loads)."""
        if self._backend is not None:
            self._backend.unload()

    def __enter__(self) -> PromptEnhancementEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unload()

    # -- enhancing -----------------------------------------------------------------------------
    def enhance_prompt_with_context(self, base: str, movement: str = "", style: str = "") -> EnhancedPrompt:
        """One prompt, with the clip's movement phrase and style."""
        return self.enhance_prompts([base], [PromptContext(movement, style)])[0]

    def _sampling(self, retry: bool) -> Sampling:
        strength = self.config.strength
        return Sampling(
            max_new_tokens=int(self.config.max_words * TOKENS_PER_WORD) + 32,
            # light rewrites keep the user's words: decode greedily; freer ones sample
            temperature=0.0 if strength < LIGHT else round(0.4 + 0.5 * strength, 3),
            seed=self.config.seed + (1 if retry else 0),
        )

    def _conversation(self, prompt: str, context: PromptContext, retry: bool) -> list[dict[str, str]]:
        system = system_message(
            prompt,
            context,
            language=self.config.language,
            strength=self.config.strength,
            style_strength=self.config.style_strength,
            movement_context=self.config.movement_context,
            max_words=self.config.max_words,
            retry=retry,
        )
        return messages(prompt, system)

    def _key(self, identity: str, prompt: str, context: PromptContext) -> str:
        return cache_key(
            {
                "model": identity,
                "prompt": prompt,
                "movement": context.movement if self.config.movement_context else "",
                "style": context.style,
                "settings": self.config.cache_settings(),
            }
        )

    def _finish(self, answer: str, context: PromptContext) -> tuple[str, str]:
        """(final prompt, note) from a clean answer in the right language."""
        movement = context.movement if self.config.movement_context else ""
        reserve = count_words(movement) + 1 if movement else 0
        text = limit_words(answer, max(self.config.max_words - reserve, 10))
        text, note = keep_movement(text, movement, self.config.language)
        if context.style and self.config.language == "en":
            text, _added = apply_style(
                text, context.style, strength=self.config.style_strength, mode="adaptive"
            )
        return text, note

    def _judge(self, answer: str | EnhancerError) -> _Verdict:
        """The clean answer, or why it is unusable."""
        if isinstance(answer, EnhancerError):
            return _Verdict(None, str(answer), error=True)
        cleaned = clean_answer(answer)
        reason = junk_reason(cleaned)
        if reason:
            return _Verdict(None, reason)
        language = detect_language(cleaned)
        if language != self.config.language:
            wanted, got = LANGUAGES[self.config.language], FOUND[language]
            return _Verdict(None, f"the answer was in {got}, not {wanted}", wrong_language=True)
        return _Verdict(cleaned)

    def enhance_prompts(
        self, prompts: Sequence[str], contexts: Sequence[PromptContext] | None = None
    ) -> list[EnhancedPrompt]:
        """Enhance many prompts at once (see the module doc); results are in input order."""
        contexts = list(contexts) if contexts is not None else [PromptContext()] * len(prompts)
        if len(contexts) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(contexts)} contexts")
        results: list[EnhancedPrompt | None] = [None] * len(prompts)
        if self.config.strength == 0:
            return [
                EnhancedPrompt(p, p, c, "unchanged", "enhancement strength is 0")
                for p, c in zip(prompts, contexts, strict=True)
            ]
        try:
            identity = self.backend.identity
        except (EnhancerError, OSError, ValueError) as exc:  # no model files, bad URL
            return [
                EnhancedPrompt(p, p, c, "kept", f"enhancer unavailable: {exc}", error=True)
                for p, c in zip(prompts, contexts, strict=True)
            ]

        pending: dict[tuple[str, PromptContext], list[int]] = {}
        for index, (prompt, context) in enumerate(zip(prompts, contexts, strict=True)):
            if not prompt.strip():
                results[index] = EnhancedPrompt(prompt, prompt, context, "unchanged", "the prompt is empty")
                continue
            cached = self.cache.get(self._key(identity, prompt, context)) if self.cache else None
            if cached is not None:
                results[index] = EnhancedPrompt(prompt, cached, context, "cache", model=identity)
            else:
                pending.setdefault((prompt, context), []).append(index)

        outcome: dict[tuple[str, PromptContext], _Verdict] = {}
        todo = list(pending)
        for retry in (False, True):
            if not todo:
                break
            try:
                answers = self.backend.generate(
                    [self._conversation(p, c, retry) for p, c in todo], self._sampling(retry)
                )
            except (EnhancerError, OSError) as exc:
                answers = [EnhancerError(str(exc))] * len(todo)
            again = []
            for item, answer in zip(todo, answers, strict=True):
                outcome[item] = self._judge(answer)
                # Only a wrong language is worth asking again; junk and errors repeat themselves.
                if outcome[item].wrong_language and not retry:
                    again.append(item)
            todo = again

        for (prompt, context), indices in pending.items():
            verdict = outcome[(prompt, context)]
            if verdict.answer is None:
                note = f"kept the original: {verdict.reason}"
                enhanced = EnhancedPrompt(prompt, prompt, context, "kept", note, identity, verdict.error)
            else:
                final, note = self._finish(verdict.answer, context)
                if self.cache:
                    self.cache.put(
                        self._key(identity, prompt, context), final, model=identity, original=prompt
                    )
                enhanced = EnhancedPrompt(prompt, final, context, "model", note, identity)
            for index in indices:
                results[index] = enhanced
        return [r for r in results if r is not None]
