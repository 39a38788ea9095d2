"""The packages the extension's runtime environment holds, at the versions the project is tested
with (CI installs the same pins), and the oldest torch the runtime takes from the host.

Standard library only: the WebUI's installer imports this with the host's Python.
"""

from __future__ import annotations

# name -> exact version: what generation, prompt enhancement and post-processing run with.
RUNTIME_PINS: dict[str, str] = {
    "diffusers": "0.42.1",
    "transformers": "5.24.0",
    "tokenizers": "0.23.3",
    "accelerate": "1.15.0",
    "huggingface_hub": "2.4.0",
    "safetensors": "0.8.0",
    "peft": "0.21.2",
    "imageio-ffmpeg": "0.8.1",
    "opencv-python-headless": "5.0.0.93",
    "numexpr": "2.14.2",
    "numpy": "2.4.6",
    "ftfy": "6.3.1",
    "pillow": "12.3.0",
    # quantized weights (wan.models.quantization): GGUF files, torchao int8, bitsandbytes int8/nf4;
    # bitsandbytes has wheels for Linux, Windows and macOS, and runs in diffusers on CUDA only
    "gguf": "0.19.0",
    "torchao": "0.18.0",
    "bitsandbytes": "0.50.2",
    # upscaling (wan.post.upscale): spandrel recognises ESRGAN, SwinIR, HAT, ... from a state dict;
    # it imports torchvision, which the WebUI hosts have, and which is installed beside a torch of
    # the runtime's own (prepare.py)
    "spandrel": "0.4.2",
    "einops": "0.8.2",
}
# Installed without their dependencies: spandrel's only unpinned one is torchvision, which must be
# the build made for the torch in use (the host's, or the runtime's own from prepare.py); pip would
# otherwise fetch PyPI's newest, and a torchvision that does not match torch breaks transformers'
# imports, and with them every generation, not only upscaling.
WITHOUT_DEPENDENCIES = ("spandrel",)
# The oldest versions generation works with (the `models` extra of pyproject.toml says the same; a
# test holds them equal). Measured: diffusers 0.41 is the first with SeaCache and CPU-safe group
# offloading and calls torch.accelerator (torch 2.6) on import; it needs huggingface_hub 1.32, which
# only transformers 5 accepts; accelerate 0.32 is the first with clear_device_cache; peft 0.17
# imports what transformers 5 removed, and diffusers imports peft whenever it is installed.
PACKAGE_FLOORS: dict[str, str] = {
    "torch": "2.6.0",
    "diffusers": "0.41.0",
    "transformers": "5.0.0",
    "accelerate": "0.32.0",
    "huggingface_hub": "1.32.0",
    "tokenizers": "0.22.1",
    "safetensors": "0.8.0",
    "peft": "0.18.0",
    "imageio-ffmpeg": "0.5.0",
    "opencv-python-headless": "4.10.0.84",
    "numexpr": "2.10.0",
    "numpy": "1.23.5",
    "ftfy": "6.0",
}
# The runtime reuses the host's torch (no second CUDA download) when it is at least this version;
# an older one gets a torch of its own in the runtime (TORCH_FOR_RUNTIME), said before it
# downloads. The lowest torch the project's tests ran with.
TORCH_FLOOR = "2.13.0"
TORCH_FOR_RUNTIME = "2.13.0"
# about what a CUDA build of torch downloads with its libraries, for the message before it does
TORCH_DOWNLOAD_GB = 3.0
# Where a torch of the runtime's own comes from: PyTorch's CUDA 12.8 builds (Windows' PyPI torch
# is CPU-only, and PyPI's Linux torch needs the newest drivers); $WAN_TORCH_INDEX_URL changes it.
TORCH_INDEX_URL = "https://download.pytorch.org/whl/cu128"


def version_tuple(version: str) -> tuple[int, ...]:
    """(major, minor, patch) of a version string, ignoring local and pre-release parts."""
    parts = []
    for piece in version.split("+")[0].split(".")[:3]:
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits or 0))
    return tuple(parts)


def requirement_lines(torch_version: str | None = None) -> list[str]:
    """pip requirement lines of the runtime (`name==version`), torch first when given."""
    lines = [f"torch=={torch_version}"] if torch_version else []
    return lines + [f"{name}=={version}" for name, version in RUNTIME_PINS.items()]
