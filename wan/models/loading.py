"""Loading a Wan pipeline with diffusers: its class, dtype, flow shift, weights format and memory
preset; prompt encoding once per unique prompt, after which the text encoder is released.

A Wan 2.2 A14B pipeline has two experts (`transformer`, `transformer_2`), which diffusers loads
from the folder's model_index.json with the boundary between them; a TI2V pipeline is loaded as
WanPipeline (text-to-video) and continues a clip through a WanImageToVideoPipeline made of the
same components (image_pipeline)."""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Iterable
from typing import Any

from ..config.memory import MemoryPreset
from ..errors import WanError
from .quantization import BF16, Weights, loading_arguments
from .resolve import ModelLocation

PIPELINE_CLASSES = {
    "vace": "WanVACEPipeline",
    "t2v": "WanPipeline",
    "i2v": "WanImageToVideoPipeline",
    "ti2v": "WanPipeline",
}
MAX_SEQUENCE_LENGTH = 512  # UMT5 tokens per prompt, as the Wan pipelines use

PromptPair = tuple[str, str]
SHOWN_REASON_LENGTH = 300


class ModelLoadError(WanError, RuntimeError):
    """A model folder whose files diffusers cannot load (damaged, incomplete or another model)."""


def default_device() -> Any:
    """CUDA when available, else the CPU."""
    import torch

    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def default_dtype(device: Any) -> Any:
    """bfloat16 on CUDA, float32 on the CPU."""
    import torch

    return torch.bfloat16 if device.type == "cuda" else torch.float32


