"""Tiny random models for the quality tests, built with the real classes and saved to a folder:
a CLIP model (transformers CLIPModel + tokenizer + image processor), a LAION-style aesthetic
head, and a spandrel upscaler (ESRGAN's RRDBNet) as a state dict."""

from __future__ import annotations

import json
import string
from pathlib import Path

CLIP_EMBEDDING = 16


def build_tiny_clip(folder: Path, *, seed: int = 0) -> Path:
    """A random CLIPModel (text: 2 layers, 24 positions; vision: 2 layers, 32 px) with a
    character-level BPE tokenizer and a CLIP image processor, saved with save_pretrained."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in string.ascii_lowercase + string.digits + ",.-'":
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), pad_token="<|endoftext|>"
    )
    tokenizer.save_pretrained(folder)
    config = CLIPConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 24,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=CLIP_EMBEDDING,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        folder
    )
    return folder


def write_aesthetic_head(
    path: Path, *, inputs: int = CLIP_EMBEDDING, mlp: bool = False, seed: int = 0
) -> Path:
    """A LAION-style aesthetic head state dict: one Linear (v1) or the v2 MLP's Linear layers
    (`layers.0`, `layers.2`, ... with Dropout between), saved with torch.save."""
    import torch

    torch.manual_seed(seed)
    if mlp:
        module = torch.nn.Sequential(
            torch.nn.Linear(inputs, 8), torch.nn.Dropout(0.2), torch.nn.Linear(8, 4), torch.nn.Linear(4, 1)
        )
        state = {f"layers.{key}": value for key, value in module.state_dict().items()}
    else:
        state = torch.nn.Linear(inputs, 1).state_dict()
    torch.save(state, path)
    return path


def import_spandrel():
    """spandrel, importable on this CPU-only test machine: spandrel imports torchvision for two
    architectures we never use here (LaMa inpainting, RestoreFormer faces), and the only
    torchvision wheels for torch 2.13 available offline are CUDA builds that fail to import without
    CUDA libraries. When torchvision cannot be imported, a stand-in module with the two names those
    architectures import is registered while spandrel is imported, and removed after (calling them
    raises); the upscalers tested use none of it.
    On a machine with a working torchvision (the WebUI hosts, CUDA runtimes) nothing is replaced."""
    import enum
    import importlib
    import sys
    import types

    try:
        import torchvision.transforms.functional  # noqa: F401
    except Exception:  # ImportError, or the CUDA build's RuntimeError on a CPU-only torch
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]

        def unavailable(*_args, **_kwargs):
            raise RuntimeError("torchvision is not installed on this test machine")

        functional = types.ModuleType("torchvision.transforms.functional")
        functional.InterpolationMode = enum.Enum("InterpolationMode", "NEAREST BILINEAR BICUBIC")
        functional.rotate = functional.normalize = unavailable
        transforms = types.ModuleType("torchvision.transforms")
        transforms.functional = functional
        package = types.ModuleType("torchvision")
        package.transforms = transforms
        stand_ins = {
            "torchvision": package,
            "torchvision.transforms": transforms,
            "torchvision.transforms.functional": functional,
        }
        sys.modules.update(stand_ins)
        try:
            return importlib.import_module("spandrel")
        finally:  # only spandrel's import sees them: transformers must still find no torchvision
            for name in stand_ins:
                del sys.modules[name]
    return importlib.import_module("spandrel")


def write_tiny_upscaler(path: Path, *, scale: int = 2, kind: str = "compact", seed: int = 0) -> Path:
    """A random-weight spandrel architecture saved as a state dict: Real-ESRGAN's compact
    SRVGGNet (kind "compact": 8 features, 2 convolutions) or ESRGAN's RRDBNet (kind "esrgan": 8
    features, 1 block); .safetensors or .pth by the path's suffix."""
    import torch

    import_spandrel()
    torch.manual_seed(seed)
    if kind == "compact":
        from spandrel.architectures.Compact import Compact

        model = Compact(num_feat=8, num_conv=2, upscale=scale)
    else:
        from spandrel.architectures.ESRGAN import ESRGAN

        model = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=scale)
    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path
