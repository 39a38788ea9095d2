"""Where a model's files are: a local folder, the models folder, the Hugging Face cache, or a
download that only happens when the user allows it.

Order: (1) the value is an existing folder; (2) `<models dir>/<id>` or `<models dir>/<repo
name>`; (3) a complete snapshot in the Hugging Face cache; (4) a download into `<models
dir>/<id>` with a progress bar, if allowed. Otherwise ModelNotFoundError says which model, where
it looked and the command that downloads it. The tiny test models are built on first use.

The models folder is, in order: an explicit argument, $WAN_MODELS_DIR, the WebUI's
`--wan-models-dir` flag, `<WebUI>/models/wan` inside the WebUI, else `./models/wan`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..catalog import ModelSpec, model_spec
from ..errors import WanError


class ModelNotFoundError(WanError, FileNotFoundError):
    """A model that is neither on disk nor allowed to be downloaded."""


@dataclass(frozen=True)
class ModelLocation:
    """A resolved model: its registry entry and the folder with model_index.json."""

    spec: ModelSpec
    path: Path
    source: str  # folder, models dir, hf cache, download, built


def default_models_dir() -> Path:
    """The folder where Wan models live (see the module doc for the order)."""
    if os.environ.get("WAN_MODELS_DIR"):
        return Path(os.environ["WAN_MODELS_DIR"]).expanduser()
    shared = sys.modules.get("modules.shared")  # only present inside the WebUI
    flag = getattr(getattr(shared, "cmd_opts", None), "wan_models_dir", None)
    if flag:
        return Path(flag).expanduser()
    paths = sys.modules.get("modules.paths")
    if paths is not None and getattr(paths, "models_path", None):
        return Path(paths.models_path) / "wan"
    return Path("models") / "wan"


def _is_pipeline(folder: Path) -> bool:
    return (folder / "model_index.json").is_file()


Marker = Callable[[Path], bool]


def cached_snapshot(repo_id: str, complete: Marker = _is_pipeline) -> Path | None:
    """A complete snapshot of `repo_id` in the Hugging Face cache, without downloading."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    try:
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached (the error class differs between huggingface_hub versions)
        return None
    return path if complete(path) else None


def download_command(hub_id: str, target: Path) -> str:
    """The shell command that downloads a model to where resolution looks first."""
    return f"hf download {hub_id} --local-dir {target}"


def download_hint(hub_id: str, target: Path) -> str:
    """How to download a model by hand, for error messages."""
    return (
        f"Download it with:\n  {download_command(hub_id, target)}\n"
        f"  (older huggingface_hub: huggingface-cli download {hub_id} --local-dir {target})\n"
    )


def locate(
    label: str,
    hub_id: str,
    candidates: Sequence[Path],
    *,
    complete: Marker,
    allow_download: bool,
) -> tuple[Path, str]:
    """(folder, source) of a model: the first complete candidate, the HF cache, or a download
    into the first candidate when allowed; else ModelNotFoundError with the download command."""
    for candidate in candidates:
        if complete(candidate):
            return candidate, "models dir"
    cached = cached_snapshot(hub_id, complete)
    if cached is not None:
        return cached, "hf cache"
    target = candidates[0]
    if allow_download:
        from huggingface_hub import snapshot_download

        try:
            path = Path(snapshot_download(hub_id, local_dir=target))
        except Exception as exc:  # offline, hub unreachable, disk full: the hub raises many kinds
            raise ModelNotFoundError(
                f"downloading {hub_id} into {target} failed: {exc}\n" + download_hint(hub_id, target)
            ) from exc
        return path, "download"
    looked = "\n".join(f"  - {c}" for c in candidates)
    raise ModelNotFoundError(
        f"{label} ({hub_id}) is not on this machine. Looked in:\n{looked}\n"
        f"  - the Hugging Face cache ({_hf_cache_dir()})\n"
        + download_hint(hub_id, target)
        + "or allow downloads (--allow-download, or the WebUI setting) and run again."
    )


def resolve_model(ref: str, *, models_dir: Path | None = None, allow_download: bool = False) -> ModelLocation:
    """Find the files of model `ref` (an id, a hub id or a folder)."""
    spec = model_spec(ref)
    folder = Path(ref).expanduser()
    if folder.is_dir() and _is_pipeline(folder):
        return ModelLocation(spec, folder, "folder")
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    if spec.tiny:
        from .tiny import ensure_tiny_model

        return ModelLocation(spec, ensure_tiny_model(spec.id, models_dir / spec.id), "built")
    candidates = [models_dir / spec.id, models_dir / spec.hub_id.split("/")[-1]]
    path, source = locate(
        f"model {spec.id}", spec.hub_id, candidates, complete=_is_pipeline, allow_download=allow_download
    )
    return ModelLocation(spec, path, source)


def _hf_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except ImportError:
        return "~/.cache/huggingface/hub"


def is_present(spec: ModelSpec, models_dir: Path | None = None) -> Path | None:
    """Where a model is on this machine, without building or downloading anything."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    for candidate in (models_dir / spec.id, models_dir / spec.hub_id.split("/")[-1]):
        if _is_pipeline(candidate):
            return candidate
    return None if spec.tiny else cached_snapshot(spec.hub_id)
