"""A loaded pipeline kept between renders (a worker's model stays loaded between jobs).

render() loads a model's pipeline on first use and, without a keeper, lets it go at the end. With
a KeptPipeline (WanAPI(keep_models=True), which the server's workers use) the pipeline of the
last successful render stays loaded, with the prompt embeddings it made, and the next render
takes it when it needs the same model loaded the same way: the same folder, device, dtype,
memory preset and everything the pipeline was built for (scheduler shift and steps, size, LoRAs
and their weights, speed and weights settings; engine._Session.made_for). A render that needs
something else releases it first, so two pipelines never share the GPU. New prompts are encoded
with the text encoder loaded alone (engine._Session.encode_missing), not a whole new pipeline.

A render that fails or is cancelled keeps nothing: the state a pipeline call was interrupted in
is not worth the risk. The worker that owns the keeper releases it after a while without jobs
(wan.service.worker), as the GPU memory it holds is the host's too.
"""

from __future__ import annotations

import threading
from typing import Any

from ..models.loading import free_memory

# prompt embeddings kept with a pipeline: (prompt, negative prompt) pairs of UMT5's 512 x 4096
# values each, about 8 MB a pair in bfloat16
MAX_KEPT_PROMPTS = 64


class KeptPipeline:
    """At most one loaded pipeline (engine._Loaded), what it was loaded for and its embeddings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: Any = None
        self._where: tuple[Any, ...] = ()
        self._embeddings: dict[tuple[str, str], tuple[Any, Any]] = {}

    @property
    def model(self) -> str | None:
        """The model whose pipeline is kept (None: nothing is loaded)."""
        loaded = self._loaded
        return loaded.model if loaded is not None else None

    def take(self, where: tuple[Any, ...]) -> tuple[Any, dict[tuple[str, str], tuple[Any, Any]]] | None:
        """(the kept pipeline, its embeddings) when it was loaded at `where` (model folder,
        device, dtype); it is no longer kept then (the render gives it back when it ends well).
        Anything else kept is released (None)."""
        with self._lock:
            loaded, embeddings, kept_at = self._loaded, self._embeddings, self._where
            self._loaded, self._where, self._embeddings = None, (), {}
        if loaded is None:
            return None
        if kept_at == where:
            return loaded, embeddings
        del loaded, embeddings
        free_memory()
        return None

    def keep(
        self, loaded: Any, where: tuple[Any, ...], embeddings: dict[tuple[str, str], tuple[Any, Any]]
    ) -> None:
        """Keep `loaded` (loaded at `where`) and the newest of `embeddings`, in place of anything kept."""
        newest = dict(list(embeddings.items())[-MAX_KEPT_PROMPTS:])
        with self._lock:
            self._loaded, self._where, self._embeddings = loaded, where, newest

    def release(self) -> bool:
        """Let the kept pipeline go and give its memory back; whether one was kept."""
        with self._lock:
            held = self._loaded is not None
            self._loaded, self._where, self._embeddings = None, (), {}
        if held:
            free_memory()
        return held
