"""The run folder: everything a render writes, laid out so that a crash loses at most one clip.

    run/
      plan.json          the plan (a resumed run must match it)
      settings.json      the settings the plan came from (when known)
      model_frames/      every generated frame at the model's fps, by model frame index
      clips/0003.json    metadata of each finished clip, written after its frames
      previews/          latest.png (live preview) and clip_0003.png (last frame of each clip)
      frames/            the output frames at the output fps
      video.mp4          the video
      metrics.json       per clip: seconds, seconds per frame, peak memory, preset, attempts

A clip counts as finished when its metadata file exists: the frames are written first and the
metadata is renamed into place last, so a clip is on disk completely or not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WanError
from ..plan import ClipPlan, GenerationPlan


class ResumeMismatchError(WanError, ValueError):
    """A run folder that holds a different plan than the one asked for."""


def _write_json(path: Path, data: Any) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                if isinstance(x, dict) and isinstance(y, dict):
                    found += _differences(x, y, f"{prefix}{key}[{i}].")
                elif x != y:
                    found.append(f"{prefix}{key}[{i}]")
        elif a != b:
            found.append(f"{prefix}{key}")
    return found


class RunFolder:
    """Paths and reads/writes of one run."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.plan_path = self.root / "plan.json"
        self.settings_path = self.root / "settings.json"
        self.metrics_path = self.root / "metrics.json"
        self.video_path = self.root / "video.mp4"
        self.model_frames_dir = self.root / "model_frames"
        self.clips_dir = self.root / "clips"
        self.previews_dir = self.root / "previews"
        self.frames_dir = self.root / "frames"

    def start(self, plan: GenerationPlan, settings: dict[str, Any] | None, *, resume: bool) -> None:
        """Create the folder for `plan`, or check that a resumed folder holds the same plan."""
        if resume:
            if not self.plan_path.is_file():
                raise ResumeMismatchError(f"{self.root} is not a run folder: it has no plan.json")
            stored = json.loads(self.plan_path.read_text(encoding="utf-8"))
            differences = _differences(stored, plan.to_dict())
            if differences:
                shown = ", ".join(differences[:8]) + (" ..." if len(differences) > 8 else "")
                raise ResumeMismatchError(
                    f"{self.root} holds a different plan (differs in {shown}); refusing to mix "
                    "clips of two plans. Start a new run, or resume with the settings of that run."
                )
        elif self.plan_path.exists() and any(self.clips_dir.glob("*.json")):
            raise ResumeMismatchError(f"{self.root} already holds a run; resume it or choose another folder")
        for folder in (self.model_frames_dir, self.clips_dir, self.previews_dir):
            folder.mkdir(parents=True, exist_ok=True)
        _write_json(self.plan_path, plan.to_dict())
        if settings is not None:
            _write_json(self.settings_path, settings)

    def stored_plan(self) -> GenerationPlan:
        """The plan written in this folder."""
        return GenerationPlan.from_dict(json.loads(self.plan_path.read_text(encoding="utf-8")))

    def clip_metadata_path(self, index: int) -> Path:
        """Where the metadata of clip `index` goes."""
        return self.clips_dir / f"{index:04d}.json"

    def model_frame_path(self, index: int) -> Path:
        """Where model frame `index` goes."""
        return self.model_frames_dir / f"{index:06d}.png"

    def is_finished(self, clip: ClipPlan) -> bool:
        """Whether the clip's metadata and every one of its frames are on disk."""
        return self.clip_metadata_path(clip.index).is_file() and all(
            self.model_frame_path(i).is_file() for i in range(clip.model_start_frame, clip.model_end_frame)
        )

    def first_unfinished(self, plan: GenerationPlan) -> int:
        """Index of the first clip that is not on disk (len(clips) when all are)."""
        for clip in plan.clips:
            if not self.is_finished(clip):
                return clip.index
        return len(plan.clips)

    def write_clip(self, clip: ClipPlan, frames: np.ndarray, metadata: dict[str, Any]) -> None:
        """Write a finished clip's new frames, then its metadata (which marks it finished)."""
        if len(frames) != clip.new_frames:
            raise ValueError(
                f"clip {clip.index} has {len(frames)} new frames, the plan says {clip.new_frames}"
            )
        for offset, frame in enumerate(frames):
            write_png(self.model_frame_path(clip.model_start_frame + offset), frame)
        _write_json(self.clip_metadata_path(clip.index), metadata)

    def clip_metadata(self, index: int) -> dict[str, Any]:
        """The metadata of a finished clip."""
        return json.loads(self.clip_metadata_path(index).read_text(encoding="utf-8"))

    def read_model_frames(self, indices: Iterable[int]) -> np.ndarray:
        """Model frames by index, as uint8 RGB (F, H, W, 3)."""
        return np.stack([read_png(self.model_frame_path(i)) for i in indices])

    def write_preview(self, name: str, image: np.ndarray) -> Path:
        """Save a preview image (latest.png, clip_0003.png, ...)."""
        path = self.previews_dir / name
        write_png(path, image, replace=True)
        return path

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Write metrics.json."""
        _write_json(self.metrics_path, metrics)


def write_png(path: Path, frame: np.ndarray, *, replace: bool = False) -> None:
    """Save a uint8 RGB frame as PNG (fast compression); `replace` writes atomically."""
    from PIL import Image

    target = path.with_name(path.name + ".tmp.png") if replace else path
    Image.fromarray(frame).save(target, compress_level=1)
    if replace:
        os.replace(target, path)


def read_png(path: Path) -> np.ndarray:
    """A PNG as uint8 RGB."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
