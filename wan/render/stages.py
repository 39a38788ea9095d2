"""Where a render's time and memory go, stage by stage (metrics.json's `stages`).

The stages, in the order a render meets them:

- load: finding the model, from_pretrained, the preview fit, the speed and memory presets;
- text_encoding: the text encoder embedding each unique prompt (then released);
- conditioning: a pipeline call up to its first transformer forward (the VACE control video or
  the I2V image through the VAE encoder, the starting latents);
- denoising: the first transformer forward to the end of the last step; per step, its forward(s)
  and scheduler step, without the step callback's previews;
- vae_decode: after the last step to the pipeline's return (the VAE decode, frames to numpy);
- saving_clips: checks, colour coherence and each clip's frames to disk;
- reading, interpolation, resizing, frames, quality, encoding: the output stage's one streaming
  pass (model frames read back, in-betweens made, frames fitted to an output size the model does
  not render at, output frames written, quality checks, the MP4).

Each stage has wall seconds (a CUDA device is synchronised at each boundary, so GPU work is
counted where it runs) and the peak memory while it ran: on CUDA torch.cuda.max_memory_allocated
(reset at the stage's start); elsewhere the process's resident-set peak (VmHWM, reset per stage
through /proc/self/clear_refs on Linux; where that cannot be reset, the peak since the process
started). The streamed stages of the output share one peak: they run interleaved.

Pure standard library at import; torch is imported only when a CUDA device is measured.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

STREAM_STAGES = ("reading", "interpolation", "resizing", "frames", "quality", "encoding")
STAGE_ORDER = (
    "load",
    "text_encoding",
    "conditioning",
    "denoising",
    "vae_decode",
    "saving_clips",
    *STREAM_STAGES,
)
CUDA_MEMORY = "CUDA memory allocated by torch (torch.cuda.max_memory_allocated), reset per stage"
RSS_PER_STAGE = "process resident-set peak (VmHWM), reset per stage"
RSS_SINCE_START = "process resident-set peak since the process started (it cannot be reset here)"
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """Peak memory of the stage that runs now, in bytes (see the module doc for what it counts)."""

    def __init__(self, device: Any = None) -> None:
        self.cuda = getattr(device, "type", str(device or "cpu")).startswith("cuda")
        self._resettable = True
        self.kind = CUDA_MEMORY if self.cuda else RSS_PER_STAGE
        if not self.cuda:
            self.reset()

    def sync(self) -> None:
        """Wait for the GPU's queued work (so that it is counted in the stage that ran it)."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def reset(self) -> None:
        """Start measuring a new stage."""
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
            return
        if self._resettable:
            try:
                _CLEAR_REFS.write_text("5")
            except OSError:
                self._resettable = False
                self.kind = RSS_SINCE_START

    def peak(self) -> int | None:
        """The peak since the last reset (None where it cannot be read)."""
        if self.cuda:
            import torch

            return int(torch.cuda.max_memory_allocated())
        try:
            found = re.search(r"VmHWM:\s+(\d+)\s+kB", _STATUS.read_text())
        except OSError:
            found = None
        if found:
            return int(found.group(1)) * 1024
        try:
            import resource
        except ImportError:  # Windows
            return None
        self.kind = RSS_SINCE_START
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


def _merge(into: dict[str, Any], record: Mapping[str, Any]) -> None:
    """Add one stage record to another: seconds and steps add up, peaks take the larger."""
    into["seconds"] = into.get("seconds", 0.0) + record.get("seconds", 0.0)
    peaks = [p for p in (into.get("peak_memory_bytes"), record.get("peak_memory_bytes")) if p is not None]
    into["peak_memory_bytes"] = max(peaks) if peaks else None
    if "steps" in record:
        steps = into.get("steps", 0) + record["steps"]
        stepped = into.get("step_seconds_total", 0.0) + record.get("step_seconds_total", 0.0)
        into["steps"], into["step_seconds_total"] = steps, stepped
        into["seconds_per_step"] = stepped / steps if steps else None


