"""What the tab's buttons do, as plain functions of plain values (no gradio here), so every
action is tested without a browser and the Gradio callbacks are wiring only.

Form values arrive in FORM_KEYS order: the prompt schedule (JSON text), every settings key of
wan.ui.layout, then the LoRA rows (wan.ui.lora_rows), which become the one `loras` setting.
Every action goes through the JobService, so settings are validated as any
caller's are (only files in the allowed folders); a settings file a caller picks must be an
upload (inside `uploads`: a file value can name any path). Errors never raise into the UI:
each action returns a message that names the fields and what they allow.
"""

from __future__ import annotations

import datetime
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
    lora_search,
    save_settings,
)
from ..errors import WanError
from ..progress import STAGE_HEADERS, format_seconds, stage_rows
from ..prompts import EnhancedPrompt
from ..service import JobService
from .layout import all_section_keys
from .lora_rows import ROW_KEYS, loras_of_rows, row_values
from .quality_view import clip_quality_rows

FORM_KEYS = ("prompts", *all_section_keys(), *ROW_KEYS)
# numbers that may be left empty for "the default": shown as text boxes, "" meaning None
OPTIONAL_NUMBERS = frozenset(
    spec.key
    for _group, spec in all_specs()
    if isinstance(spec.check, (fields.Integer, fields.Number)) and spec.check.optional
)
MOVEMENT_HEADERS = ["clip", "frames", "seed", "movement", "prompt"]
ENHANCE_HEADERS = ["clip", "before", "after", "note"]
JOB_HEADERS = ["job", "state", "progress", "created", "video"]
MODEL_HEADERS = [
    "model",
    "kind",
    "fps / frames",
    "size in bf16",
    "GPU with nf4, offload",
    "on disk",
    "download",
]
STAGES_HEADERS = STAGE_HEADERS
_PRESET_NAME = re.compile(r"[A-Za-z0-9 _.-]{1,64}\Z")
# the job states shown with a live progress line
ACTIVE = ("running", "paused")
# the width of the camera curves beside the schedules, in inches
SIDE_PLOT_INCHES = 5.5


def describe(exc: BaseException) -> str:
    """An error in words for the tab (settings errors as a list of fields)."""
    if isinstance(exc, SettingsError):
        return str(exc).replace("\n  - ", "\n- ")
    return str(exc)


def warn(exc: BaseException | str) -> str:
    """A message that says something went wrong."""
    return "⚠ " + (exc if isinstance(exc, str) else describe(exc))


def prompts_text(config: WanConfig) -> str:
    """The prompt schedule as the JSON text the prompt box shows."""
    return json.dumps(dict(config.prompts), indent=2, ensure_ascii=False)


def blank_none(value: Any) -> Any:
    """None as the empty text an optional number's box shows."""
    return "" if value is None else value


def shown(key: str, value: Any) -> Any:
    """A setting's value as its control shows it: empty text for an optional number left to its
    default, JSON text for an object (clip_seeds)."""
    if key in OPTIONAL_NUMBERS:
        return blank_none(value)
    return json.dumps(value) if isinstance(value, dict) else value


def form_values(config: WanConfig, lora_names: dict[str, str] | None = None) -> list[Any]:
    """A config as form values, in FORM_KEYS order (`lora_names`: file -> the name the LoRA
    dropdown shows)."""
    data = config.to_dict()
    settings = FORM_KEYS[1 : len(FORM_KEYS) - len(ROW_KEYS)]
    return [
        prompts_text(config),
        *(shown(key, data[key]) for key in settings),
        *row_values(config.lora.loras, lora_names),
    ]


def settings_from_values(values: Sequence[Any]) -> dict[str, Any]:
    """The settings dict of the form (the prompt box must hold a JSON object)."""
    if len(values) != len(FORM_KEYS):
        raise SettingsError(
            [
                FieldError(
                    "form",
                    len(values),
                    f"the form sent the wrong number of values ({len(FORM_KEYS)} expected)",
                )
            ]
        )
    data = dict(zip(FORM_KEYS, values, strict=True))
    data["loras"] = loras_of_rows([data.pop(key) for key in ROW_KEYS])
    for key in OPTIONAL_NUMBERS & data.keys():
        if data[key] is None or (isinstance(data[key], str) and not data[key].strip()):
            data[key] = None
    text = data["prompts"] or "{}"
    try:
        data["prompts"] = json.loads(text) if isinstance(text, str) else text
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f": {exc.msg} at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        message = f'must be a JSON object such as {{"0": "a forest"}}{where}'
        raise SettingsError([FieldError("prompts", text, message)]) from None
    return data


