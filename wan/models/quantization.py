"""Quantized transformer weights through diffusers' own loaders (the `weights` settings,
wan.config.weights):

- gguf: each expert's `.gguf` file with `from_single_file(path, config=<the model folder>,
  subfolder="transformer" | "transformer_2", quantization_config=GGUFQuantizationConfig(...))`:
  the model folder's config gives the architecture (Wan 2.2 and TI2V need theirs: the file alone
  would be taken for a Wan 2.1 model), the weights stay quantized and are dequantized layer by
  layer in the compute dtype;
- int8 / nf4: bitsandbytes through `PipelineQuantizationConfig(quant_mapping=...)` on the
  transformer(s) while `from_pretrained` loads them (diffusers runs bitsandbytes on CUDA only);
- int8_torchao: `quant_mapping` with `TorchAoConfig(Int8WeightOnlyConfig())` (with transformers
  5 only this form works: the backend-name form compares the two libraries' config signatures);
- fp8: float8 storage with diffusers' layerwise casting, applied after loading (store_fp8).

A format this machine cannot run is a QuantizationUnavailable that says why, before any weights
are read.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.weights import BITSANDBYTES_WEIGHTS
from ..errors import WanError

EXPERT_FOLDERS = ("transformer", "transformer_2")


class QuantizationUnavailable(WanError, RuntimeError):
    """A weights format that cannot run on this device or with these packages (names the setting)."""


@dataclass(frozen=True)
class Weights:
    """A resolved weights choice: the format (never auto) and, for gguf, a file per expert."""

    format: str = "bf16"
    files: tuple[str, ...] = ()

    @property
    def quantized(self) -> bool:
        """Whether the transformer weights are stored in fewer bits than they compute in."""
        return self.format != "bf16"


BF16 = Weights()


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def check_weights(weights: Weights, device_type: str) -> None:
    """QuantizationUnavailable when `weights` cannot run on a device of `device_type` here."""
    problem = None
    if weights.format in BITSANDBYTES_WEIGHTS:
        if device_type != "cuda":
            problem = (
                f"{weights.format} (bitsandbytes) runs on CUDA GPUs only; on {device_type} use int8_torchao"
            )
        elif not _installed("bitsandbytes"):
            problem = f"{weights.format} needs the bitsandbytes package: pip install bitsandbytes"
    elif weights.format == "int8_torchao" and not _installed("torchao"):
        problem = "int8_torchao needs the torchao package: pip install torchao"
    elif weights.format == "gguf":
        if not _installed("gguf"):
            problem = "gguf needs the gguf package: pip install gguf"
        for path in weights.files:
            if not Path(path).is_file():
                problem = f"no such GGUF file: {path}"
    if problem is not None:
        raise QuantizationUnavailable(f"weights: {problem}")


def _bitsandbytes_config(format: str, dtype: Any) -> Any:
    from diffusers import BitsAndBytesConfig

    if format == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=True,
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def _torchao_config() -> Any:
    from diffusers import TorchAoConfig
    from torchao.quantization import Int8WeightOnlyConfig

    return TorchAoConfig(Int8WeightOnlyConfig())


def pipeline_quantization(weights: Weights, dtype: Any, experts: int = 1) -> Any | None:
    """The PipelineQuantizationConfig that quantizes the `experts` transformer(s) while they load,
    or None."""
    if weights.format in BITSANDBYTES_WEIGHTS:
        make = functools.partial(_bitsandbytes_config, weights.format, dtype)
    elif weights.format == "int8_torchao":
        make = _torchao_config
    else:
        return None
    from diffusers import PipelineQuantizationConfig

    return PipelineQuantizationConfig(quant_mapping={name: make() for name in EXPERT_FOLDERS[:experts]})


def transformer_class_of(folder: Path, subfolder: str) -> Any:
    """The diffusers class a pipeline folder's transformer subfolder holds."""
    import diffusers

    config = json.loads((folder / subfolder / "config.json").read_text(encoding="utf-8"))
    return getattr(diffusers, config.get("_class_name", "WanTransformer3DModel"))


def load_gguf_experts(folder: Path, weights: Weights, dtype: Any) -> dict[str, Any]:
    """Each expert of the pipeline in `folder` from its GGUF file, as from_pretrained keywords."""
    from diffusers import GGUFQuantizationConfig

    experts = {}
    for subfolder, path in zip(EXPERT_FOLDERS, weights.files, strict=False):
        cls = transformer_class_of(folder, subfolder)
        experts[subfolder] = cls.from_single_file(
            path,
            config=str(folder),
            subfolder=subfolder,
            quantization_config=GGUFQuantizationConfig(compute_dtype=dtype),
            torch_dtype=dtype,
            local_files_only=True,
        )
    return experts


def loading_arguments(folder: Path, weights: Weights, dtype: Any, experts: int = 1) -> dict[str, Any]:
    """What `from_pretrained` of the pipeline in `folder` (with `experts` transformers) takes to
    load the transformers in `weights`: a quantization config, or the GGUF experts themselves."""
    if weights.format == "gguf":
        return load_gguf_experts(folder, weights, dtype)
    quantization = pipeline_quantization(weights, dtype, experts)
    return {"quantization_config": quantization} if quantization is not None else {}


def store_fp8(transformers: list[Any], dtype: Any) -> None:
    """fp8 storage: each transformer's weights in float8_e4m3fn, cast to `dtype` layer by layer."""
    import torch

    for transformer in transformers:
        transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
