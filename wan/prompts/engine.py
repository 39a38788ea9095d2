"""PromptEnhancementEngine: Deforum's short tag lists into rich, cinematic prompts for Wan.

For every prompt: strength 0 or an empty prompt returns it unchanged, with no model loaded.
Otherwise the cache is asked first; what is left goes to the backend in one batched call.
Each answer is cleaned (wan.prompts.cleaning), checked for junk and for its language by
script; answers in the wrong language are asked again once with a firmer instruction, and
if still wrong the original prompt is kept with a note saying so. The answer is then cut to
the word limit, its camera movement is made to match the clip's (wan.prompts.camera_words),
and, for English, style terms the answer dropped are added back (adaptive style blend). A
prompt that could not be enhanced is kept as it was, and `note` says why; nothing raises for
a bad answer or a server that is down. Usable answers and rejected ones (kept, with the reason)
are cached; failures of the enhancer itself are not, so they are asked again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..config.enhancement import LANGUAGES, EnhancementOptions
from .backends import Backend, EnhancerError, OpenAIBackend, QwenBackend, Sampling
from .cache import EnhancementCache, cache_key
from .camera_words import keep_movement
from .cleaning import clean_answer, junk_reason
from .instructions import INSTRUCTIONS_VERSION, LIGHT, PromptContext, messages, system_message
from .language import FOUND, count_words, detect_language, limit_words
from .style import apply_style

Source = Literal["model", "cache", "unchanged", "kept"]
# Enough tokens for the word limit: English runs ~1.4 tokens a word, Chinese ~1 per character.
TOKENS_PER_WORD = 1.6
API_KEY_VARIABLES = ("WAN_ENHANCE_API_KEY", "OPENAI_API_KEY")


def api_key_from_environment() -> str:
    """The chat server key of this process's environment ($WAN_ENHANCE_API_KEY, $OPENAI_API_KEY)."""
    return next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), "")


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnhancedPrompt:
        """Read what to_dict wrote (an enhancement that ran in another process)."""
        context = PromptContext(data.get("movement", ""), data.get("style", ""))
        return cls(
            data["original"],
            data["prompt"],
            context,
            data["source"],
            data.get("note", ""),
            data.get("model", ""),
            bool(data.get("error", False)),
        )

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
        options: EnhancementOptions | None = None,
        *,
        style_strength: float = 1.0,
        api_key: str | None = None,
        public_only: bool = False,
        deadline: float | None = None,
        backend: Backend | None = None,
        cache: EnhancementCache | str | Path | Literal[False] | None = None,
        models_dir: str | Path | None = None,
        allow_download: bool = False,
        device: str | None = None,
    ) -> None:
        self.options = options or EnhancementOptions()
        self.style_strength = style_strength
        self.api_key = api_key_from_environment() if api_key is None else api_key
        # a chat server the caller chose: it must stay on the public internet (wan.service.chat_servers)
        self.public_only = public_only
        # time.monotonic() after which no more chat requests are sent (the rest stay as they are)
        self.deadline = deadline
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
            if self.options.backend == "openai":
                model = "" if self.options.model == "auto" else self.options.model
                self._backend = OpenAIBackend(
                    self.options.api_url,
                    model,
                    api_key=self.api_key,
                    timeout=self.options.timeout,
                    public_only=self.public_only,
                    deadline=self.deadline,
                )
            else:
                from .models import resolve_enhancer

                location = resolve_enhancer(
                    self.options.model, models_dir=self.models_dir, allow_download=self.allow_download
                )
                self._backend = QwenBackend(location, device=self.device, batch_size=self.options.batch_size)
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
        strength = self.options.strength
        return Sampling(
            max_new_tokens=int(self.options.max_words * TOKENS_PER_WORD) + 32,
            # light rewrites keep the user's words: decode greedily; freer ones sample
            temperature=0.0 if strength < LIGHT else round(0.4 + 0.5 * strength, 3),
            seed=self.options.seed + (1 if retry else 0),
        )

    def _conversation(self, prompt: str, context: PromptContext, retry: bool) -> list[dict[str, str]]:
        system = system_message(
            prompt,
            context,
            language=self.options.language,
            strength=self.options.strength,
            style_strength=self.style_strength,
            movement_context=self.options.movement_context,
            max_words=self.options.max_words,
            retry=retry,
        )
        return messages(prompt, system)

    def _key(self, identity: str, prompt: str, context: PromptContext) -> str:
        return cache_key(
            {
                "model": identity,
                "prompt": prompt,
                "movement": context.movement if self.options.movement_context else "",
                "style": context.style,
                "settings": self.options.cache_settings(self.style_strength)
                | {"instructions": INSTRUCTIONS_VERSION},
            }
        )

    def _finish(self, answer: str, context: PromptContext) -> tuple[str, str]:
        """(final prompt, note) from a clean answer in the right language."""
        movement = context.movement if self.options.movement_context else ""
        reserve = count_words(movement) + 1 if movement else 0
        text = limit_words(answer, max(self.options.max_words - reserve, 10))
        text, note = keep_movement(text, movement, self.options.language)
        if context.style and self.options.language == "en":
            text, _added = apply_style(text, context.style, strength=self.style_strength, mode="adaptive")
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
        if language != self.options.language:
            wanted, got = LANGUAGES[self.options.language], FOUND[language]
            return _Verdict(None, f"the answer was in {got}, not {wanted}", wrong_language=True)
        return _Verdict(cleaned)

    def enhance_prompts(
        self, prompts: Sequence[str], contexts: Sequence[PromptContext] | None = None
    ) -> list[EnhancedPrompt]:
        """Enhance many prompts at once (see the module doc); results are in input order."""
        contexts = list(contexts) if contexts is not None else [PromptContext()] * len(prompts)
        if len(contexts) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(contexts)} contexts")
        pairs = list(zip(prompts, contexts, strict=True))
        if self.options.strength == 0:
            return [EnhancedPrompt(p, p, c, "unchanged", "enhancement strength is 0") for p, c in pairs]
        try:
            identity = self.backend.identity
        except (EnhancerError, OSError, ValueError) as exc:  # no model files, bad URL
            note = f"enhancer unavailable: {exc}"
            return [EnhancedPrompt(p, p, c, "kept", note, error=True) for p, c in pairs]
        results, pending = self._known(pairs, identity)
        verdicts = self._ask(list(pending))
        for (prompt, context), indices in pending.items():
            enhanced = self._result(prompt, context, verdicts[(prompt, context)], identity)
            for index in indices:
                results[index] = enhanced
        return [r for r in results if r is not None]

    def _known(
        self, pairs: list[tuple[str, PromptContext]], identity: str
    ) -> tuple[list[EnhancedPrompt | None], dict[tuple[str, PromptContext], list[int]]]:
        """(results known without the model: empty prompts and cached answers, the rest to ask
        the model for with the indices each one answers)."""
        results: list[EnhancedPrompt | None] = [None] * len(pairs)
        pending: dict[tuple[str, PromptContext], list[int]] = {}
        for index, (prompt, context) in enumerate(pairs):
            if not prompt.strip():
                results[index] = EnhancedPrompt(prompt, prompt, context, "unchanged", "the prompt is empty")
                continue
            cached = self.cache.get(self._key(identity, prompt, context)) if self.cache else None
            if cached is not None and cached.kept:
                note = f"kept the original: {cached.kept} (an earlier answer, cached)"
                results[index] = EnhancedPrompt(prompt, prompt, context, "kept", note, identity)
            elif cached is not None:
                results[index] = EnhancedPrompt(prompt, cached.prompt, context, "cache", model=identity)
            else:
                pending.setdefault((prompt, context), []).append(index)
        return results, pending

    def _ask(self, todo: list[tuple[str, PromptContext]]) -> dict[tuple[str, PromptContext], _Verdict]:
        """The model's verdict on each prompt: asked once in one batch, and once more, with a
        firmer instruction, for answers in the wrong language (junk and errors repeat themselves)."""
        verdicts: dict[tuple[str, PromptContext], _Verdict] = {}
        for retry in (False, True):
            if not todo:
                break
            try:
                answers = self.backend.generate(
                    [self._conversation(p, c, retry) for p, c in todo], self._sampling(retry)
                )
            except (EnhancerError, OSError) as exc:
                answers = [EnhancerError(str(exc))] * len(todo)
            for item, answer in zip(todo, answers, strict=True):
                verdicts[item] = self._judge(answer)
            todo = [item for item in todo if verdicts[item].wrong_language and not retry]
        return verdicts

    def _result(
        self, prompt: str, context: PromptContext, verdict: _Verdict, identity: str
    ) -> EnhancedPrompt:
        """The enhanced prompt of a verdict, or the original with the reason (both cached, unless
        the enhancer itself failed)."""
        if verdict.answer is None:
            if self.cache and not verdict.error:
                key = self._key(identity, prompt, context)
                self.cache.put(key, prompt, kept=verdict.reason, model=identity, original=prompt)
            note = f"kept the original: {verdict.reason}"
            return EnhancedPrompt(prompt, prompt, context, "kept", note, identity, verdict.error)
        final, note = self._finish(verdict.answer, context)
        if self.cache:
            self.cache.put(self._key(identity, prompt, context), final, model=identity, original=prompt)
        return EnhancedPrompt(prompt, final, context, "model", note, identity)
