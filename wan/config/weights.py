"""How the video model's transformer weights are stored (the `weights` settings).

| weights      | what                                                              | bytes/param |
|--------------|-------------------------------------------------------------------|-------------|
| auto         | bf16 when it fits the GPU, else a quantized format that does      |             |
| bf16         | as trained (float32 on the CPU)                                   | 2           |
| fp8          | float8 storage cast to bf16 layer by layer (layerwise casting)    | 1           |
| int8         | bitsandbytes LLM.int8() (CUDA only)                               | 1           |
| nf4          | bitsandbytes 4-bit NormalFloat, bf16 compute (CUDA only)          | 0.52        |
| int8_torchao | torchao int8 weight-only, per-channel scales (CPU and CUDA)       | 1           |
| gguf         | a GGUF file per expert (weights_file, weights_file_2): Q8_0, Q4_K | 0.6-1.06    |

Only the transformer(s) are quantized; the text encoder runs once per prompt and is released,
and the VAE stays in float32. What `auto` picks for a GPU, and what each format needs in
memory, is wan.models.memory; how each is loaded, wan.models.quantization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .fields import Choice, FieldError, setting
from .files import LocalFile
from .group import SettingsGroup

WEIGHTS_CHOICES = ("auto", "bf16", "fp8", "int8", "nf4", "int8_torchao", "gguf")
# the formats bitsandbytes provides; diffusers runs them on CUDA only
BITSANDBYTES_WEIGHTS = ("int8", "nf4")
GGUF_FILE = LocalFile("models", (".gguf",), "a GGUF")


@dataclass(frozen=True)
class WeightsOptions(SettingsGroup):
    """The storage format of the transformer weights, and the GGUF files when it is gguf."""

    PREFIX: ClassVar[str] = ""

    format: str = setting(
        "auto",
        Choice(WEIGHTS_CHOICES),
        "Transformer weights: auto (bf16 when it fits the GPU, else quantized), bf16, fp8 (storage), "
        "int8 or nf4 (bitsandbytes, CUDA), int8_torchao, or gguf (a file)",
        key="weights",
        label="Weights",
    )
    file: str = setting(
        "",
        GGUF_FILE,
        "With weights gguf: the transformer's GGUF file (of a two-expert model: the high-noise expert's)",
        key="weights_file",
        label="GGUF file",
    )
    file_2: str = setting(
        "",
        GGUF_FILE,
        "With weights gguf and a two-expert model (Wan 2.2 A14B): the low-noise expert's GGUF file",
        key="weights_file_2",
        label="GGUF file, low-noise expert",
    )

    @property
    def files(self) -> tuple[str, ...]:
        """The GGUF files given, in expert order."""
        return tuple(path for path in (self.file, self.file_2) if path)

    def _rule_gguf_needs_a_file(self) -> list[FieldError]:
        if self.format == "gguf" and not self.file:
            return [FieldError("weights_file", self.file, "weights gguf needs the transformer's .gguf file")]
        return []

    def _rule_files_are_for_gguf(self) -> list[FieldError]:
        if self.format != "gguf":
            message = f"is used with weights gguf only (weights is {self.format})"
            return [
                FieldError(key, value, message)
                for key, value in (("weights_file", self.file), ("weights_file_2", self.file_2))
                if value
            ]
        return []
