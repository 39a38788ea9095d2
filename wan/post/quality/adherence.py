"""Prompt adherence and aesthetics of a clip: a CLIP score between its prompt and frames sampled
from it, and a LAION aesthetic score from the frames' CLIP image embeddings.

CLIP score: 100 × the cosine similarity of CLIP's text and image embeddings (clamped at 0, as
torchmetrics' CLIPScore does), averaged over the sampled frames. Typical values with
openai/clip-vit-large-patch14 are 20-35 for a frame that shows its prompt and under 15 for one
that does not.

CLIP reads at most 77 tokens (75 between its start and end tokens). A longer prompt (Wan's
enhanced prompts often have 100-200) is split into chunks of 75 tokens, each chunk is scored
against the frames as a prompt of its own, and the clip's score is the mean over the chunks: every
part of the prompt counts, none is cut off.

Aesthetic score: the LAION aesthetic predictor (a linear layer, v1, or the MLP of v2) applied to
each frame's L2-normalised CLIP image embedding, averaged; about 1-10, higher is more pleasing.
The head must be made for the CLIP model's embedding size (768 for ViT-L/14).

The models load only when a scorer is made and are released (CUDA cache emptied) by `release`,
before the video model runs again.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...config.folders import default_models_dir
from ...config.quality import DEFAULT_CLIP_MODEL
from ...errors import WanError

CHUNK_SEPARATOR_TOKENS = 2  # CLIP's start and end tokens around every chunk


class AdherenceError(WanError, ValueError):
    """A CLIP model or aesthetic head that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class ClipAdherence:
    """The scores of one clip: CLIP score (0-100), aesthetic score (None without a head), how
    many frames were scored and how many 75-token chunks the prompt made."""

    clip_score: float
    aesthetic: float | None
    frames: int
    chunks: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "clip_score": round(self.clip_score, 4),
            "aesthetic": None if self.aesthetic is None else round(self.aesthetic, 4),
            "frames": self.frames,
            "chunks": self.chunks,
        }


