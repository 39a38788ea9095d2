"""Quantized transformer weights measured on random weights at the real width (nothing is
downloaded): each weights format loaded through the project's own loading code
(wan.models.quantization) from a saved folder, its GPU memory, one forward and its difference from
bf16; a GGUF file written in the published files' layout and loaded as a user's would be; and
whole renders with `memory_preset` and `weights` auto under a capped GPU (the placement auto picks).

A transformer may be sliced to its first blocks (build.sliced_config): every block has the real
width, so the per-block time and memory are the real model's at a fraction of the loading time;
the rows then give the whole expert's figures extrapolated (time by blocks, memory by parameters)
and say so.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog.models import WEIGHT_BYTES
from ..models.architectures import build_random_transformer
from ..models.loading import free_memory
from ..models.quantization import (
    QuantizationUnavailable,
    Weights,
    check_weights,
    load_gguf_experts,
    loading_arguments,
    store_fp8,
)
from .build import config_parameters
from .gpu import GIB, Scale, first_error_line, forward_inputs, forward_of, relative_difference
from .timing import timed

FORMATS = ("bf16", "fp8", "int8_torchao", "int8", "nf4")
BITSANDBYTES_PLACES_ITSELF = ("int8", "nf4")  # bitsandbytes puts its weights on the GPU as it loads
WEIGHTS_HEADER = [
    "| weights | load s | weights GiB | whole expert GiB (estimate of wan.models.memory) | forward s | "
    "whole expert forward s | peak GiB | difference from bf16 |",
    "|---|---|---|---|---|---|---|---|",
]


@dataclass(frozen=True)
class SavedTransformer:
    """A random transformer saved as a pipeline folder's `transformer` subfolder, and how much of
    its model it is."""

    folder: Path
    config: dict[str, Any]
    model: str  # the model it stands for (a registry id, or the tiny stand-in)
    full_config: dict[str, Any]

    @property
    def blocks(self) -> int:
        """Blocks it has."""
        return int(self.config["num_layers"])

    @property
    def full_blocks(self) -> int:
        """Blocks the whole model has."""
        return int(self.full_config["num_layers"])

    def description(self) -> str:
        """What it is, for a record's lines."""
        if self.blocks == self.full_blocks:
            return f"{self.model}'s transformer ({self.full_blocks} blocks, random weights)"
        return (
            f"{self.blocks} of the {self.full_blocks} blocks of {self.model}'s transformer (random weights "
            f"at the real width; whole-expert figures extrapolated: time x {self.full_blocks}/{self.blocks} "
            "blocks, memory by parameters)"
        )


def save_random_transformer(
    scale: Scale, model: str, folder: Path, *, blocks: int | None = None
) -> SavedTransformer:
    """Build `model`'s transformer with random weights (its first `blocks` blocks when given) on
    the scale's device and save it to `folder`/transformer (kept when already there)."""
    config = scale.config(model, blocks=blocks)
    saved = SavedTransformer(folder, config, scale.model(model), scale.config(model))
    if (folder / "transformer" / "config.json").is_file():
        return saved
    transformer = build_random_transformer(config, device=scale.device, dtype=scale.dtype)
    transformer.save_pretrained(folder / "transformer", max_shard_size="10GB")
    del transformer
    free_memory()
    return saved


def load_transformer(saved: SavedTransformer, weights: Weights, scale: Scale) -> Any:
    """The saved transformer in `weights` on the scale's device, through the project's loading
    code: quantized while it loads (bitsandbytes, torchao), from its GGUF file, or fp8 storage."""
    from diffusers import WanTransformer3DModel

    if weights.format == "gguf":
        model = load_gguf_experts(saved.folder, weights, scale.dtype)["transformer"]
        return model.to(scale.device)
    quantization = loading_arguments(saved.folder, weights, scale.dtype).get("quantization_config")
    arguments = {"quantization_config": quantization.quant_mapping["transformer"]} if quantization else {}
    model = WanTransformer3DModel.from_pretrained(
        saved.folder, subfolder="transformer", torch_dtype=scale.dtype, **arguments
    )
    if weights.format == "fp8":
        store_fp8([model], scale.dtype)
    if weights.format not in BITSANDBYTES_PLACES_ITSELF:
        model.to(scale.device)
    return model.eval()


def _allocated_gib(scale: Scale) -> float | None:
    import torch

    return torch.cuda.memory_allocated(scale.device) / GIB if scale.device.type == "cuda" else None


def _peak_gib(scale: Scale) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(scale.device) / GIB if scale.device.type == "cuda" else None


def _shown(value: float | None, digits: str = ".2f") -> str:
    return "n/a on the CPU" if value is None else format(value, digits)


def weights_rows(
    scale: Scale, saved: SavedTransformer, formats: Sequence[Weights], *, repeats: int = 2
) -> list[str]:
    """Rows of WEIGHTS_HEADER, one per format (bf16 first: the others' reference); a format this
    machine cannot run is a row saying why, one that fails a row with its error."""
    inputs = forward_inputs(scale, saved.config)
    parameters, full_parameters = config_parameters(saved.config), config_parameters(saved.full_config)
    rows, reference = [], None
    for weights in formats:
        label = weights.format
        try:
            check_weights(weights, scale.device.type)
        except QuantizationUnavailable as error:
            rows.append(f"| {label} | not run: {error} | | | | | | |")
            continue
        free_memory()
        before = _allocated_gib(scale)
        try:
            started = time.perf_counter()
            model = load_transformer(saved, weights, scale)
            scale.sync()
            loaded = time.perf_counter() - started
            resident = None if before is None else (_allocated_gib(scale) or 0.0) - before
            forward = forward_of(model, inputs)
            output = forward()  # warm-up
            seconds = statistics.median(timed(forward, repeats, scale.sync))
        except Exception as error:  # a format that fails here is a row: the point is to see it
            rows.append(f"| {label} | fails: {type(error).__name__}: {first_error_line(error)} | | | | | | |")
            gc.collect()
            continue
        reference = output if reference is None else reference
        whole = None if resident is None else resident * full_parameters / parameters
        estimate = full_parameters * WEIGHT_BYTES["gguf_q8_0" if label == "gguf" else label] / GIB
        expert_seconds = seconds * saved.full_blocks / saved.blocks
        rows.append(
            f"| {label} | {loaded:.1f} | {_shown(resident)} | {_shown(whole, '.1f')} ({estimate:.3g}) | "
            f"{seconds:.3g} | {expert_seconds:.3g} | {_shown(_peak_gib(scale))} | "
            f"{relative_difference(output, reference):.1e} |"
        )
        del model, output, forward
        free_memory()
    return rows


