"""What the tab's buttons do, as plain functions of plain values (no gradio here), so every
action is tested without a browser and the Gradio callbacks are wiring only.

Form values arrive in FORM_KEYS order: the prompt schedule (JSON text), then every settings key
of wan.ui.layout. Settings errors never raise into the UI: each action returns a message that
names the fields and what they allow.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import (
    FieldError,
    SettingsError,
    WanConfig,
    all_specs,
    config_from_dict,
    fields,
    load_settings,
    save_settings,
)
from ..progress import format_seconds
from ..service import IllegalTransition, JobNotFound, JobService
from .layout import RESOLUTIONS, all_section_keys

FORM_KEYS = ("prompts", *all_section_keys())
# numbers that may be left empty for "the default": shown as text boxes, "" meaning None
OPTIONAL_NUMBERS = frozenset(
    spec.key
    for _group, spec in all_specs()
    if isinstance(spec.check, (fields.Integer, fields.Number)) and spec.check.optional
)
MOVEMENT_HEADERS = ["clip", "frames", "seed", "movement", "prompt"]
ENHANCE_HEADERS = ["clip", "before", "after", "note"]
JOB_HEADERS = ["job", "state", "progress", "created", "video"]
_PRESET_NAME = re.compile(r"[A-Za-z0-9 _.-]{1,64}\Z")


def _problem(exc: Exception) -> str:
    if isinstance(exc, SettingsError):
        return "⚠ " + str(exc).replace("\n  - ", "\n- ")
    return f"⚠ {exc}"


def prompts_text(config: WanConfig) -> str:
    """The prompt schedule as the JSON text the prompt box shows."""
    return json.dumps(dict(config.prompts), indent=2, ensure_ascii=False)


def blank_none(value: Any) -> Any:
    """None as the empty text an optional number's box shows."""
    return "" if value is None else value


def form_values(config: WanConfig) -> list[Any]:
    """A config as form values, in FORM_KEYS order."""
    data = config.to_dict()
    return [
        prompts_text(config),
        *(blank_none(data[key]) if key in OPTIONAL_NUMBERS else data[key] for key in FORM_KEYS[1:]),
    ]


def settings_from_values(values: Sequence[Any]) -> dict[str, Any]:
    """The settings dict of the form (the prompt box must hold a JSON object)."""
    if len(values) != len(FORM_KEYS):
        raise ValueError(f"the form sent {len(values)} values, expected {len(FORM_KEYS)}")
    data = dict(zip(FORM_KEYS, values, strict=True))
    for key in OPTIONAL_NUMBERS & data.keys():
        if data[key] is None or (isinstance(data[key], str) and not data[key].strip()):
            data[key] = None
    text = data["prompts"] or "{}"
    try:
        data["prompts"] = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as exc:
        message = f'must be a JSON object such as {{"0": "a forest"}}: {exc.msg} at character {exc.pos}'
        raise SettingsError([FieldError("prompts", text, message)]) from None
    return data


def config_from_values(values: Sequence[Any]) -> WanConfig:
    """The validated config of the form (SettingsError names every bad field)."""
    return config_from_dict(settings_from_values(values))[0]


def resolution_values(label: str) -> tuple[int, int]:
    """(W, H) of a resolution preset label."""
    for name, width, height in RESOLUTIONS:
        if name == label:
            return width, height
    raise ValueError(f"unknown resolution preset {label!r}")


def progress_line(job: dict[str, Any]) -> str:
    """One line for a job: state, clip, step, speed and ETA."""
    progress = job.get("progress") or {}
    state = job["state"]
    parts = [state]
    active = state in ("running", "paused")
    if progress.get("clips"):
        parts.append(
            f"clip {progress.get('clip', 0) + 1}/{progress['clips']}"
            if active
            else f"{progress['clips']} clip(s)"
        )
    if progress.get("steps") and active:
        parts.append(f"step {progress.get('step', 0)}/{progress['steps']}")
    if progress.get("seconds_per_step"):
        parts.append(f"{progress['seconds_per_step']:.2f} s/step")
    if state == "running" and progress.get("eta_seconds") is not None:
        parts.append(f"ETA {format_seconds(progress['eta_seconds'])}")
    if progress.get("frames_total"):
        parts.append(f"frames {progress.get('frames_done', 0)}/{progress['frames_total']}")
    if (
        progress.get("message")
        and state == "running"
        and progress.get("kind") in ("loading", "encoding", "writing", "retry", "enhancing")
    ):
        parts.append(progress["message"])
    if job.get("error"):
        parts.append(job["error"])
    return " · ".join(parts)