def load_pipeline(
    location: ModelLocation,
    *,
    dtype: Any,
    flow_shift: float,
    text_encoder: bool = True,
    weights: Weights = BF16,
) -> Any:
    """Build the diffusers pipeline from its folder, on the CPU (the VAE in float32, as Wan needs;
    bitsandbytes places its quantized weights on the GPU itself); without its text encoder when
    the prompts are already encoded; the transformer(s) in `weights` (wan.models.quantization)."""
    from .host_compat import prepare_diffusers

    prepare_diffusers()
    import diffusers
    import torch

    cls = getattr(diffusers, PIPELINE_CLASSES[location.spec.kind])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # diffusers renames torch_dtype -> dtype
            vae = diffusers.AutoencoderKLWan.from_pretrained(
                location.path, subfolder="vae", torch_dtype=torch.float32
            )
            skip = {} if text_encoder else {"text_encoder": None}
            quantized = loading_arguments(location.path, weights, dtype, location.spec.experts)
            pipe = cls.from_pretrained(location.path, vae=vae, torch_dtype=dtype, **skip, **quantized)
    except (MemoryError, ImportError, WanError):  # out of memory, a package missing, our own errors
        raise
    except Exception as exc:  # diffusers, transformers and safetensors raise many kinds for bad files
        raise ModelLoadError(_load_failure(location, exc)) from exc
    pipe.scheduler = diffusers.UniPCMultistepScheduler.from_config(
        pipe.scheduler.config, flow_shift=flow_shift
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _load_failure(location: ModelLocation, exc: Exception) -> str:
    """One line: which model folder failed to load, and the first line of why."""
    lines = str(exc).strip().splitlines()
    reason = lines[0].strip() if lines else type(exc).__name__
    if len(reason) > SHOWN_REASON_LENGTH:
        reason = reason[: SHOWN_REASON_LENGTH - 3] + "..."
    return (
        f"cannot load the model in {location.path}: its files are damaged, incomplete or not those of a "
        f"{PIPELINE_CLASSES[location.spec.kind]} ({reason})"
    )


def experts(pipe: Any) -> list[Any]:
    """The pipeline's transformers: one, or a Wan 2.2 A14B's high- and low-noise experts."""
    return [model for model in (pipe.transformer, getattr(pipe, "transformer_2", None)) if model is not None]


def image_pipeline(pipe: Any) -> Any:
    """A WanImageToVideoPipeline made of a TI2V pipeline's components (weights, hooks and
    placement shared): TI2V-5B continues a clip from an image through it, which becomes the
    first latent frame (expand_timesteps)."""
    from diffusers import WanImageToVideoPipeline

    image = WanImageToVideoPipeline(
        tokenizer=pipe.tokenizer,
        text_encoder=pipe.text_encoder,
        vae=pipe.vae,
        scheduler=pipe.scheduler,
        transformer=pipe.transformer,
        transformer_2=getattr(pipe, "transformer_2", None),
        boundary_ratio=pipe.config.boundary_ratio,
        expand_timesteps=True,
    )
    image.set_progress_bar_config(disable=True)
    return image


def encode_prompts(
    pipe: Any, pairs: Iterable[PromptPair], *, device: Any, on_cpu: bool = False
) -> dict[PromptPair, tuple[Any, Any]]:
    """Embed each unique (prompt, negative prompt) once; embeddings are kept on the CPU."""
    import torch

    where = torch.device("cpu") if on_cpu else device
    encoder = pipe.text_encoder
    encoder.to(where)
    embeddings = {}
    with torch.no_grad():
        for pair in dict.fromkeys(pairs):
            positive, negative = pipe.encode_prompt(
                pair[0],
                pair[1],
                do_classifier_free_guidance=True,
                device=where,
                max_sequence_length=MAX_SEQUENCE_LENGTH,
            )
            embeddings[pair] = (positive.cpu(), negative.cpu())
    return embeddings


def load_text_encoder(location: ModelLocation, *, dtype: Any) -> Any:
    """The pipeline's text encoder alone (the class its model_index.json names), on the CPU: new
    prompts for a pipeline that is loaded already need nothing else."""
    import transformers

    try:
        index = json.loads((location.path / "model_index.json").read_text(encoding="utf-8"))
        cls = getattr(transformers, index["text_encoder"][1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return cls.from_pretrained(location.path, subfolder="text_encoder", torch_dtype=dtype)
    except (MemoryError, ImportError, WanError):
        raise
    except Exception as exc:  # a damaged folder: the same one-line error as a whole pipeline's
        raise ModelLoadError(_load_failure(location, exc)) from exc


def encode_with(
    pipe: Any, encoder: Any, pairs: Iterable[PromptPair], *, device: Any, on_cpu: bool = False
) -> dict[PromptPair, tuple[Any, Any]]:
    """encode_prompts with `encoder` lent to `pipe` (whose own was released), released after."""
    pipe.register_modules(text_encoder=encoder)
    try:
        return encode_prompts(pipe, pairs, device=device, on_cpu=on_cpu)
    finally:
        release_text_encoder(pipe)


def release_text_encoder(pipe: Any) -> None:
    """Drop the text encoder from the pipeline and give its memory back."""
    if pipe.text_encoder is not None:
        pipe.text_encoder.to("cpu")
        pipe.register_modules(text_encoder=None)
    free_memory(reset_peak=False)


def apply_memory(pipe: Any, memory: MemoryPreset, device: Any) -> None:
    """Place the pipeline's models according to the preset."""
    import torch

    if memory.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif memory.offload == "group":
        pipe.enable_group_offload(
            onload_device=device,
            offload_device=torch.device("cpu"),
            offload_type=memory.group_offload_type,
            use_stream=memory.use_cuda_streams and device.type == "cuda",
        )
    else:
        pipe.to(device)
    if memory.vae_tiling:
        tile = memory.vae_tile
        pipe.vae.enable_tiling(
            tile_sample_min_height=tile,
            tile_sample_min_width=tile,
            tile_sample_stride_height=tile * 3 // 4,
            tile_sample_stride_width=tile * 3 // 4,
        )


def free_memory(*, reset_peak: bool = True) -> None:
    """Collect garbage and empty the CUDA cache (and its peak statistics, unless told not to)."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        if reset_peak:
            torch.cuda.reset_peak_memory_stats()
