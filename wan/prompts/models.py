"""The Qwen instruct models the enhancer can run, and where their files are.

A model reference is a registry id (`qwen2.5-1.5b`), a Hugging Face id (`Qwen/Qwen2.5-3B-Instruct`,
any causal LM with a chat template works), a local folder, `auto` or `tiny-qwen` (a tiny random
model for tests and install checks). Files are found like the Wan models' (wan.models.resolve):
the folder itself, `<models dir>/<id>` or `<models dir>/<repo name>`, the Hugging Face cache,
then a download only when allowed.

`auto` picks by free GPU memory, since the enhancer runs before the video model loads and is
unloaded after: the largest of Qwen2.5 0.5B / 1.5B / 3B / 7B whose bf16 weights and working
memory fit in 90% of the free memory, preferring one that is already on disk, and never a
bigger download than the default (1.5B) unless that one is on disk. Without a GPU: 1.5B,
or 0.5B if only that one is on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..models.resolve import ModelNotFoundError, cached_snapshot, default_models_dir, locate

DEFAULT_ENHANCER = "qwen2.5-1.5b"
TINY_ENHANCER = "tiny-qwen"
# bf16 weights plus the KV cache and activations of a batch of 8 prompts
WORKING_MEMORY_GB = 1.0
VRAM_SHARE = 0.9


@dataclass(frozen=True)
class EnhancerModel:
    """A Qwen instruct model the enhancer knows."""

    id: str
    hub_id: str
    params_billion: float
    auto: bool = False  # a candidate for `auto`
    tiny: bool = False

    @property
    def weights_gb(self) -> float:
        """Its weights in bf16 (what a download of the hub repo brings)."""
        return self.params_billion * 2 * 1e9 / 2**30

    @property
    def vram_gb(self) -> float:
        """GPU memory it needs in bf16, working memory included."""
        return self.weights_gb + WORKING_MEMORY_GB


ENHANCER_MODELS: dict[str, EnhancerModel] = {
    m.id: m
    for m in (
        EnhancerModel("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct", 0.49, auto=True),
        EnhancerModel("qwen2.5-1.5b", "Qwen/Qwen2.5-1.5B-Instruct", 1.54, auto=True),
        EnhancerModel("qwen2.5-3b", "Qwen/Qwen2.5-3B-Instruct", 3.09, auto=True),
        EnhancerModel("qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct", 7.62, auto=True),
        EnhancerModel("qwen2.5-14b", "Qwen/Qwen2.5-14B-Instruct", 14.77),
        EnhancerModel("qwen3-0.6b", "Qwen/Qwen3-0.6B", 0.6),
        EnhancerModel("qwen3-1.7b", "Qwen/Qwen3-1.7B", 1.7),
        EnhancerModel("qwen3-4b", "Qwen/Qwen3-4B", 4.0),
        EnhancerModel("qwen3-8b", "Qwen/Qwen3-8B", 8.2),
        EnhancerModel("qwen3-14b", "Qwen/Qwen3-14B", 14.8),
        EnhancerModel(TINY_ENHANCER, "", 0.0, tiny=True),
    )
}


@dataclass(frozen=True)
class EnhancerLocation:
    """A resolved enhancer model: what it is and the folder with its files."""

    model: EnhancerModel
    path: Path
    source: str


def _is_causal_lm(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (
        (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file()
    )


def enhancer_model(ref: str) -> EnhancerModel:
    """The registry entry for a reference; unknown hub ids and folders get an ad-hoc entry."""
    key = ref.strip()
    if key.lower() in ENHANCER_MODELS:
        return ENHANCER_MODELS[key.lower()]
    for model in ENHANCER_MODELS.values():
        if model.hub_id and model.hub_id.lower() == key.lower():
            return model
    if Path(key).expanduser().is_dir():
        return EnhancerModel(Path(key).name, "", 0.0)
    if key.count("/") == 1 and all(key.split("/")):
        return EnhancerModel(key.split("/")[1].lower(), key, 0.0)
    known = ", ".join(m for m in ENHANCER_MODELS if m != TINY_ENHANCER)
    raise ValueError(
        f"enhance_model {ref!r} is not a known enhancer model ({known}, auto), "
        "a Hugging Face id like Qwen/Qwen2.5-3B-Instruct, or an existing folder"
    )


def _candidates(model: EnhancerModel, models_dir: Path) -> list[Path]:
    names = [model.id] + ([model.hub_id.split("/")[-1]] if model.hub_id else [])
    return [models_dir / name for name in names]


def enhancer_present(model: EnhancerModel, models_dir: Path | None = None) -> bool:
    """Whether a model's files are on this machine (models folder or HF cache)."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    if any(_is_causal_lm(c) for c in _candidates(model, models_dir)):
        return True
    return bool(model.hub_id) and cached_snapshot(model.hub_id, _is_causal_lm) is not None


def choose_auto(free_vram_gb: float | None, models_dir: Path | None = None) -> EnhancerModel:
    """The model `auto` means for this much free GPU memory (None: no GPU); see the module doc."""
    candidates = [m for m in ENHANCER_MODELS.values() if m.auto]
    if free_vram_gb is None:
        fitting = [
            m for m in candidates if m.params_billion <= ENHANCER_MODELS[DEFAULT_ENHANCER].params_billion
        ]
    else:
        fitting = [m for m in candidates if m.vram_gb <= VRAM_SHARE * free_vram_gb] or candidates[:1]
    present = [m for m in fitting if enhancer_present(m, models_dir)]
    if present:
        return max(present, key=lambda m: m.params_billion)
    default = ENHANCER_MODELS[DEFAULT_ENHANCER]
    return max(
        (m for m in fitting if m.params_billion <= default.params_billion), key=lambda m: m.params_billion
    )


def free_vram_gb() -> float | None:
    """Free memory of the current CUDA device in GiB, or None without one."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return free / 2**30


def resolve_enhancer(
    ref: str, *, models_dir: Path | None = None, allow_download: bool = False
) -> EnhancerLocation:
    """Find the files of enhancer model `ref` (see the module doc)."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    auto = ref.strip().lower() == "auto"
    model = choose_auto(free_vram_gb(), models_dir) if auto else enhancer_model(ref)
    folder = Path(ref.strip()).expanduser()
    if not auto and folder.is_dir():
        if not _is_causal_lm(folder):
            raise ModelNotFoundError(
                f"{folder} has no config.json and tokenizer: it is not a language model folder"
            )
        return EnhancerLocation(model, folder, "folder")
    if model.tiny:
        from .tiny import ensure_tiny_qwen

        return EnhancerLocation(model, ensure_tiny_qwen(models_dir / model.id), "built")
    path, source = locate(
        f"enhancer model {model.id}",
        model.hub_id,
        _candidates(model, models_dir),
        complete=_is_causal_lm,
        allow_download=allow_download,
    )
    return EnhancerLocation(model, path, source)