def config_from_values(values: Sequence[Any]) -> WanConfig:
    """The validated config of the form (SettingsError names every bad field)."""
    return config_from_dict(settings_from_values(values))[0]


def progress_line(job: dict[str, Any]) -> str:
    """One line for a job: state, clip, step, speed and ETA."""
    progress = job.get("progress") or {}
    state = job["state"]
    parts = [state]
    active = state in ACTIVE
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
        and progress.get("kind") in ("loading", "encoding", "writing", "retry")
    ):
        parts.append(progress["message"])
    if job.get("error"):
        parts.append(job["error"])
    return " · ".join(parts)


def progress_bar(job: dict[str, Any] | None) -> str:
    """The progress bar's HTML for a job (drawn by the tab's own updates, so it needs no second
    request that credentials would have to reach)."""
    if job is None:
        return '<progress id="wan_progress_bar" max="1" value="0"></progress>'
    done = 1.0 if job["state"] == "succeeded" else float((job.get("progress") or {}).get("fraction", 0.0))
    return (
        f'<progress id="wan_progress_bar" max="1" value="{done:.4f}" data-state="{job["state"]}" '
        f'data-percent="{round(done * 100)}"></progress>'
    )


class TabActions:
    """The tab's actions over one JobService; `uploads`: where uploaded files may be read."""

    def __init__(self, service: JobService, *, uploads: Sequence[str | Path] = ()) -> None:
        self.service = service
        self.uploads = [Path(folder).resolve() for folder in uploads]

    @property
    def presets_dir(self) -> Path:
        """Where saved presets live."""
        return self.service.api.output_dir / "presets"

    def uploaded(self, path: str) -> Path:
        """An uploaded file's path; WanError for any other path (never read, never named)."""
        resolved = Path(path).resolve()
        if not any(resolved.is_relative_to(folder) for folder in self.uploads):
            raise WanError("that is not an uploaded file; choose the file with the file box")
        return resolved

    # -- settings ------------------------------------------------------------------------------
    def import_file(self, path: str | None) -> tuple[list[Any] | None, str]:
        """(form values, message) from an uploaded settings file: ours or a Deforum .txt."""
        if not path:
            return None, "Choose a settings file first."
        try:
            return self._read(self.uploaded(path), Path(path).name)
        except WanError as exc:
            return None, warn(exc)

    def upscaler_files(self) -> list[str]:
        """The upscaler files found (the upscaler folders; in the WebUI also its ESRGAN, RealESRGAN
        and SwinIR folders): what the upscale_model dropdown offers."""
        return self.service.api.list_upscalers()

    def lora_names(self) -> dict[str, str]:
        """The LoRAs found, by name (what the LoRA dropdowns offer)."""
        return {found["name"]: found["file"] for found in self.service.api.list_loras()}

    def _read(self, path: Path, name: str) -> tuple[list[Any] | None, str]:
        try:
            with lora_search(self.service.api.lora_folders()):
                config, report = load_settings(path)
        except WanError as exc:
            return None, warn(exc)
        notes = "\n".join(f"- {line}" for line in report.lines())
        shown = {file: name for name, file in self.lora_names().items()}
        return form_values(config, shown), f"Imported {name}." + (f"\n{notes}" if notes else "")

    def preset_names(self) -> list[str]:
        """Saved presets, by name."""
        return sorted(p.stem for p in self.presets_dir.glob("*.json"))

    def save_preset(self, name: str, values: Sequence[Any]) -> str:
        """Save the form as a named preset."""
        if not _PRESET_NAME.match(name or ""):
            return warn("A preset name is 1-64 letters, digits, spaces, '.', '_' or '-'.")
        try:
            config = self.service.settings(settings_from_values(values))
        except WanError as exc:
            return warn(exc)
        self.presets_dir.mkdir(parents=True, exist_ok=True)
        save_settings(config, self.presets_dir / f"{name}.json")
        return f"Saved preset {name}."

    def load_preset(self, name: str) -> tuple[list[Any] | None, str]:
        """(form values, message) of a saved preset."""
        path = self.presets_dir / f"{name}.json"
        if not _PRESET_NAME.match(name or "") or not path.is_file():
            return None, warn(f"No preset called {name!r}.")
        return self._read(path, path.name)

    def export_settings(self, values: Sequence[Any]) -> tuple[str | None, str]:
        """(path of a settings JSON file of the form, message), for download."""
        try:
            config = self.service.settings(settings_from_values(values))
        except WanError as exc:
            return None, warn(exc)
        folder = Path(tempfile.mkdtemp(prefix="wan-settings-"))
        path = folder / "wan_settings.json"
        save_settings(config, path)
        return str(path), "Settings ready to download."

    # -- analysis ------------------------------------------------------------------------------
    def analyse(self, values: Sequence[Any], *, plot: bool = True) -> tuple[list[list[Any]], str | None, str]:
        """(per-clip rows, plot image path or None, message): the plan and each clip's movement."""
        try:
            config = self.service.settings(settings_from_values(values))
            plan = self.service.api.create_generation_plan(config)
        except WanError as exc:
            return [], None, warn(exc)
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
        image = self._plot(config, plan.seed) if plot else None
        summary = (
            f"{len(plan.clips)} clip(s), {plan.model_frames} model frames at {plan.model_fps} fps → "
            f"{plan.output_frames} frames at {plan.output_fps:g} fps ({plan.duration_seconds:.1f} s)."
        )
        warnings = "".join(f"\n- {w}" for w in plan.warnings)
        return rows, image, summary + warnings

    def camera_plot(self, values: Sequence[Any]) -> tuple[str | None, str]:
        """(plot image path or None, message): the camera curves of the form's schedules."""
        try:
            config = self.service.settings(settings_from_values(values))
        except WanError as exc:
            return None, warn(exc)
        image = self._plot(config, config.seed if config.seed >= 0 else 0, width=SIDE_PLOT_INCHES)
        return image, "" if image else "The camera plot needs matplotlib (pip install matplotlib)."

    def _plot(self, config: WanConfig, seed: int, *, width: float = 11.0) -> str | None:
        from ..movement.plot import plot_camera
        from ..plan import camera_path, movement_by_prompt

        folder = Path(tempfile.mkdtemp(prefix="wan-movement-"))
        try:
            path = camera_path(config, seed)
            segments = movement_by_prompt(config, seed=seed)
            return str(plot_camera(path, segments, folder / "camera.png", width=width))
        except RuntimeError:  # matplotlib missing: the table is enough
            return None

    def preview_enhancement(self, values: Sequence[Any]) -> tuple[list[list[Any]], str]:
        """(before/after rows, message): every clip's prompt enhanced as the form says."""
        from ..plan import enhancement_requests, with_enhancement

        try:
            data = settings_from_values(values)
            config = self.service.settings(data)
            plan = self.service.api.create_generation_plan(config)
            woven = config.enhancement.movement_context
            prompts, contexts = enhancement_requests(plan, woven=woven)
            asked = [{"movement": c.movement, "style": c.style} for c in contexts]
            results = [
                EnhancedPrompt.from_dict(r) for r in self.service.enhance(prompts, asked, data).result()
            ]
        except WanError as exc:
            return [], warn(exc)
        enhanced = with_enhancement(plan, results, woven=woven, movement_mode=config.movement.mode)
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
        except WanError as exc:
            return "", warn(exc)
        return job_id, f"Queued job {job_id[:8]}."

    def submit_files(self, paths: Sequence[str]) -> str:
        """Queue several uploaded settings files as one batch (each ours or Deforum's)."""
        if not paths:
            return "Choose one or more settings files."
        settings = []
        for path in paths:
            try:
                config, _report = load_settings(self.uploaded(path))
            except WanError as exc:
                return warn(f"{Path(path).name}: {describe(exc)}")
            settings.append(config.to_dict())
        try:
            batch, ids = self.service.submit(settings)
        except WanError as exc:
            return warn(exc)
        return f"Queued batch {batch[:8]}: {len(ids)} job(s)."

    def status(self, job_id: str) -> dict[str, Any]:
        """What the generate panel shows for a job: progress line and bar, preview, video, metrics."""
        empty = {
            "progress": "",
            "bar": progress_bar(None),
            "preview": None,
            "video": None,
            "metrics": None,
            "stages": None,
            "clip_quality": None,
            "quality_plot": None,
            "state": "",
        }
        if not job_id:
            return empty
        try:
            job = self.service.get(job_id)
        except WanError:
            return empty | {"progress": warn(f"job {job_id[:8]} is unknown")}
        preview = self.service.preview(job.id)
        video = self.service.video(job.id)
        view = job.to_dict()
        metrics = job.result.get("metrics") if job.result else None
        return {
            "progress": progress_line(view),
            "bar": progress_bar(view),
            "preview": str(preview) if preview else None,
            "video": str(video) if video else None,
            "metrics": metrics,
            "stages": stage_rows(metrics.get("stages")) if metrics else None,
            "clip_quality": clip_quality_rows(metrics) if metrics else None,
            "quality_plot": str(plot) if (plot := self.service.file(job.id, _quality_plot(job))) else None,
            "state": job.state,
        }

    def settled(self, job_id: str) -> bool:
        """Whether there is nothing more to follow: no job, or one that needs no worker."""
        return not job_id or self.service.settled(job_id)

    def act(self, action: str, job_id: str) -> str:
        """pause / resume / cancel a job; a message either way."""
        if not job_id:
            return "No job yet."
        method = {"pause": self.service.pause, "resume": self.service.resume, "cancel": self.service.cancel}[
            action
        ]
        try:
            job = method(job_id)
        except WanError as exc:
            return warn(exc)
        return f"Job {job_id[:8]} is {job.state}."

    def job_rows(self, limit: int = 50) -> list[list[Any]]:
        """The queue and history, newest first."""
        rows = []
        for job in self.service.list(limit=limit):
            created = datetime.datetime.fromtimestamp(job.created).strftime("%Y-%m-%d %H:%M:%S")
            video = job.result.get("video") if job.result else None
            rows.append([job.id, job.state, progress_line(job.to_dict()), created, video or ""])
        return rows

    # -- model files -----------------------------------------------------------------------------
    @staticmethod
    def model_facts(model: str | None) -> str:
        """What the chosen model makes and its defaults, in a line (what null settings become)."""
        from ..catalog import known_model

        spec = known_model(model or "")
        if spec is None:
            return ""
        sizes = " or ".join(f"{w}×{h}" for w, h in spec.sizes)
        guidance = f"{spec.default_guidance:g}"
        if spec.default_guidance_2 is not None:
            guidance += f" (high noise) / {spec.default_guidance_2:g} (low noise)"
        shift = f"{spec.flow_shift:g}" if spec.flow_shift is not None else "3 at 480p, 5 at 720p"
        experts = f", {spec.experts} experts (boundary {spec.boundary_ratio:g})" if spec.experts > 1 else ""
        return (
            f"**{spec.id}**{experts}: {spec.native_fps} fps, clips of up to {spec.max_frames} frames, "
            f"trained at {sizes} (sizes in multiples of {spec.size_multiple}); defaults: "
            f"{spec.default_steps} steps, guidance {guidance}, flow shift {shift}."
        )

    def model_rows(self) -> list[list[Any]]:
        """The video models: what they are, their size, whether they are here, their download."""
        downloads = self.service.downloads.status()
        rows = []
        for row in self.service.api.list_models()["models"]:
            if row["tiny"]:
                continue
            download = downloads.get(row["id"])
            experts = f" ({row['experts']} experts)" if row["experts"] > 1 else ""
            nf4 = row["memory_gb"]["nf4"]["offload"] if row["memory_gb"] else None
            rows.append(
                [
                    row["id"],
                    row["kind"] + experts,
                    f"{row['fps']} fps, {row['max_frames']}",
                    f"{row['download_gb']:.1f} GB",
                    f"{nf4:.1f} GB" if nf4 is not None else "",
                    row["present"] or "no",
                    f"{download['state']}: {download['line']}" if download else "",
                ]
            )
        return rows

    def downloadable(self) -> list[str]:
        """The ids of the models a download can fetch."""
        return [row[0] for row in self.model_rows()]

    def download(self, model_id: str | None) -> str:
        """Start downloading a model in a runtime process; a message."""
        if not model_id:
            return warn("pick a model to download")
        try:
            return self.service.download_model(model_id)
        except WanError as exc:
            return warn(exc)

    def downloading(self) -> bool:
        """Whether a download is running."""
        return self.service.downloads.active()

    # -- the runtime -----------------------------------------------------------------------------
    def runtime_message(self) -> str:
        """Whether jobs can run here, in a line (with what to do when they cannot)."""
        problem = self.service.problem()
        if problem is None:
            return ""
        return f"⚠ **Generation is unavailable here.** {problem}"

    def prepare_runtime(self) -> str:
        """Prepare (or rebuild) the runtime environment in the background."""
        return self.service.prepare_runtime()


def _quality_plot(job: Any) -> str:
    """Where a job's quality plot is in its run folder: in the take it wrote."""
    take = job.result.get("take") if job.result else None
    return f"takes/{take:03d}/quality.png" if isinstance(take, int) else "quality.png"
