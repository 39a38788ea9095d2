"""Neural interpolation with IFNet (RIFE) from a weights file the user provides.

Where the weights are looked for, in order: an explicit path (`--weights`, or
the interpolation_weights setting); $WAN_INTERPOLATION_WEIGHTS; the first file (by name) ending in
.safetensors, .pth, .pt, .pkl or .ckpt in `<models dir>/interpolation/` (the models folder of
wan.models.resolve). The file holds a state dict of the RIFE 4.x IFNet layout (a `module.`
prefix, as in RIFE's own flownet.pkl, is dropped; keys beyond the network, such as a training
teacher's, are ignored). Nothing is ever downloaded.

Quality presets: `fast` runs every block at half the usual resolution (scales 16/8/4/2),
`balanced` is RIFE's default (8/4/2/1), `high_quality` adds the time-reversed pass (frames
swapped, t -> 1 - t) and averages the two.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...config.interpolation import WEIGHT_SUFFIXES
from ...errors import WanError

WEIGHTS_ENV = "WAN_INTERPOLATION_WEIGHTS"
SCALES = {
    "fast": (16.0, 8.0, 4.0, 2.0),
    "balanced": (8.0, 4.0, 2.0, 1.0),
    "high_quality": (8.0, 4.0, 2.0, 1.0),
}


class NeuralWeightsError(WanError, ValueError):
    """A weights file that cannot be read or does not fit the network."""


def weights_folder(models_dir: str | Path | None = None) -> Path:
    """The folder searched for interpolation weights: `<models dir>/interpolation`."""
    from ...models.resolve import default_models_dir

    return (Path(models_dir) if models_dir else default_models_dir()) / "interpolation"


def find_weights(explicit: str = "", models_dir: str | Path | None = None) -> tuple[Path | None, str]:
    """(the weights file or None, where it looked, in words); see the module doc for the order."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise NeuralWeightsError(f"neural interpolation weights '{path}': no such file")
        return path, str(path)
    from_env = os.environ.get(WEIGHTS_ENV, "")
    if from_env:
        path = Path(from_env).expanduser()
        return (path if path.is_file() else None), f"${WEIGHTS_ENV} ({path})"
    folder = weights_folder(models_dir)
    found = sorted(p for p in folder.glob("*") if p.suffix.lower() in WEIGHT_SUFFIXES and p.is_file())
    return (found[0] if found else None), f"{folder}{os.sep} ({', '.join(WEIGHT_SUFFIXES)})"


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """The tensors of a .safetensors file or a torch checkpoint, `module.` prefixes dropped."""
    import torch

    path = Path(path)
    safetensors = path.suffix.lower() == ".safetensors"
    try:
        if safetensors:
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise NeuralWeightsError(f"cannot read interpolation weights '{path}': {reason}") from None
    except Exception:  # torch and safetensors raise many kinds for a damaged or foreign file
        # torch's own message advises loading with weights_only=False, which runs the file's code:
        # say what the file is not instead.
        kind = "a safetensors file" if safetensors else "a PyTorch checkpoint of tensors"
        raise NeuralWeightsError(
            f"cannot read interpolation weights '{path}': it is not RIFE weights ({kind} of the RIFE 4.x "
            "IFNet, such as the flownet.pkl of RIFE's releases); it is damaged or holds something else"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise NeuralWeightsError(f"'{path}' does not hold a state dict (a mapping of names to tensors)")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def _shown(items: list[str]) -> str:
    return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def load_ifnet(path: str | Path, device: Any = "cpu", dtype: Any = None) -> Any:
    """An IFNet with the weights of `path`, in eval mode (NeuralWeightsError if they do not fit)."""
    import torch

    from .ifnet import IFNet

    model = IFNet()
    state = read_state_dict(path)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    wrong = [
        f"{k} {tuple(state[k].shape)} (needs {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or wrong:
        problems = ([f"{len(missing)} missing tensors ({_shown(missing)})"] if missing else []) + (
            [f"{len(wrong)} of another shape ({_shown(wrong)})"] if wrong else []
        )
        raise NeuralWeightsError(
            f"'{path}' does not hold weights of the RIFE 4.x IFNet this interpolator builds: "
            + "; ".join(problems)
        )
    model.load_state_dict({k: state[k] for k in expected})
    return model.to(device=torch.device(device), dtype=dtype or torch.float32).eval()


def default_device_and_dtype(device: str | None = None) -> tuple[Any, Any]:
    """CUDA in float16 when available (or asked for), else the CPU in float32."""
    import torch

    chosen = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return chosen, (torch.float16 if chosen.type == "cuda" else torch.float32)


class NeuralInterpolator:
    """In-betweens by IFNet; frames are padded to the network's size multiple and cropped back."""

    name = "neural"

    def __init__(self, model: Any, quality: str = "balanced", batch_size: int = 4) -> None:
        self.model = model
        self.scales = SCALES[quality]
        self.reverse_pass = quality == "high_quality"
        self.batch_size = batch_size
        self.multiple = model.size_multiple(self.scales)

    @classmethod
    def from_file(
        cls, path: str | Path, *, quality: str = "balanced", device: str | None = None
    ) -> NeuralInterpolator:
        """Load weights from `path` onto `device` (default: CUDA in float16, else CPU float32)."""
        chosen, dtype = default_device_and_dtype(device)
        return cls(load_ifnet(path, chosen, dtype), quality)

    def _tensor(self, frame: np.ndarray) -> Any:
        import torch
        from torch.nn import functional as F

        parameter = next(self.model.parameters())
        image = torch.from_numpy(np.ascontiguousarray(frame)).to(parameter.device)
        image = image.permute(2, 0, 1).unsqueeze(0).to(parameter.dtype) / 255.0
        height, width = frame.shape[:2]
        pad_y, pad_x = -height % self.multiple, -width % self.multiple
        return F.pad(image, (0, pad_x, 0, pad_y), mode="replicate") if pad_x or pad_y else image

    def interpolate(self, first: np.ndarray, second: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        """The frames at fractions `times` (each 0 < t < 1) of the way from `first` to `second`."""
        import torch

        height, width = first.shape[:2]
        a, b = self._tensor(first), self._tensor(second)
        frames: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(times), self.batch_size):
                chunk = times[start : start + self.batch_size]
                t = torch.tensor(list(chunk), device=a.device, dtype=a.dtype)
                pair = (a.expand(len(chunk), -1, -1, -1), b.expand(len(chunk), -1, -1, -1))
                out = self.model(*pair, t, self.scales)
                if self.reverse_pass:
                    out = (out + self.model(pair[1], pair[0], 1 - t, self.scales)) / 2
                pixels = (out[:, :, :height, :width].float().clamp(0, 1) * 255).round().to(torch.uint8)
                frames.extend(pixels.permute(0, 2, 3, 1).cpu().numpy())
        return frames
