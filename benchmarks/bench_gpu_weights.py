"""GPU check of the quantized weights and the auto placement (benchmarks/GPU_CHECKS.md), on a
real-size Wan 2.2 A14B expert with random weights: nothing is downloaded.

A. One 14B expert (the T2V-A14B architecture, random bf16 weights saved once with save_pretrained)
   loaded in each weights format through the project's loader arguments (bf16, fp8 storage,
   int8_torchao, and the CUDA-only bitsandbytes int8 and nf4): load seconds, GPU memory of the
   weights, seconds of one forward at 81 frames of 832x480, its peak GPU memory, and the largest
   difference of its output from the bf16 forward's (relative to the bf16 output's largest value).
B. A whole render through the engine of a two-expert pipeline of that size (`transformer_2` is the
   same files: the two experts are equal but loaded twice, which is what memory sees), memory and
   weights `auto`, with the GPU capped at --caps GiB (torch's per-process memory fraction; the
   detected size reported as the cap): the placement auto picks, peak memory, seconds per step and
   per clip. This is the 14B under the auto preset's quantized combination on a 12-16 GB card.

The text encoder is a one-layer UMT5 of the real width (4096) with the tiny vocabulary, the VAE
is the real Wan 2.1 architecture with random weights: the video is noise; times and memory are
those of the real transformer and VAE.

--small runs both parts on the CPU with the tiny two-expert model (formats that need CUDA are
listed as skipped): it checks the script; its figures are CPU figures, and the GPU's are written
"not measured".

Run: python benchmarks/bench_gpu_weights.py [--small] [--work DIR] [--formats bf16,fp8,...]
     [--caps 16,12] [--steps 8] [--skip forward,render]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import time
from pathlib import Path

import torch
from common import append_results, command, load_average, machine, versions

from wan.models.architectures import build_random_transformer, transformer_config, transformer_inputs
from wan.models.quantization import (
    QuantizationUnavailable,
    Weights,
    check_weights,
    loading_arguments,
    store_fp8,
)

GIB = 1024**3
FORMATS = ("bf16", "fp8", "int8_torchao", "int8", "nf4")


def _gpu_gb(device: torch.device, peak: bool = False) -> float | None:
    if device.type != "cuda":
        return None
    value = torch.cuda.max_memory_allocated(device) if peak else torch.cuda.memory_allocated(device)
    return value / GIB


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def build_pipeline_folder(folder: Path, small: bool) -> Path:
    """The two-expert pipeline folder (built once): see the module doc."""
    if (folder / "model_index.json").is_file():
        return folder
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    from wan.models.tiny import build_tiny_pipeline, tiny_tokenizer

    if small:
        build_tiny_pipeline("t2v", experts=2).save_pretrained(folder)
        return folder
    config = transformer_config("t2v-a14b")
    print("building a random 14B expert in bf16 (a few minutes)", flush=True)
    transformer = build_random_transformer(config, device="cpu", dtype=torch.bfloat16)
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
        "scheduler": UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=12.0
        ),
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


def forward_rows(folder: Path, formats: list[str], device: torch.device, small: bool) -> list[str]:
    """Part A: one expert in each format (see the module doc)."""
    from diffusers import WanTransformer3DModel

    dtype = torch.float32 if small else torch.bfloat16
    frames, height, width = (17, 64, 64) if small else (81, 480, 832)
    config = dict(WanTransformer3DModel.load_config(folder, subfolder="transformer"))
    inputs = transformer_inputs(config, frames=frames, height=height, width=width, device=device, dtype=dtype)
    rows, reference = [], None
    for format in formats:
        weights = Weights(format)
        try:
            check_weights(weights, device.type)
        except QuantizationUnavailable as exc:
            rows.append(f"| {format} | skipped: {exc} | | | | |")
            continue
        _free(device)
        started = time.perf_counter()
        extra = loading_arguments(folder, weights, dtype).get("quantization_config")
        arguments = {"quantization_config": extra.quant_mapping["transformer"]} if extra is not None else {}
        model = WanTransformer3DModel.from_pretrained(
            folder, subfolder="transformer", torch_dtype=dtype, **arguments
        )
        if format == "fp8":
            store_fp8([model], dtype)
        if format not in ("int8", "nf4"):  # bitsandbytes placed its weights on the GPU itself
            model.to(device)
        loaded = time.perf_counter() - started
        resident = _gpu_gb(device)
        with torch.no_grad():
            model(**inputs)  # warm-up
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
            output = model(**inputs)[0].float()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        seconds = time.perf_counter() - started
        if format == "bf16":
            reference = output
        difference = (
            (output - reference).abs().max().item() / reference.abs().max().item()
            if reference is not None
            else None
        )
        peak = _gpu_gb(device, peak=True)
        shown = lambda value: f"{value:.2f}" if value is not None else "n/a on the CPU"  # noqa: E731
        rows.append(
            f"| {format} | {loaded:.1f} | {shown(resident)} | {seconds:.3f} | {shown(peak)} | "
            + (f"{difference:.1e}" if difference is not None else "no bf16 reference")
            + " |"
        )
        del model, output
    return rows


def render_rows(folder: Path, caps: list[float], steps: int, device: torch.device, small: bool) -> list[str]:
    """Part B: renders with memory and weights auto under each cap (see the module doc)."""
    from wan.config import config_from_dict
    from wan.models import memory
    from wan.plan import create_plan
    from wan.render import RenderOptions, render

    models = folder.parent
    size = {"W": 64, "H": 64, "max_frames": 17} if small else {"W": 832, "H": 480, "max_frames": 81}
    settings = {"model": "t2v-a14b" if not small else "tiny-t2v-2experts", "steps": steps, "seed": 1, **size}
    rows = []
    total = torch.cuda.get_device_properties(device).total_memory / GIB if device.type == "cuda" else None
    for cap in caps if device.type == "cuda" else [None]:
        _free(device)
        if cap is not None:
            torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total), device)
            memory.detect_vram_gb = lambda cap=cap: cap  # what auto sees: the capped card
        config = config_from_dict(settings | {"fps": 16})[0]
        plan = create_plan(config)
        options = RenderOptions.of(config, models_dir=str(models), device=str(device), preview_every=0)
        started = time.perf_counter()
        result = render(plan, folder.parent / f"run-{cap}-{time.time():.0f}", options=options)
        seconds = time.perf_counter() - started
        clip = result.metrics["clips"][0]
        peak = clip["peak_memory_bytes"] / GIB if device.type == "cuda" else None
        rows.append(
            f"| {cap if cap is not None else 'none (CPU)'} | {result.metrics['placement']} | "
            f"{clip['memory_preset']} | {clip['weights']} | {clip['seconds'] / plan.steps:.2f} | "
            f"{clip['seconds']:.1f} | {seconds:.1f} | "
            + (f"{peak:.2f}" if peak is not None else "n/a")
            + " |"
        )
    return rows


def main() -> None:
    """Run the parts and append them to benchmarks/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the tiny two-expert model on the CPU")
    parser.add_argument(
        "--work", default=os.environ.get("WAN_BENCH_WORK", "bench-work"), help="where the model goes"
    )
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--caps", default="16,12", help="GPU memory caps in GiB for part B")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--skip", default="", help="forward, render")
    args = parser.parse_args()
    device = torch.device("cpu" if args.small or not torch.cuda.is_available() else "cuda")
    small = args.small or device.type == "cpu"
    name = "tiny-t2v-2experts" if small else "t2v-a14b"
    folder = build_pipeline_folder(Path(args.work) / name, small)
    skip = set(filter(None, args.skip.split(",")))
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    lines = [
        f"- machine: {machine(gpu)}",
        f"- versions: {versions('torch', 'diffusers', 'transformers', 'torchao', 'bitsandbytes', 'gguf')}",
        f"- command: `{command()}`",
        f"- 1-minute CPU load average at the start: {load_average()}",
    ]
    if "forward" not in skip:
        size = "17 frames at 64x64, float32" if small else "81 frames at 832x480, bf16 compute"
        lines += [
            "",
            f"A. One expert ({name}'s transformer, random weights), one forward of {size}:",
            "",
            "| weights | load s | weights GiB | forward s | peak GiB | max difference from bf16 |",
            "|---|---|---|---|---|---|",
            *forward_rows(folder, args.formats.split(","), device, small),
        ]
    if "render" not in skip:
        caps = [float(c) for c in args.caps.split(",") if c]
        lines += [
            "",
            f"B. One clip through the engine, memory and weights auto, {args.steps} steps, GPU capped:",
            "",
            "| cap GiB | auto picked | preset | weights | s/step | clip s | render s | peak GiB |",
            "|---|---|---|---|---|---|---|---|",
            *render_rows(folder, caps, args.steps, device, small),
        ]
    if device.type != "cuda":
        lines.append("- GPU: not measured (no GPU was lent to this run; the figures above are the CPU's)")
    title = "GPU check of quantized weights and the auto placement"
    title += " (--small on the CPU)" if small else f" on {gpu}"
    append_results([f"## {title} — {datetime.date.today().isoformat()}", "", *lines, ""])


if __name__ == "__main__":
    main()