class StageRecorder:
    """Seconds and peak memory per stage; a stage met again (the next clip's) adds up."""

    def __init__(self, device: Any = None) -> None:
        self.memory = PeakMemory(device)
        self.stages: dict[str, dict[str, Any]] = {}
        self._current: str | None = None
        self._started = 0.0

    @property
    def current(self) -> str | None:
        """The stage that runs now, if any."""
        return self._current

    def start(self, name: str) -> None:
        """End the stage that runs (if any) and start `name`."""
        self.stop()
        self.memory.reset()
        self._current, self._started = name, time.perf_counter()

    def stop(self) -> None:
        """End the stage that runs (if any)."""
        if self._current is None:
            return
        self.memory.sync()
        self.add(self._current, time.perf_counter() - self._started, self.memory.peak())
        self._current = None

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Measure the block as stage `name`."""
        self.start(name)
        try:
            yield
        finally:
            self.stop()

    def add(self, name: str, seconds: float, peak: int | None = None, **more: Any) -> None:
        """Add a measured stretch to stage `name`."""
        _merge(self.stages.setdefault(name, {}), {"seconds": seconds, "peak_memory_bytes": peak, **more})

    def begin_stream(self, base: str) -> StreamClock:
        """Start measuring a chain of generators (see StreamClock); `end_stream` records it."""
        self.stop()
        self.memory.reset()
        return StreamClock(base)

    def end_stream(self, clock: StreamClock) -> None:
        """Each link's seconds as its own stage, all with the chain's one peak."""
        self.memory.sync()
        peak = self.memory.peak()
        for name, seconds in clock.finish().items():
            self.add(name, seconds, peak)

    def absorb(self, other: StageRecorder) -> None:
        """Add another recorder's stages (a finished clip's) to these; per-step lists stay there."""
        for name, record in other.stages.items():
            _merge(self.stages.setdefault(name, {}), record)

    def peak(self) -> int | None:
        """The largest peak of any stage so far."""
        peaks = [
            r["peak_memory_bytes"] for r in self.stages.values() if r.get("peak_memory_bytes") is not None
        ]
        return max(peaks) if peaks else None

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The stages in render order, JSON-ready (seconds rounded to 0.1 ms)."""
        return {name: _rounded(self.stages[name]) for name in _ordered(self.stages)}


def _ordered(names: Iterable[str]) -> list[str]:
    names = list(names)
    known = [n for n in STAGE_ORDER if n in names]
    return known + [n for n in names if n not in known]


def _rounded(record: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, float):
            out[key] = round(value, 4 if key != "seconds_per_step" else 5)
        elif isinstance(value, list):
            out[key] = [round(v, 5) if isinstance(v, float) else v for v in value]
        else:
            out[key] = value
    return out


def merge_stages(*groups: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stage records of several clips or sessions added up (per-step lists are left out)."""
    merged: dict[str, dict[str, Any]] = {}
    for group in groups:
        for name, record in group.items():
            _merge(merged.setdefault(name, {}), record)
    return {name: _rounded(merged[name]) for name in _ordered(merged)}


class StreamClock:
    """Time of a chain of generators, each second given to the link that spent it: a link's
    `next()` counts for its stage until it asks the link before it for an item; the consumer at
    the end of the chain counts for `base`."""

    def __init__(self, base: str) -> None:
        self._stack = [base]
        self._seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def _switch(self) -> None:
        now = time.perf_counter()
        stage = self._stack[-1]
        self._seconds[stage] = self._seconds.get(stage, 0.0) + now - self._last
        self._last = now

    @contextlib.contextmanager
    def within(self, stage: str) -> Iterator[None]:
        """Count the block for `stage` (e.g. building the interpolator)."""
        self._switch()
        self._stack.append(stage)
        try:
            yield
        finally:
            self._switch()
            self._stack.pop()

    def timed(self, items: Iterable[T], stage: str) -> Iterator[T]:
        """`items`, with the time spent making each counted for `stage`."""
        iterator = iter(items)
        while True:
            with self.within(stage):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item

    def finish(self) -> dict[str, float]:
        """Seconds per stage so far (the base's time up to now included)."""
        self._switch()
        return dict(self._seconds)


class PipelineCallTimer:
    """Splits one diffusers pipeline call into conditioning, denoising steps and VAE decode:
    a forward pre-hook on each transformer marks where a step's work starts, `step_done` (from
    the step callback) where it ends; after the last step the decode begins."""

    def __init__(self, recorder: StageRecorder, transformers: Sequence[Any], steps: int) -> None:
        self.recorder, self.transformers, self.steps = recorder, [t for t in transformers if t], steps
        self.step_seconds: list[float] = []
        self._step_started: float | None = None
        self._handles: list[Any] = []

    def _on_forward(self, _module: Any, _args: Any) -> None:
        if self._step_started is not None:
            return  # the second (unconditional) forward of the step
        if self.recorder.current != "denoising":
            self.recorder.start("denoising")
        else:
            self.recorder.memory.sync()
        self._step_started = time.perf_counter()

    def __enter__(self) -> PipelineCallTimer:
        self.recorder.start("conditioning")
        self._handles = [t.register_forward_pre_hook(self._on_forward) for t in self.transformers]
        return self

    def step_done(self, step: int) -> None:
        """Called by the step callback (step counts from 0)."""
        if self._step_started is not None:
            self.recorder.memory.sync()
            self.step_seconds.append(time.perf_counter() - self._step_started)
            self._step_started = None
        if step + 1 >= self.steps:
            self.recorder.start("vae_decode")

    def __exit__(self, *_exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self.recorder.stop()
        if self.step_seconds:
            stepped = sum(self.step_seconds)
            self.recorder.add("denoising", 0.0, steps=len(self.step_seconds), step_seconds_total=stepped)
            self.recorder.stages["denoising"].setdefault("step_seconds", []).extend(self.step_seconds)


def steady_step_seconds(step_seconds: Sequence[float]) -> float | None:
    """Seconds of one step once warm: the median of the steps after the first (which compiles,
    autotunes and warms caches), or the only step there is."""
    import statistics

    if not step_seconds:
        return None
    later = list(step_seconds[1:]) or list(step_seconds)
    return float(statistics.median(later))
