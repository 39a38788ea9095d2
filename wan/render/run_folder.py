"""The run folder: the takes of one animation over a store of clips addressed by fingerprint.

    run/
      clips/<fingerprint>/     one rendered clip, never changed once it is there:
        frames/000000.png ...  its new model frames (overlap and trim dropped), in order
        clip.json              its metadata (seconds, memory preset, attempts, ...) and the take
                               that rendered it
      takes/001/               one version of the video (a take), never overwritten:
        plan.json              the plan it follows
        settings.json          the settings the plan came from (when known)
        take.json              its number, the take it is based on and why it was made, the
                               render settings that change frames, and each clip's fingerprint
        frames/                the output frames at the output fps
        video.mp4              the video
        metrics.json           per clip: the take that rendered it and whether this take reused
                               it, seconds, ...; written last: a take with metrics.json is finished
      previews/                latest.png (the live preview) and clip_0003.png (each clip's last
                               frame); previews are replaced as a render goes on
      video.mp4                the newest finished take's video (a hard link to it)

A clip's fingerprint (wan.plan.fingerprint) covers everything that determines its frames,
chained with the clips it continues from. A clip is rendered into
clips/<fingerprint>.partial-<id>/ and renamed into place once every frame and its metadata are
written, so a clip is on disk completely or not at all, and a take reuses every clip whose
fingerprint is there. How a render starts (`RunFolder.start`):

- `new`: an empty folder; take 001;
- `resume`: the newest take continues when its plan is the one asked for (else
  ResumeMismatchError); a finished one stays as it is when its output was made with the output
  options asked for and its files are there, else a new take reuses all its clips;
- `revise`: a new take based on the newest (reusing what is unchanged), or the newest one itself
  when it is unfinished and was made from the same plan and settings (a re-render that stopped).

Run folders of the earlier layout (plan.json, model_frames/ and clips/NNNN.json at the top)
are converted on first use: their finished clips are linked into the store and the run becomes
take 001, with its video and metrics when it had them (its old files stay where they are).
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import WanError
from ..plan import ClipPlan, GenerationPlan
from ..plan.fingerprint import clip_fingerprints, clip_materials, what_changed

Mode = Literal["new", "resume", "revise"]
TAKE_DIGITS = 3


class ResumeMismatchError(WanError, ValueError):
    """A run folder that holds a different plan than the one asked for."""


def _write_json(path: Path, data: Any) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


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


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


@dataclass(frozen=True)
class ClipReuse:
    """What a render of a plan into a run folder does with one clip: reuse it (rendered by `take`)
    or render it, and why (`changed`: what differs from the newest take's clip at its index)."""

    index: int
    fingerprint: str
    reused: bool
    take: int | None = None
    changed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "index": self.index,
            "fingerprint": self.fingerprint,
            "reused": self.reused,
            "take": self.take,
            "changed": list(self.changed),
        }


