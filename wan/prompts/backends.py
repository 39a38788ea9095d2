"""Where enhanced prompts come from: a local Qwen model (transformers) or an OpenAI-compatible
chat server (llama.cpp, Ollama, LM Studio, vLLM, ...).

A backend answers a list of chat conversations with a list of texts, or of EnhancerError for the
conversations it could not answer; `identity` names the model for the cache. The local backend
answers the whole list in batched generate calls with left padding (the prompts of a plan in
one or a few calls, not one by one); the server backend sends one request per conversation, a
few at a time.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import WanError

Conversation = list[dict[str, str]]


class EnhancerError(WanError, RuntimeError):
    """The enhancer could not produce an answer (server down, model failed to load, ...)."""


@dataclass(frozen=True)
class Sampling:
    """How answers are sampled: temperature 0 decodes greedily."""

    max_new_tokens: int
    temperature: float
    seed: int
    top_p: float = 0.9


class Backend(Protocol):
    """Answers chat conversations."""

    @property
    def identity(self) -> str:
        """The model behind the answers, for cache keys and notes."""
        ...

    def generate(
        self, conversations: Sequence[Conversation], sampling: Sampling
    ) -> list[str | EnhancerError]:
        """One answer (or error) per conversation, in order."""
        ...

    def unload(self) -> None:
        """Give back the memory the backend holds."""
        ...


def _dtype_argument() -> str:
    """transformers 4.56 renamed from_pretrained's torch_dtype to dtype."""
    from packaging.version import Version
    from transformers import __version__

    return "dtype" if Version(__version__) >= Version("4.56") else "torch_dtype"


class QwenBackend:
    """A local chat model through transformers, loaded on first use, bf16 on CUDA."""

    def __init__(self, location: Any, *, device: str | None = None, batch_size: int = 8) -> None:
        self.location = location
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def identity(self) -> str:
        """`qwen:<hub id or folder>`."""
        model = self.location.model
        return f"qwen:{model.hub_id or self.location.path}"

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    def load(self) -> None:
        """Load tokenizer and weights (once)."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..models.loading import default_device

        device = torch.device(self.device) if self.device else default_device()
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.location.path, padding_side="left")
            model = AutoModelForCausalLM.from_pretrained(self.location.path, **{_dtype_argument(): dtype})
        except (OSError, ValueError) as exc:
            raise EnhancerError(
                f"could not load the enhancer model from {self.location.path}: {exc}"
            ) from exc
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if getattr(tokenizer, "chat_template", None) is None:
            raise EnhancerError(f"{self.location.path} has no chat template: use an instruct (chat) model")
        self._tokenizer, self._model = tokenizer, model.to(device).eval()

    def _prompt_texts(self, conversations: Sequence[Conversation]) -> list[str]:
        # enable_thinking=False stops Qwen3 from thinking aloud; other templates ignore it.
        return [
            self._tokenizer.apply_chat_template(
                c, tokenize=False, add_generation_prompt=True, enable_thinking=False
            )
            for c in conversations
        ]

    def _generate_batch(self, conversations: Sequence[Conversation], sampling: Sampling) -> list[str]:
        import torch

        tokenizer, model = self._tokenizer, self._model
        batch = tokenizer(self._prompt_texts(conversations), return_tensors="pt", padding=True).to(
            model.device
        )
        options: dict[str, Any] = {"do_sample": False}
        if sampling.temperature > 0:
            options = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
        devices = [model.device] if model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(sampling.seed)
            output = model.generate(
                **batch,
                max_new_tokens=sampling.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                repetition_penalty=1.05,
                **options,
            )
        return tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)

    def generate(
        self, conversations: Sequence[Conversation], sampling: Sampling
    ) -> list[str | EnhancerError]:
        """Answers in batches of `batch_size`, each one generate call with left padding."""
        self.load()
        answers: list[str | EnhancerError] = []
        for start in range(0, len(conversations), self.batch_size):
            chunk = conversations[start : start + self.batch_size]
            try:
                answers.extend(self._generate_batch(chunk, sampling))
            except RuntimeError as exc:  # out of memory, a broken model: these prompts stay as they are
                answers.extend(EnhancerError(f"generation failed: {exc}") for _ in chunk)
        return answers

    def unload(self) -> None:
        """Drop the model and return its GPU memory."""
        if self._model is None:
            return
        from ..models.loading import free_memory

        self._model = None
        self._tokenizer = None
        free_memory(reset_peak=False)


def public_host(host: str) -> bool:
    """Whether every address `host` resolves to is on the public internet (not this machine,
    not a private, link-local or reserved network)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A chat server answers; it does not send the request (and its key) somewhere else."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise urllib.error.HTTPError(req.full_url, code, f"redirects to {newurl}; not followed", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirects)
