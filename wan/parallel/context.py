"""Context parallelism of one transformer through diffusers (`ContextParallelConfig`,
`enable_parallelism`): how the sequence is split across a group and which attention kernel runs
split attention.

- Ulysses (an all-to-all that gives each process whole sequences of some heads) when the process
  count divides the model's attention heads (12 for the 1.3B models, 40 for 14B); its
  `ulysses_anything` variant when the token count does not divide.
- Ring attention (each process keeps its queries and sees every key/value chunk in turn)
  otherwise; `ring_anything` when the token count does not divide. Ring attention merges partial
  results by their log-sum-exp, which only diffusers' CUDA kernels return (PyTorch's flash and
  cuDNN SDPA, flash-attn, sage); its `native` backend raises "Native attention does not support
  return_lse=True". So on the CPU only Ulysses runs.

diffusers 0.42's `enable_parallelism` picks the device as `rank % torch.accelerator.device_count()`,
a division by zero without an accelerator; on the CPU (gloo, the tests) the same steps are done
here: the mesh, `ParallelConfig.setup`, the attention processors, `apply_context_parallel`.
"""

from __future__ import annotations

from typing import Any

from ..errors import WanError
from .plans import cp_plan_of

# diffusers' backends whose forward returns the log-sum-exp ring attention needs (CUDA only)
RING_BACKEND = "_native_flash"
ULYSSES_BACKEND = "native"


class ParallelUnavailable(WanError, RuntimeError):
    """A split this model or machine cannot run."""


def check_parallel_speed(cache: str) -> None:
    """A step cache decides per process whether to skip a block; split over processes those
    decisions could differ and the group would wait forever: refused."""
    if cache != "none":
        raise ParallelUnavailable(
            f"--gpus: the {cache} step cache cannot run split over several processes; set speed_cache to none"
        )


def context_split(heads: int, tokens: int, degree: int, *, ring_available: bool) -> dict[str, Any]:
    """The ContextParallelConfig arguments for `degree` processes ({} for one)."""
    if degree <= 1:
        return {}
    if heads % degree == 0:
        return {"ulysses_degree": degree, "ulysses_anything": tokens % degree != 0}
    if ring_available:
        return {"ring_degree": degree, "ring_anything": tokens % degree != 0}
    raise ParallelUnavailable(
        f"--gpus {degree}: the model's {heads} attention heads do not divide by {degree} (Ulysses), and ring "
        "attention needs a CUDA attention kernel; use a process count that divides the heads"
    )


def _backend_name(transformer: Any) -> str | None:
    for module in transformer.modules():
        processor = getattr(module, "processor", None)
        if processor is not None and hasattr(processor, "_attention_backend"):
            backend = processor._attention_backend
            return getattr(backend, "value", backend)
    return None


def choose_backend(transformer: Any, split: dict[str, Any]) -> str | None:
    """The attention backend the split needs when the transformer's own cannot run it (else None)."""
    from diffusers.models.attention_dispatch import AttentionBackendName, _AttentionBackendRegistry

    current = _backend_name(transformer)
    if current is None:
        current = _AttentionBackendRegistry.get_active_backend()[0].value
    if split.get("ring_degree", 1) > 1:
        return None if current in ("_native_flash", "_native_cudnn", "flash", "flash_hub") else RING_BACKEND
    available = _AttentionBackendRegistry._is_context_parallel_available(AttentionBackendName(current))
    return None if available else ULYSSES_BACKEND


def enable_context_parallel(transformer: Any, split: dict[str, Any], mesh: Any) -> None:
    """Split `transformer`'s sequence over `mesh` (dims "ring" and "ulysses") as `split` says."""
    import torch
    from diffusers import ContextParallelConfig

    backend = choose_backend(transformer, split)
    if backend is not None:
        transformer.set_attention_backend(backend)
    config = ContextParallelConfig(**split, mesh=mesh)
    plan = cp_plan_of(transformer)
    if torch.accelerator.device_count() > 0:
        transformer.enable_parallelism(config=config, cp_plan=plan)
        return
    _enable_without_accelerator(transformer, config, plan)


def _enable_without_accelerator(transformer: Any, config: Any, plan: dict[str, Any]) -> None:
    """enable_parallelism's steps for context parallelism with the CPU as the device."""
    import torch
    from diffusers.hooks.context_parallel import apply_context_parallel
    from diffusers.models._modeling_parallel import ParallelConfig

    parallel = ParallelConfig(context_parallel_config=config)
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    parallel.setup(rank, world, torch.device("cpu"), mesh=config.mesh)
    transformer._parallel_config = parallel
    for module in transformer.modules():
        processor = getattr(module, "processor", None)
        if processor is not None and hasattr(processor, "_parallel_config"):
            processor._parallel_config = parallel
    apply_context_parallel(transformer, config, plan)