class RunFolder:
    """A run folder: its takes and its store of clips (see the module doc)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.clips_dir = self.root / "clips"
        self.takes_dir = self.root / "takes"
        self.previews_dir = self.root / "previews"
        self.video_path = self.root / "video.mp4"
        self.legacy_plan_path = self.root / "plan.json"

    # -- what is here -----------------------------------------------------------------------------
    def is_run(self) -> bool:
        """Whether this folder holds a run (a take, or a run of the earlier layout)."""
        return bool(self.takes()) or self.legacy_plan_path.is_file()

    def takes(self) -> list[Take]:
        """Every take, oldest first."""
        if not self.takes_dir.is_dir():
            return []
        numbers = sorted(
            int(entry.name)
            for entry in self.takes_dir.iterdir()
            if entry.name.isdigit() and (entry / "take.json").is_file()
        )
        return [Take(self, number) for number in numbers]

    def latest(self) -> Take | None:
        """The newest take (None before the first)."""
        takes = self.takes()
        return takes[-1] if takes else None

    def newest_plan(self) -> GenerationPlan | None:
        """The plan of the newest take (or of a run of the earlier layout); None when none."""
        latest = self.latest()
        if latest is not None:
            return latest.plan
        if self.legacy_plan_path.is_file():
            return GenerationPlan.from_dict(_read_json(self.legacy_plan_path))
        return None

    def take(self, number: int) -> Take:
        """Take `number` (ValueError when there is none)."""
        take = Take(self, number)
        if not take.record_path.is_file():
            raise ValueError(f"{self.root} has no take {number}")
        return take

    # -- the store of clips ------------------------------------------------------------------------
    def clip_dir(self, fingerprint: str) -> Path:
        """Where the clip with this fingerprint is stored."""
        return self.clips_dir / fingerprint

    def has_clip(self, fingerprint: str) -> bool:
        """Whether the clip with this fingerprint is on disk (completely: see the module doc)."""
        return (self.clip_dir(fingerprint) / "clip.json").is_file()

    def stored_clip(self, fingerprint: str) -> dict[str, Any]:
        """The metadata of a stored clip."""
        return _read_json(self.clip_dir(fingerprint) / "clip.json")

    def clip_frame_path(self, fingerprint: str, offset: int) -> Path:
        """The `offset`-th new frame of a stored clip."""
        return self.clip_dir(fingerprint) / "frames" / f"{offset:06d}.png"

    def store_clip(
        self, fingerprint: str, write_frames: Callable[[Path], int], metadata: dict[str, Any]
    ) -> None:
        """Store a clip: `write_frames(folder)` writes its frames (000000.png, ...) and returns how
        many; the metadata is written after them and the folder renamed into place at once. A clip
        stored meanwhile by another render wins (same fingerprint, same frames)."""
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        partial = self.clips_dir / f"{fingerprint}.partial-{uuid.uuid4().hex[:8]}"
        (partial / "frames").mkdir(parents=True)
        try:
            count = write_frames(partial / "frames")
            _write_json(partial / "clip.json", metadata | {"fingerprint": fingerprint, "frames": count})
            os.rename(partial, self.clip_dir(fingerprint))
        except OSError:
            if not self.has_clip(fingerprint):
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def write_preview(self, name: str, image: np.ndarray) -> Path:
        """Save a preview image (latest.png, clip_0003.png, ...)."""
        self.previews_dir.mkdir(parents=True, exist_ok=True)
        path = self.previews_dir / name
        write_png(path, image, replace=True)
        return path

    # -- takes -------------------------------------------------------------------------------------
    def new_take(
        self,
        plan: GenerationPlan,
        settings: dict[str, Any] | None,
        factors: Mapping[str, Any],
        *,
        reason: str,
        based_on: int | None = None,
    ) -> Take:
        """A new take of `plan` (numbered after the newest; never one that exists)."""
        self.takes_dir.mkdir(parents=True, exist_ok=True)
        self.previews_dir.mkdir(parents=True, exist_ok=True)
        number = max((int(e.name) for e in self.takes_dir.iterdir() if e.name.isdigit()), default=0) + 1
        while True:
            try:
                (self.takes_dir / f"{number:0{TAKE_DIGITS}d}").mkdir()
                break
            except FileExistsError:
                number += 1
        take = Take(self, number)
        _write_json(take.plan_path, plan.to_dict())
        if settings is not None:
            _write_json(take.settings_path, settings)
        record = {
            "take": number,
            "based_on": based_on,
            "reason": reason,
            "created": time.time(),
            "factors": dict(factors),
            "clips": list(clip_fingerprints(plan, factors)),
        }
        _write_json(take.record_path, record)  # last: the take exists from here on
        return take

    def start(
        self,
        plan: GenerationPlan,
        settings: dict[str, Any] | None,
        *,
        mode: Mode,
        factors: Mapping[str, Any],
        output: Mapping[str, Any] | None = None,
    ) -> Take:
        """The take a render of `plan` writes into (see the module doc for the modes); `output`:
        the render's output options (RenderOptions.output_record), with which a resume of a
        finished take whose output they made is that take itself."""
        if mode == "new":
            if self.is_run():
                raise ResumeMismatchError(
                    f"{self.root} already holds a run; resume it, re-render what changed with --from "
                    "(from_run), or choose another folder"
                )
            return self.new_take(plan, settings, factors, reason="new")
        self._convert_legacy(factors)
        latest = self.latest()
        if mode == "resume":
            if latest is None:
                raise ResumeMismatchError(
                    f"{self.root} is not a run folder: it has no takes/ and no plan.json"
                )
            differences = _differences(_read_json(latest.plan_path), plan.to_dict())
            if differences:
                shown = ", ".join(differences[:8]) + (" ..." if len(differences) > 8 else "")
                raise ResumeMismatchError(
                    f"{self.root} holds a different plan (differs in {shown}); refusing to mix clips of "
                    "two plans. Re-render what changed with --from (from_run), or resume with the "
                    "settings of that run."
                )
            same = latest.fingerprints == clip_fingerprints(plan, factors)
            if same and (not latest.finished or (output is not None and latest.current_output(output))):
                return latest
            return self.new_take(plan, settings, factors, reason="resume", based_on=latest.number)
        if latest is None:
            return self.new_take(plan, settings, factors, reason="new")
        if latest.continues(plan, settings, factors):
            return latest
        return self.new_take(plan, settings, factors, reason="revise", based_on=latest.number)

    def reuse(self, plan: GenerationPlan, factors: Mapping[str, Any]) -> list[ClipReuse]:
        """What a render of `plan` here would do with each clip (no torch; reads only metadata)."""
        self._convert_legacy(factors)
        new = clip_materials(plan, factors)
        fingerprints = clip_fingerprints(plan, factors)
        latest = self.latest()
        old: list[dict[str, Any]] = []
        if latest is not None:
            old = clip_materials(latest.plan, latest.record.get("factors", factors))
        rows = []
        for clip, fingerprint, material in zip(plan.clips, fingerprints, new, strict=True):
            if self.has_clip(fingerprint):
                rows.append(
                    ClipReuse(clip.index, fingerprint, True, self.stored_clip(fingerprint).get("take"))
                )
                continue
            changed = what_changed(old[clip.index], material) if clip.index < len(old) else ["new clip"]
            rows.append(
                ClipReuse(clip.index, fingerprint, False, None, tuple(changed) or ("not rendered yet",))
            )
        return rows

    # -- the earlier layout ------------------------------------------------------------------------
    def _convert_legacy(self, factors: Mapping[str, Any]) -> None:
        """Make a run folder of the earlier layout take 001 (see the module doc)."""
        if self.takes() or not self.legacy_plan_path.is_file():
            return
        plan = GenerationPlan.from_dict(_read_json(self.legacy_plan_path))
        settings_path = self.root / "settings.json"
        settings = _read_json(settings_path) if settings_path.is_file() else None
        fingerprints = clip_fingerprints(plan, factors)
        for clip, fingerprint in zip(plan.clips, fingerprints, strict=True):
            metadata_path = self.clips_dir / f"{clip.index:04d}.json"
            sources = [
                self.root / "model_frames" / f"{i:06d}.png"
                for i in range(clip.model_start_frame, clip.model_end_frame)
            ]
            if (
                self.has_clip(fingerprint)
                or not metadata_path.is_file()
                or not all(p.is_file() for p in sources)
            ):
                continue

            def link(folder: Path, sources: list[Path] = sources) -> int:
                for offset, source in enumerate(sources):
                    _link_or_copy(source, folder / f"{offset:06d}.png")
                return len(sources)

            self.store_clip(fingerprint, link, _read_json(metadata_path) | {"take": 1})
        take = self.new_take(plan, settings, factors, reason="converted from the earlier run folder layout")
        old_metrics, old_video = self.root / "metrics.json", self.root / "video.mp4"
        if old_metrics.is_file() and all(self.has_clip(f) for f in fingerprints):
            if old_video.is_file():
                _link_or_copy(old_video, take.video_path)
            _link_or_copy(old_metrics, take.metrics_path)


class Take:
    """One take of a run folder: its plan, the stored clip of each index, its output."""

    def __init__(self, run: RunFolder, number: int) -> None:
        self.run = run
        self.number = number
        self.root = run.takes_dir / f"{number:0{TAKE_DIGITS}d}"
        self.plan_path = self.root / "plan.json"
        self.settings_path = self.root / "settings.json"
        self.record_path = self.root / "take.json"
        self.metrics_path = self.root / "metrics.json"
        self.video_path = self.root / "video.mp4"
        self.frames_dir = self.root / "frames"
        self.previews_dir = run.previews_dir

    @cached_property
    def record(self) -> dict[str, Any]:
        """take.json: number, based_on, reason, created, factors, clips (fingerprints)."""
        return _read_json(self.record_path)

    @cached_property
    def plan(self) -> GenerationPlan:
        """The plan this take follows."""
        return GenerationPlan.from_dict(_read_json(self.plan_path))

    @cached_property
    def settings(self) -> dict[str, Any] | None:
        """The settings its plan came from (None when not known)."""
        return _read_json(self.settings_path) if self.settings_path.is_file() else None

    @property
    def fingerprints(self) -> tuple[str, ...]:
        """The fingerprint of each clip, by index."""
        return tuple(self.record["clips"])

    @property
    def finished(self) -> bool:
        """Whether its output is written (metrics.json is written last)."""
        return self.metrics_path.is_file()

    def auto_picked(self) -> dict[str, Any] | None:
        """The frame factors this take was rendered with when its weights setting was `auto` (or
        its settings are not known), which hold the format `auto` picked; else None."""
        asked = (self.settings or {}).get("weights", "auto")
        return self.record.get("factors") if asked == "auto" else None

    def current_output(self, output: Mapping[str, Any]) -> dict[str, Any] | None:
        """The take's metrics when it is finished, its output was made with these output options
        (RenderOptions.output_record) and is all there (the video, every output frame); else None."""
        try:
            metrics = _read_json(self.metrics_path)
        except (OSError, ValueError):
            return None
        if not isinstance(metrics, dict) or metrics.get("output") != dict(output):
            return None
        if output.get("write_video") and not self.video_path.is_file():
            return None
        frames = (self.frames_dir / f"{index:06d}.png" for index in range(self.plan.output_frames))
        if output.get("save_frames") and not all(path.is_file() for path in frames):
            return None
        return metrics

    @property
    def based_on(self) -> int | None:
        """The take this one was made from (None for a first take)."""
        return self.record.get("based_on")

    def continues(
        self, plan: GenerationPlan, settings: dict[str, Any] | None, factors: Mapping[str, Any]
    ) -> bool:
        """Whether a render of `plan` with `settings` is this unfinished take going on."""
        return (
            not self.finished
            and self.fingerprints == clip_fingerprints(plan, factors)
            and _read_json(self.plan_path) == plan.to_dict()
            and (settings is None or self.settings == settings)
        )

    # -- clips -------------------------------------------------------------------------------------
    @cached_property
    def _frame_map(self) -> tuple[list[int], list[tuple[int, str]]]:
        clips = self.plan.clips
        starts = [clip.model_start_frame for clip in clips]
        return starts, [
            (clip.model_start_frame, fp) for clip, fp in zip(clips, self.fingerprints, strict=True)
        ]

    def model_frame_path(self, index: int) -> Path:
        """Where model frame `index` of this take is (in the store, under its clip)."""
        starts, owners = self._frame_map
        position = bisect.bisect_right(starts, index) - 1
        if position < 0:
            raise IndexError(f"model frame {index} is before the first clip")
        start, fingerprint = owners[position]
        return self.run.clip_frame_path(fingerprint, index - start)

    def read_model_frames(self, indices: Iterable[int]) -> np.ndarray:
        """Model frames by index, as uint8 RGB (F, H, W, 3)."""
        return np.stack([read_png(self.model_frame_path(i)) for i in indices])

    def clip_frames(self, index: int) -> np.ndarray:
        """Every new frame of clip `index`."""
        clip = self.plan.clips[index]
        return self.read_model_frames(range(clip.model_start_frame, clip.model_end_frame))

    def is_finished(self, clip: ClipPlan) -> bool:
        """Whether the clip is on disk (rendered by this take or an earlier one)."""
        return self.run.has_clip(self.fingerprints[clip.index])

    def first_unfinished(self, plan: GenerationPlan | None = None) -> int:
        """Index of the first clip that is not on disk (len(clips) when all are)."""
        for clip in (plan or self.plan).clips:
            if not self.is_finished(clip):
                return clip.index
        return len((plan or self.plan).clips)

    def write_clip(self, clip: ClipPlan, frames: np.ndarray, metadata: dict[str, Any]) -> None:
        """Store a finished clip's new frames, then its metadata (which marks it finished)."""
        if len(frames) != clip.new_frames:
            raise ValueError(
                f"clip {clip.index} has {len(frames)} new frames, the plan says {clip.new_frames}"
            )

        def write(folder: Path) -> int:
            for offset, frame in enumerate(frames):
                write_png(folder / f"{offset:06d}.png", frame)
            return len(frames)

        self.run.store_clip(self.fingerprints[clip.index], write, metadata | {"take": self.number})

    def clip_metadata(self, index: int) -> dict[str, Any]:
        """The metadata of a finished clip: as stored, with the take that rendered it, and
        whether this take reused it."""
        fingerprint = self.fingerprints[index]
        stored = self.run.stored_clip(fingerprint)
        origin = stored.get("take", self.number)
        return stored | {
            "index": index,
            "fingerprint": fingerprint,
            "take": origin,
            "reused": origin != self.number,
        }

    # -- output ------------------------------------------------------------------------------------
    def write_preview(self, name: str, image: np.ndarray) -> Path:
        """Save a preview image (latest.png, clip_0003.png, ...) in the run's previews/."""
        return self.run.write_preview(name, image)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Write metrics.json (the take is finished), then point the run's video.mp4 at this
        take's video."""
        _write_json(self.metrics_path, metrics)
        if self.video_path.is_file():
            temporary = self.run.video_path.with_name(f".video-{uuid.uuid4().hex[:8]}.mp4")
            _link_or_copy(self.video_path, temporary)
            os.replace(temporary, self.run.video_path)


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