def sample_indices(count: int, wanted: int) -> list[int]:
    """`wanted` frame indices spread evenly over `count` frames (first and last included)."""
    if count <= 0:
        return []
    if wanted >= count:
        return list(range(count))
    if wanted == 1:
        return [count // 2]
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def _is_clip_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def clip_model_folder(
    ref: str, *, models_dir: str | Path | None = None, allow_download: bool = False
) -> Path:
    """The folder of CLIP model `ref` (quality_clip_model): the folder itself, `<models
    folder>/<repo name>`, the Hugging Face cache, or a download when allowed."""
    from ...models.resolve import ModelNotFoundError, locate

    ref = ref or DEFAULT_CLIP_MODEL
    folder = Path(ref).expanduser()
    if folder.is_dir():
        if not _is_clip_folder(folder):
            raise AdherenceError(f"quality_clip_model: '{ref}' holds no config.json of a CLIP model")
        return folder
    models = Path(models_dir).expanduser() if models_dir else default_models_dir()
    try:
        path, _source = locate(
            "CLIP model",
            ref,
            [models / ref.split("/")[-1]],
            complete=_is_clip_folder,
            allow_download=allow_download,
        )
    except ModelNotFoundError as exc:
        raise AdherenceError(f"quality_clip_model: {exc}") from None
    return path


def load_head_state(path: str | Path) -> dict[str, Any]:
    """A head's state dict, read safely: safetensors, or torch.load with weights_only."""
    import torch

    path = Path(path)
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged file or a pickle with code: many error types
        raise AdherenceError(
            f"quality_aesthetic_head: '{path}' cannot be read as a state dict of tensors ({exc})"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise AdherenceError(f"quality_aesthetic_head: '{path}' is not a state dict of tensors")
    return state


def aesthetic_head(state: dict[str, Any], embedding_size: int) -> Any:
    """The LAION aesthetic predictor as a torch module: its Linear layers in order (v1: one
    layer, `weight`/`bias`; v2: `layers.N.weight` ..., Dropout between them has no weights)."""
    import torch

    weights = sorted(
        (key for key in state if key.endswith("weight") and state[key].ndim == 2),
        key=lambda key: [int(part) if part.isdigit() else -1 for part in key.split(".")],
    )
    if not weights:
        raise AdherenceError("quality_aesthetic_head: the file holds no linear layer weights")
    layers = []
    for key in weights:
        weight = state[key]
        bias = state.get(key[: -len("weight")] + "bias")
        layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        with torch.no_grad():
            layer.weight.copy_(weight)
            if bias is not None:
                layer.bias.copy_(bias)
        layers.append(layer)
    sizes = [layer.in_features for layer in layers]
    if sizes[0] != embedding_size:
        raise AdherenceError(
            f"quality_aesthetic_head: the head takes image embeddings of {sizes[0]} values, but "
            f"quality_clip_model gives {embedding_size} (the LAION heads are made for ViT-L/14: 768)"
        )
    for before, after in itertools.pairwise(layers):
        if before.out_features != after.in_features:
            raise AdherenceError("quality_aesthetic_head: its layers do not fit one after the other")
    if layers[-1].out_features != 1:
        raise AdherenceError("quality_aesthetic_head: its last layer must give one value (the score)")
    return torch.nn.Sequential(*layers).eval()


def _features(output: Any) -> Any:
    """Projected features from get_text_features / get_image_features (a tensor, or an output
    object holding them as pooler_output)."""
    return output if hasattr(output, "norm") else output.pooler_output


class AdherenceScorer:
    """CLIP (and an aesthetic head) loaded on a device; `score` a prompt against frames, then
    `release`. Also a context manager that releases on exit."""

    def __init__(
        self,
        clip_model: str,
        *,
        aesthetic_head_file: str = "",
        device: Any = None,
        models_dir: str | Path | None = None,
        allow_download: bool = False,
        frames_per_clip: int = 8,
    ) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        folder = clip_model_folder(clip_model, models_dir=models_dir, allow_download=allow_download)
        self.device = torch.device(device) if device is not None else _default_device()
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self.frames_per_clip = frames_per_clip
        try:
            self.model = CLIPModel.from_pretrained(folder, dtype=self.dtype).to(self.device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.images = AutoImageProcessor.from_pretrained(folder)
        except (OSError, ValueError, KeyError) as exc:
            raise AdherenceError(
                f"quality_clip_model: '{clip_model}' is not a CLIP model that loads ({exc})"
            ) from None
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)
        self.head = None
        if aesthetic_head_file:
            state = load_head_state(aesthetic_head_file)
            self.head = aesthetic_head(state, int(self.model.config.projection_dim)).to(self.device)

    def __enter__(self) -> AdherenceScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def prompt_chunks(self, prompt: str) -> list[list[int]]:
        """The prompt's token ids in chunks of at most 75, each wrapped in CLIP's start and end
        tokens (one chunk for a prompt that fits, or is empty)."""
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        window = self.max_tokens - CHUNK_SEPARATOR_TOKENS
        pieces = [ids[start : start + window] for start in range(0, len(ids), window)] or [[]]
        bos, eos = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        return [[bos, *piece, eos] for piece in pieces]

    def text_embeddings(self, prompt: str) -> Any:
        """One L2-normalised CLIP text embedding per chunk of the prompt (chunks × D)."""
        import torch

        chunks = self.prompt_chunks(prompt)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else chunks[0][-1]
        ids = torch.full((len(chunks), self.max_tokens), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, chunk in enumerate(chunks):
            ids[row, : len(chunk)] = torch.tensor(chunk)
            mask[row, : len(chunk)] = 1
        with torch.no_grad():
            features = _features(
                self.model.get_text_features(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
                )
            )
        return torch.nn.functional.normalize(features.float(), dim=-1)

    def image_embeddings(self, frames: Sequence[np.ndarray]) -> Any:
        """One L2-normalised CLIP image embedding per frame (uint8 RGB)."""
        import torch

        pixels = self.images(images=[np.asarray(frame) for frame in frames], return_tensors="pt")[
            "pixel_values"
        ]
        with torch.no_grad():
            features = _features(
                self.model.get_image_features(pixel_values=pixels.to(self.device, self.dtype))
            )
        return torch.nn.functional.normalize(features.float(), dim=-1)

    def score(self, prompt: str, frames: np.ndarray | Sequence[np.ndarray]) -> ClipAdherence:
        """The scores of a clip: `frames_per_clip` frames sampled evenly from `frames`."""
        import torch

        chosen = [frames[i] for i in sample_indices(len(frames), self.frames_per_clip)]
        if not chosen:
            raise ValueError("a clip without frames cannot be scored")
        text = self.text_embeddings(prompt)
        images = self.image_embeddings(chosen)
        similarity = (text @ images.T).clamp(min=0) * 100.0  # chunks × frames
        aesthetic = None
        if self.head is not None:
            with torch.no_grad():
                aesthetic = float(self.head(images.to(self.head[0].weight.dtype)).mean())
        return ClipAdherence(float(similarity.mean()), aesthetic, len(chosen), int(text.shape[0]))

    def release(self) -> None:
        """Drop the models and empty the CUDA cache (before the video model runs again)."""
        from ...models.loading import free_memory

        for name in ("model", "head", "tokenizer", "images"):
            if hasattr(self, name):
                setattr(self, name, None)
        free_memory(reset_peak=False)


def _default_device() -> Any:
    from ...models.loading import default_device

    return default_device()


@dataclass(frozen=True)
class AdherenceReport:
    """Prompt adherence over a video: each clip's scores, and the means."""

    model: str
    clips: tuple[tuple[int, ClipAdherence], ...]
    aesthetic_head: str = ""

    @property
    def mean_clip_score(self) -> float | None:
        """The mean CLIP score over the clips (None without clips)."""
        scores = [scores.clip_score for _, scores in self.clips]
        return float(np.mean(scores)) if scores else None

    @property
    def mean_aesthetic(self) -> float | None:
        """The mean aesthetic score over the clips (None without a head)."""
        values = [s.aesthetic for _, s in self.clips if s.aesthetic is not None]
        return float(np.mean(values)) if values else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (metrics.json's quality.adherence)."""
        mean, aesthetic = self.mean_clip_score, self.mean_aesthetic
        return {
            "model": self.model,
            "aesthetic_head": self.aesthetic_head,
            "scale": "CLIP score: 100 x cosine(text, frame), 0-100, mean over sampled frames and 75-token "
            "prompt chunks; aesthetic: LAION predictor, about 1-10",
            "mean_clip_score": None if mean is None else round(mean, 4),
            "mean_aesthetic": None if aesthetic is None else round(aesthetic, 4),
            "clips": [{"index": index, **scores.to_dict()} for index, scores in self.clips],
        }

    def table(self) -> str:
        """Each clip's scores as a text table."""
        lines = ["clip  CLIP score  aesthetic  frames  chunks"]
        for index, scores in self.clips:
            aesthetic = "-" if scores.aesthetic is None else f"{scores.aesthetic:.2f}"
            score = f"{scores.clip_score:>10.2f}"
            lines.append(f"{index:>4}  {score}  {aesthetic:>9}  {scores.frames:>6}  {scores.chunks:>6}")
        return "\n".join(lines)