# an OpenAI chat completion of a few hundred words is a few KB; more is not one
MAX_ANSWER_BYTES = 1_000_000
# a socket timeout set to end at the deadline fires a little before or after it
DEADLINE_SLACK_SECONDS = 0.25


def _error_message(error: urllib.error.HTTPError) -> str:
    """The `error.message` of an OpenAI-style JSON error body (at most 200 characters), else ''.
    Other bodies (an HTML error page, whatever is at that address) are not repeated."""
    try:
        data = json.loads(error.read(20_000))
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("error", "")
    except (ValueError, AttributeError, KeyError, TypeError, OSError):
        return ""
    return message[:200] if isinstance(message, str) else ""


class OpenAIBackend:
    """Any OpenAI-compatible chat completions endpoint."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str = "",
        timeout: float = 60.0,
        concurrency: int = 4,
        public_only: bool = False,
        deadline: float | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise EnhancerError(f"enhance_api_url must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.concurrency = concurrency
        self.public_only = public_only
        self.deadline = deadline

    @property
    def endpoint(self) -> str:
        """The chat completions URL (the base URL's /chat/completions)."""
        return self.url if self.url.endswith("/chat/completions") else f"{self.url}/chat/completions"

    @property
    def identity(self) -> str:
        """`openai:<model>@<url>`."""
        return f"openai:{self.model}@{self.url}"

    def _request(self, conversation: Conversation, sampling: Sampling) -> str:
        body = {
            "model": self.model,
            "messages": conversation,
            "max_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": sampling.seed,
            "stream": False,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise EnhancerError("not asked: the request ran out of time")
        if self.public_only and not public_host(urllib.parse.urlsplit(self.endpoint).hostname or ""):
            raise EnhancerError(f"{self.endpoint} is not on the public internet; not asked")
        request = urllib.request.Request(self.endpoint, json.dumps(body).encode(), headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self._timeout()) as response:
                payload = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            hint = {
                401: " (is the API key right?)",
                403: " (is the API key right?)",
                404: " (is the URL right?)",
            }
            detail = _error_message(exc)
            said = f": {detail}" if detail else ""
            raise EnhancerError(
                f"{self.endpoint} answered HTTP {exc.code}{hint.get(exc.code, '')}{said}"
            ) from None
        except TimeoutError:
            raise EnhancerError(self._timed_out()) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise EnhancerError(self._timed_out()) from None
            raise EnhancerError(
                f"could not reach {self.endpoint}: {exc.reason} (is the server running?)"
            ) from None
        if len(payload) > MAX_ANSWER_BYTES:
            raise EnhancerError(f"{self.endpoint} answered with more than {MAX_ANSWER_BYTES} bytes")
        try:
            content = json.loads(payload)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise EnhancerError(f"{self.endpoint} did not answer with an OpenAI chat completion") from None
        if not isinstance(content, str):
            raise EnhancerError(f"{self.endpoint} answered without text content")
        return content

    def _timed_out(self) -> str:
        """Why no answer came: the per-answer timeout, or the whole request's deadline."""
        if self.deadline is not None and time.monotonic() >= self.deadline - DEADLINE_SLACK_SECONDS:
            return f"{self.endpoint} did not answer before the request ran out of time"
        return f"{self.endpoint} did not answer within {self.timeout:g} s"

    def _timeout(self) -> float:
        if self.deadline is None:
            return self.timeout
        return max(0.1, min(self.timeout, self.deadline - time.monotonic()))

    def _answer(self, conversation: Conversation, sampling: Sampling) -> str | EnhancerError:
        try:
            return self._request(conversation, sampling)
        except EnhancerError as exc:
            return exc

    def generate(
        self, conversations: Sequence[Conversation], sampling: Sampling
    ) -> list[str | EnhancerError]:
        """One request per conversation, `concurrency` at a time."""
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(conversations)))) as pool:
            return list(pool.map(lambda c: self._answer(c, sampling), conversations))

    def unload(self) -> None:
        """Nothing is held locally."""