def write_gguf_file(saved: SavedTransformer, path: Path, quantization: str = "Q8_0") -> dict[str, int]:
    """The saved transformer written as a GGUF file in the published files' layout (kept when
    already there); how many tensors went in each GGUF type."""
    from diffusers import WanTransformer3DModel

    from ..models.gguf_files import write_gguf

    if path.is_file():
        return {}
    model = WanTransformer3DModel.from_pretrained(saved.folder, subfolder="transformer")
    counts = write_gguf(model, path, quantization=quantization)
    del model
    gc.collect()
    return counts


# -- whole renders under a capped GPU --------------------------------------------------------------

AUTO_HEADER = [
    "| cap GiB | auto picked | preset | weights | s/step | clip s | render s | peak GiB |",
    "|---|---|---|---|---|---|---|---|",
]


def build_pipeline_folder(folder: Path, small: bool) -> Path:
    """A two-expert T2V pipeline folder (built once): the real A14B expert with random bf16
    weights (`transformer_2` is a link to the same files: the experts are equal but loaded twice,
    which is what memory sees), a one-layer UMT5 of the real width with the tiny vocabulary, the
    real Wan 2.1 VAE with random weights; with `small`, the tiny two-expert pipeline."""
    if (folder / "model_index.json").is_file():
        return folder
    import torch
    from diffusers import AutoencoderKLWan, WanPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    from ..models.architectures import transformer_config
    from ..models.tiny import build_tiny_pipeline, tiny_tokenizer
    from .build import flow_scheduler

    if small:
        build_tiny_pipeline("t2v", experts=2).save_pretrained(folder)
        return folder
    transformer = build_random_transformer(transformer_config("t2v-a14b"), device="cpu", dtype=torch.bfloat16)
    transformer.save_pretrained(folder / "transformer", max_shard_size="10GB")
    del transformer
    gc.collect()
    tokenizer = tiny_tokenizer()
    encoder = UMT5EncoderModel(
        UMT5Config(vocab_size=len(tokenizer), d_model=4096, d_kv=64, d_ff=256, num_layers=1, num_heads=8)
    )
    parts = {
        "tokenizer": tokenizer,
        "text_encoder": encoder.to(torch.bfloat16),
        "vae": AutoencoderKLWan(),
        "scheduler": flow_scheduler(12.0),
    }
    staging = folder.with_name(folder.name + ".parts")
    WanPipeline(transformer=None, boundary_ratio=0.875, **parts).save_pretrained(staging)
    for item in staging.iterdir():
        item.rename(folder / item.name)
    staging.rmdir()
    index = json.loads((folder / "model_index.json").read_text())
    index["transformer"] = index["transformer_2"] = ["diffusers", "WanTransformer3DModel"]
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    (folder / "transformer_2").symlink_to("transformer", target_is_directory=True)
    return folder


def auto_placement_rows(
    folder: Path, caps: Sequence[float], steps: int, device: Any, small: bool
) -> list[str]:
    """Rows of AUTO_HEADER: one clip through the engine per GPU cap (GiB; torch's per-process
    memory fraction, and the detected size auto sees), memory and weights auto."""
    import torch

    from ..config import config_from_dict
    from ..models import memory
    from ..plan import create_plan
    from ..render import RenderOptions, render

    device = torch.device(device)
    size = {"W": 64, "H": 64, "max_frames": 17} if small else {"W": 832, "H": 480, "max_frames": 81}
    settings = {"model": "tiny-t2v-2experts" if small else "t2v-a14b", "steps": steps, "seed": 1, **size}
    cuda = device.type == "cuda"
    total = torch.cuda.get_device_properties(device).total_memory / GIB if cuda else None
    rows = []
    for cap in caps if cuda else [None]:
        free_memory()
        if cap is not None and total is not None:
            torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total), device)
            memory.detect_vram_gb = lambda cap=cap: cap  # what auto sees: the capped card
        config = config_from_dict(settings | {"fps": 16})[0]
        plan = create_plan(config)
        options = RenderOptions.of(config, models_dir=str(folder.parent), device=str(device), preview_every=0)
        started = time.perf_counter()
        result = render(plan, folder.parent / f"run-{cap}-{time.time():.0f}", options=options)
        seconds = time.perf_counter() - started
        clip = result.metrics["clips"][0]
        peak = clip["peak_memory_bytes"] / GIB if cuda else None
        rows.append(
            f"| {cap if cap is not None else 'none (CPU)'} | {result.metrics['placement']} | "
            f"{clip['memory_preset']} | {clip['weights']} | {clip['seconds'] / plan.steps:.2f} | "
            f"{clip['seconds']:.1f} | {seconds:.1f} | {_shown(peak)} |"
        )
    return rows