class TabActions:
    """The tab's actions over one JobService."""

    def __init__(self, service: JobService) -> None:
        self.service = service

    @property
    def presets_dir(self) -> Path:
        """Where saved presets live."""
        return self.service.api.output_dir / "presets"

    # -- settings ------------------------------------------------------------------------------
    def import_file(self, path: str | None) -> tuple[list[Any] | None, str]:
        """(form values, message) from a settings file: ours or a Deforum settings .txt."""
        if not path:
            return None, "Choose a settings file first."
        try:
            config, report = load_settings(path)
        except (SettingsError, ValueError, OSError) as exc:
            return None, _problem(exc)
        notes = "\n".join(f"- {line}" for line in report.lines())
        return form_values(config), f"Imported {Path(path).name}." + (f"\n{notes}" if notes else "")

    def preset_names(self) -> list[str]:
        """Saved presets, by name."""
        return sorted(p.stem for p in self.presets_dir.glob("*.json"))

    def save_preset(self, name: str, values: Sequence[Any]) -> str:
        """Save the form as a named preset."""
        if not _PRESET_NAME.match(name or ""):
            return "⚠ A preset name is 1-64 letters, digits, spaces, '.', '_' or '-'."
        try:
            config = config_from_values(values)
        except (SettingsError, ValueError) as exc:
            return _problem(exc)
        self.presets_dir.mkdir(parents=True, exist_ok=True)
        save_settings(config, self.presets_dir / f"{name}.json")
        return f"Saved preset {name}."

    def load_preset(self, name: str) -> tuple[list[Any] | None, str]:
        """(form values, message) of a saved preset."""
        if not _PRESET_NAME.match(name or "") or not (self.presets_dir / f"{name}.json").is_file():
            return None, f"⚠ No preset called {name!r}."
        return self.import_file(str(self.presets_dir / f"{name}.json"))

    def export_settings(self, values: Sequence[Any]) -> tuple[str | None, str]:
        """(path of a settings JSON file of the form, message), for download."""
        try:
            config = config_from_values(values)
        except (SettingsError, ValueError) as exc:
            return None, _problem(exc)
        folder = Path(tempfile.mkdtemp(prefix="wan-settings-"))
        path = folder / "wan_settings.json"
        save_settings(config, path)
        return str(path), "Settings ready to download."

    # -- analysis ------------------------------------------------------------------------------
    def analyse(self, values: Sequence[Any], *, plot: bool = True) -> tuple[list[list[Any]], str | None, str]:
        """(per-clip rows, plot image path or None, message): the plan and each clip's movement."""
        try:
            config = config_from_values(values)
            plan = self.service.api.create_generation_plan(config)
        except (SettingsError, ValueError) as exc:
            return [], None, _problem(exc)
        rows = [
            [
                clip.index,
                f"{clip.start_frame}-{max(clip.end_frame - 1, clip.start_frame)}",
                clip.seed,
                clip.movement.description,
                clip.prompt,
            ]
            for clip in plan.clips
        ]
        image = self._plot(config) if plot else None
        summary = (
            f"{len(plan.clips)} clip(s), {plan.model_frames} model frames at {plan.model_fps} fps → "
            f"{plan.output_frames} frames at {plan.output_fps:g} fps ({plan.duration_seconds:.1f} s)."
        )
        warnings = "".join(f"\n- {w}" for w in plan.warnings)
        return rows, image, summary + warnings

    def _plot(self, config: WanConfig) -> str | None:
        try:
            from ..movement import CameraPath, analyze_segments
            from ..movement.plot import plot_camera
        except ImportError:
            return None
        folder = Path(tempfile.mkdtemp(prefix="wan-movement-"))
        try:
            return str(
                plot_camera(CameraPath.from_config(config), analyze_segments(config), folder / "camera.png")
            )
        except RuntimeError:  # matplotlib missing: the table is enough
            return None

    def preview_enhancement(
        self, values: Sequence[Any], *, wait_seconds: float = 1.0
    ) -> tuple[list[list[Any]], str]:
        """(before/after rows, message): every clip's prompt enhanced as the form says."""
        from ..prompts import EnhancerError

        try:
            config = config_from_values(values)
            plan = self.service.api.create_generation_plan(config)
        except (SettingsError, ValueError) as exc:
            return [], _problem(exc)
        lock = self.service.worker.gpu_lock
        local = config.enhancement.backend == "qwen"
        if local and not lock.acquire(timeout=wait_seconds):
            return [], "⚠ The GPU is busy with a generation; preview the enhancement when it is done."
        try:
            enhanced, results = self.service.api.enhance_plan(plan, config)
        except (EnhancerError, OSError, ValueError) as exc:
            return [], _problem(exc)
        finally:
            if local:
                lock.release()
        rows = [
            [clip.index, before.prompt, clip.prompt, clip.enhancement]
            for before, clip in zip(plan.clips, enhanced.clips, strict=True)
        ]
        changed = sum(r.changed for r in results)
        return rows, f"{changed} of {len(results)} prompt(s) rewritten."

    # -- jobs ----------------------------------------------------------------------------------
    def generate(self, values: Sequence[Any]) -> tuple[str, str]:
        """(job id or '', message): queue the form as a job."""
        try:
            _batch, (job_id,) = self.service.submit(settings_from_values(values))
        except (SettingsError, ValueError) as exc:
            return "", _problem(exc)
        return job_id, f"Queued job {job_id[:8]}."

    def submit_files(self, paths: Sequence[str]) -> str:
        """Queue several settings files as one batch (each ours or Deforum's)."""
        if not paths:
            return "Choose one or more settings files."
        settings = []
        for path in paths:
            try:
                config, _report = load_settings(path)
            except (SettingsError, ValueError, OSError) as exc:
                return f"⚠ {Path(path).name}: {_problem(exc)[2:]}"
            settings.append(config.to_dict())
        try:
            batch, ids = self.service.submit(settings)
        except SettingsError as exc:
            return _problem(exc)
        return f"Queued batch {batch[:8]}: {len(ids)} job(s)."

    def status(self, job_id: str) -> dict[str, Any]:
        """What the generate panel shows for a job: progress line, preview, video, metrics."""
        empty = {"progress": "", "preview": None, "video": None, "metrics": None, "state": ""}
        if not job_id:
            return empty
        try:
            job = self.service.get(job_id)
        except JobNotFound:
            return empty | {"progress": f"⚠ job {job_id[:8]} is unknown"}
        preview = self._latest_preview(job.id)
        video = self.service.file(job.id, "video.mp4") if job.state == "succeeded" else None
        metrics = job.result.get("metrics") if job.result else None
        return {
            "progress": progress_line(job.to_dict()),
            "preview": str(preview) if preview else None,
            "video": str(video) if video else None,
            "metrics": metrics,
            "state": job.state,
        }

    def _latest_preview(self, job_id: str) -> Path | None:
        """The newest preview image: the live one, or the last frame of the newest finished clip."""
        images = list(self.service.store.run_dir(job_id).glob("previews/*.png"))
        if not images:
            return None
        newest = max(images, key=lambda path: path.stat().st_mtime_ns)
        return self.service.file(job_id, f"previews/{newest.name}")

    def settled(self, job_id: str) -> bool:
        """Whether there is nothing more to follow: no job, a finished one, or no worker."""
        if not job_id or not self.service.worker.alive:
            return True
        try:
            return self.service.get(job_id).state in ("succeeded", "failed", "cancelled", "interrupted")
        except JobNotFound:
            return True

    def act(self, action: str, job_id: str) -> str:
        """pause / resume / cancel a job; a message either way."""
        if not job_id:
            return "No job yet."
        method = {"pause": self.service.pause, "resume": self.service.resume, "cancel": self.service.cancel}[
            action
        ]
        try:
            job = method(job_id)
        except (IllegalTransition, JobNotFound) as exc:
            return f"⚠ {exc}"
        return f"Job {job_id[:8]} is {job.state}."

    def job_rows(self, limit: int = 50) -> list[list[Any]]:
        """The queue and history, newest first."""
        import datetime

        rows = []
        for job in self.service.list(limit=limit):
            created = datetime.datetime.fromtimestamp(job.created).strftime("%Y-%m-%d %H:%M:%S")
            video = job.result.get("video") if job.result else None
            rows.append([job.id, job.state, progress_line(job.to_dict()), created, video or ""])
        return rows
