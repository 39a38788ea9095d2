"""Which GPUs a server's workers use: the `--gpus` value (all, a count, or indices), checked
against the GPUs the runtime sees, without importing torch here.

The front process never imports torch, so it asks a one-off process of the runtime environment
(`python -m wan models --system --json`) what it sees, once, and keeps the answer.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from ..errors import WanError
from ..runtime import RuntimeEnv

PROBE_SECONDS = 120.0
VISIBLE_VARIABLE = "CUDA_VISIBLE_DEVICES"
ALLOWED = "all, a number of GPUs (2), or GPU indices separated by commas (0,2)"


class GpuSelectionError(WanError, ValueError):
    """A --gpus value that is malformed or names GPUs this machine does not have."""


@dataclass(frozen=True)
class GpuRequest:
    """A parsed --gpus value: every GPU, the first `count`, or these indices."""

    every: bool = False
    count: int | None = None
    indices: tuple[int, ...] = ()

    def __str__(self) -> str:
        if self.every:
            return "all"
        return str(self.count) if self.count is not None else ",".join(map(str, self.indices))


def parse_gpus(value: str, option: str = "--gpus") -> GpuRequest:
    """A --gpus value as written (GpuSelectionError names the option and what is allowed)."""
    text = str(value).strip().lower()
    shown = repr(str(value)[:40])
    if text == "all":
        return GpuRequest(every=True)
    parts = [part.strip() for part in text.split(",")]
    if not text or not all(re.fullmatch(r"[0-9]{1,4}", part) for part in parts):
        raise GpuSelectionError(f"{option}: {shown} is not {ALLOWED}")
    numbers = [int(part) for part in parts]
    if "," not in text:
        if numbers[0] < 1:
            raise GpuSelectionError(f"{option}: {shown} must be at least 1 GPU; allowed: {ALLOWED}")
        return GpuRequest(count=numbers[0])
    if len(set(numbers)) != len(numbers):
        raise GpuSelectionError(f"{option}: {shown} names a GPU twice; allowed: {ALLOWED}")
    return GpuRequest(indices=tuple(numbers))


def select_gpus(request: GpuRequest, gpus: list[dict[str, Any]], option: str = "--gpus") -> list[int]:
    """The machine indices of the GPUs a request picks among `gpus` (as probe_gpus reports them);
    GpuSelectionError when there are none or a named one does not exist."""
    present = [int(gpu.get("physical_index", gpu["index"])) for gpu in gpus]
    if not present:
        raise GpuSelectionError(
            f"{option} {request}: no GPU was found (torch sees no CUDA device in the workers' environment); "
            "leave it out to render on the CPU, or use --workers N for several CPU workers"
        )
    where = f"this machine has {len(present)} GPU(s): {', '.join(map(str, present))}"
    if request.every:
        return present
    if request.count is not None:
        if request.count > len(present):
            raise GpuSelectionError(f"{option} {request}: {where}; ask for at most {len(present)}")
        return present[: request.count]
    missing = [index for index in request.indices if index not in present]
    if missing:
        raise GpuSelectionError(
            f"{option} {request}: there is no GPU {', '.join(map(str, missing))}; {where}"
        )
    return list(request.indices)


def probe_in_runtime(runtime: RuntimeEnv, timeout: float = PROBE_SECONDS) -> list[dict[str, Any]]:
    """The GPUs a process of the runtime environment sees ([] when it sees none); WanError
    when that process cannot run."""
    command = runtime.command("models", "--system", "--json")
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=runtime.worker_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WanError(f"looking for GPUs took longer than {timeout:g} s ({' '.join(command)})") from None
    except OSError as exc:
        raise WanError(f"looking for GPUs failed: {exc}") from None
    try:
        return list(json.loads(done.stdout.decode("utf-8"))["gpus"])
    except (ValueError, KeyError, TypeError):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise WanError(f"looking for GPUs failed (exit code {done.returncode}): {tail[0]}") from None


def unique_gpus(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GPUs as several workers report them, each once (by the machine's index), in index order."""
    seen: dict[Any, dict[str, Any]] = {}
    for gpu in reports:
        seen.setdefault(gpu.get("physical_index", gpu.get("index")), gpu)
    return [seen[key] for key in sorted(seen, key=lambda key: (isinstance(key, str), key))]


def choose_gpus(
    value: str | None, runtime: RuntimeEnv, option: str = "--gpus"
) -> tuple[list[int], list[dict[str, Any]] | None]:
    """(the GPU indices a --gpus value picks, the GPUs the runtime sees); ([], None) without a
    value. GpuSelectionError for a bad value or GPUs that are not there."""
    if value is None or not str(value).strip():
        return [], None
    request = parse_gpus(value, option)
    seen = probe_in_runtime(runtime)
    return select_gpus(request, seen, option), seen
