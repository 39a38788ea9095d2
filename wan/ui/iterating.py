"""What the tab's iteration controls do, as plain functions of plain values (no gradio here):
the clip timeline of a run (each clip's first and last frame, prompt, seed, the take that
rendered it, quality flags), re-roll and edit of one clip, "Re-render changes" (which clips are
reused and which rendered, before anything starts), new settings for a running job, and preview
then "render this".

A timeline row is (clip, frames, seed, take or what a re-render does, flags, prompt). Form values
arrive in FORM_KEYS order, as for wan.ui.actions; every action answers with a message and never
raises into the UI.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import WanConfig
from ..errors import WanError
from ..plan import GenerationPlan
from ..render.run_folder import ClipReuse, Take, read_png
from ..seeds import SEED_SPACE, random_seed
from .actions import FORM_KEYS, TabActions, settings_from_values, warn

TIMELINE_HEADERS = ["clip", "frames", "seed", "take (or what a re-render does)", "flags", "prompt"]
THUMBNAIL_HEIGHT = 96
SEAM_WARNING = 3.0  # the quality report's seam threshold


def _frames(start: int, end: int) -> str:
    return f"{start}-{end - 1}" if end > start else "-"


def _thumbnail(take: Take, index: int, folder: Path) -> str:
    """The clip's first and last frame side by side (kept per fingerprint: a clip never changes)."""
    target = folder / f"{take.fingerprints[index]}.png"
    if not target.is_file():
        from PIL import Image

        clip = take.plan.clips[index]
        first = read_png(take.model_frame_path(clip.model_start_frame))
        last = read_png(take.model_frame_path(clip.model_end_frame - 1))
        gap = np.full((first.shape[0], max(2, first.shape[1] // 32), 3), 255, np.uint8)
        image = Image.fromarray(np.concatenate([first, gap, last], axis=1))
        scale = THUMBNAIL_HEIGHT / image.height
        image = image.resize((max(1, round(image.width * scale)), THUMBNAIL_HEIGHT))
        temporary = target.with_name(target.name + ".tmp.png")
        image.save(temporary)
        temporary.replace(target)
    return str(target)


def _flags(take: Take, index: int, metrics: dict[str, Any]) -> list[str]:
    """Quality flags of one clip: black frames, and a visible seam at the join where it starts."""
    flags = []
    clips = metrics.get("clips") or []
    if index < len(clips) and clips[index].get("black_frames"):
        flags.append(f"{clips[index]['black_frames']} black frame(s)")
    quality = metrics.get("quality") or {}
    clip = take.plan.clips[index]
    if index > 0:
        for join, ratio in zip(quality.get("joins", []), quality.get("seam_ratios", []), strict=False):
            if abs(join - clip.start_frame) <= 1 and ratio > SEAM_WARNING:
                flags.append(f"seam {ratio:.1f}")
    broken = [f for f in quality.get("black_frames", []) if clip.start_frame <= f < clip.end_frame]
    if broken and not flags:
        flags.append(f"{len(broken)} broken frame(s)")
    return flags


def take_timeline(take: Take, thumbnails: Path) -> tuple[list[tuple[str, str]], list[int], list[list[Any]]]:
    """(gallery items (thumbnail, caption), the clip of each item, table rows) of a take: a
    gallery item per clip on disk, a row per clip."""
    metrics = json.loads(take.metrics_path.read_text(encoding="utf-8")) if take.finished else {}
    gallery, shown, rows = [], [], []
    for clip in take.plan.clips:
        on_disk = take.is_finished(clip)
        origin = take.run.stored_clip(take.fingerprints[clip.index]).get("take") if on_disk else None
        flags = _flags(take, clip.index, metrics) if on_disk else ["not rendered yet"]
        frames = _frames(clip.start_frame, clip.end_frame)
        rows.append([clip.index, frames, clip.seed, origin or "-", ", ".join(flags), clip.prompt])
        if on_disk:
            caption = f"clip {clip.index} · {frames} · seed {clip.seed} · take {origin}"
            caption += "".join(f" · ⚠ {flag}" for flag in flags)
            gallery.append((_thumbnail(take, clip.index, thumbnails), caption))
            shown.append(clip.index)
    return gallery, shown, rows


def plan_timeline(plan: GenerationPlan, reuse: Sequence[ClipReuse] = ()) -> list[list[Any]]:
    """Table rows of a plan; with `reuse`, what a re-render does with each clip."""
    by_index = {row.index: row for row in reuse}
    rows = []
    for clip in plan.clips:
        row = by_index.get(clip.index)
        if row is None:
            status = "planned"
        elif row.reused:
            status = f"reuse (take {row.take})"
        else:
            status = "render: " + ", ".join(row.changed) + " changed"
        rows.append(
            [clip.index, _frames(clip.start_frame, clip.end_frame), clip.seed, status, "", clip.prompt]
        )
    return rows


def reuse_summary(rows: Sequence[ClipReuse]) -> str:
    """One line: which clips a re-render renders and which it reuses."""
    rendered = [row.index for row in rows if not row.reused]
    reused = [row.index for row in rows if row.reused]
    if not rendered:
        return f"Nothing to render: all {len(rows)} clip(s) are reused (only the output is made again)."
    first = rows[rendered[0]]
    why = ", ".join(first.changed)
    kept = _runs(reused) or "none"
    return (
        f"Renders {len(rendered)} clip(s) ({_runs(rendered)}), reuses {len(reused)} ({kept}); "
        f"the first change is clip {first.index} ({why})."
    )


def _runs(indices: Sequence[int]) -> str:
    """1, 2, 3, 5 -> '1-3, 5'."""
    parts: list[str] = []
    for index in indices:
        if parts and parts[-1].split("-")[-1] == str(index - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{index}"
        else:
            parts.append(str(index))
    return ", ".join(parts)


def with_setting(values: Sequence[Any], key: str, value: Any) -> list[Any]:
    """Form values with one setting replaced."""
    changed = list(values)
    changed[FORM_KEYS.index(key)] = value
    return changed


class IterateActions:
    """The iteration controls over the tab's actions (and so its JobService)."""

    def __init__(self, tab: TabActions) -> None:
        self.tab = tab
        self.service = tab.service
        self.thumbnails = Path(tempfile.mkdtemp(prefix="wan-timeline-"))

    # -- where -------------------------------------------------------------------------------------
    def run_of(self, job_id: str, run_dir: str) -> str:
        """The run folder the controls work on: the one typed, else the followed job's."""
        if run_dir and run_dir.strip():
            return run_dir.strip()
        if job_id:
            try:
                return self.service.get(job_id).run_dir
            except WanError:
                return ""
        return ""

    def _config(self, values: Sequence[Any], **overrides: Any) -> WanConfig:
        return self.service.settings(settings_from_values(values) | overrides)

    # -- the timeline ------------------------------------------------------------------------------
    def timeline(
        self, values: Sequence[Any], job_id: str = "", run_dir: str = ""
    ) -> tuple[list[tuple[str, str]], list[int], list[list[Any]], str]:
        """(gallery, the clip of each gallery item, rows, message): the newest take of the run
        (thumbnails of every clip on disk), else the form's plan (no thumbnails yet)."""
        folder = self.run_of(job_id, run_dir)
        try:
            take = self.service.run_folder(folder).latest() if folder else None
        except WanError as exc:
            return [], [], [], warn(exc)
        if take is not None:
            gallery, shown, rows = take_timeline(take, self.thumbnails)
            reused = sum(1 for row in rows if row[3] not in ("-", take.number))
            note = f"; {reused} reused from earlier takes" if reused else ""
            return gallery, shown, rows, f"Take {take.number} of {folder}: {len(rows)} clip(s){note}."
        try:
            plan = self.service.api.create_generation_plan(self._config(values))
        except WanError as exc:
            return [], [], [], warn(exc)
        return [], [], plan_timeline(plan), f"The form's plan: {len(plan.clips)} clip(s), not rendered yet."

    def signature(self, job_id: str) -> str:
        """What the timeline of a followed job shows, in a word: it changes when a clip lands."""
        folder = self.run_of(job_id, "")
        try:
            take = self.service.run_folder(folder).latest() if folder else None
        except WanError:
            return ""
        if take is None:
            return ""
        done = sum(take.is_finished(clip) for clip in take.plan.clips)
        return f"{folder}|{take.number}|{done}|{take.finished}"

    def select(self, values: Sequence[Any], index: Any) -> tuple[int, str, str]:
        """(clip, its prompt's text in the schedule, message) for a clip picked on the timeline."""
        try:
            config = self._config(values)
            plan = self.service.api.create_generation_plan(config)
            clip = plan.clips[int(index)]
        except (WanError, ValueError, TypeError, IndexError):
            return 0, "", warn(f"There is no clip {index} in the form's plan.")
        keyframe = config.prompt_schedule().keyframe_at(clip.prompt_frame)
        text = dict(config.prompts)[keyframe.key]
        return clip.index, text, f"Clip {clip.index}: prompt keyframe {keyframe.key!r}, seed {clip.seed}."

    # -- edit and re-roll --------------------------------------------------------------------------
    def edit(self, values: Sequence[Any], index: Any, text: str) -> tuple[Any, str]:
        """(the prompt box's new text, message): the prompt keyframe clip `index` comes from gets
        `text` (every clip of that prompt changes); Re-render changes then renders from there."""
        try:
            config = self._config(values)
            clip = self.service.api.create_generation_plan(config).clips[int(index)]
        except (WanError, ValueError, TypeError, IndexError) as exc:
            return values[0], warn(exc if isinstance(exc, WanError) else f"There is no clip {index}.")
        key = config.prompt_schedule().keyframe_at(clip.prompt_frame).key
        prompts = dict(config.prompts) | {key: text}
        message = f"Prompt {key!r} changed (clip {clip.index} and the others of that prompt)."
        return json.dumps(prompts, indent=2, ensure_ascii=False), message + " Re-render changes to see them."

    def reroll(self, values: Sequence[Any], index: Any, seed: int | None = None) -> tuple[Any, str]:
        """(the clip seeds box's new text, message): clip `index` gets a new seed."""
        try:
            config = self._config(values)
            clip = self.service.api.create_generation_plan(config).clips[int(index)]
        except (WanError, ValueError, TypeError, IndexError) as exc:
            return values[FORM_KEYS.index("clip_seeds")], warn(
                exc if isinstance(exc, WanError) else f"No clip {index}."
            )
        new = random_seed() if seed is None else seed % SEED_SPACE
        seeds = {str(k): v for k, v in config.clip_seeds} | {str(clip.index): new}
        return json.dumps(seeds), f"Clip {clip.index} gets seed {new} (was {clip.seed})."

    # -- re-render ---------------------------------------------------------------------------------
    def compare(
        self, values: Sequence[Any], job_id: str = "", run_dir: str = ""
    ) -> tuple[list[list[Any]], str]:
        """(rows, message): what a re-render of the form into the run does with each clip."""
        folder = self.run_of(job_id, run_dir)
        if not folder:
            return [], warn("Follow a job or name a run folder to re-render into.")
        try:
            plan, reuse = self.service.compare(settings_from_values(values), folder)
        except WanError as exc:
            return [], warn(exc)
        return plan_timeline(plan, reuse), reuse_summary(reuse)

    def rerender(self, values: Sequence[Any], job_id: str = "", run_dir: str = "") -> tuple[str, str]:
        """(job id or '', message): queue the form as a re-render into the run (a new take)."""
        folder = self.run_of(job_id, run_dir)
        if not folder:
            return "", warn("Follow a job or name a run folder to re-render into.")
        return self._submit(settings_from_values(values) | {"from_run": folder}, "Re-render")

    def preview(self, values: Sequence[Any]) -> tuple[str, str]:
        """(job id, message): queue the form as a quick preview."""
        return self._submit(settings_from_values(values) | {"preview_enabled": True}, "Preview")

    def render_this(self, values: Sequence[Any], job_id: str = "", run_dir: str = "") -> tuple[str, str]:
        """(job id, message): the full render of a preview's plan, into its run folder (its seeds
        and enhanced prompts are kept)."""
        folder = self.run_of(job_id, run_dir)
        if not folder:
            return "", warn("Follow the preview's job (or name its run folder) first.")
        return self._submit(
            settings_from_values(values) | {"preview_enabled": False, "from_run": folder}, "Render"
        )

    def _submit(self, settings: dict[str, Any], what: str) -> tuple[str, str]:
        try:
            _batch, (job_id,) = self.service.submit(settings)
        except WanError as exc:
            return "", warn(exc)
        return job_id, f"{what}: queued job {job_id[:8]}."

    def adjust(self, values: Sequence[Any], job_id: str) -> str:
        """New settings for the followed job: its clips not yet started follow them."""
        if not job_id:
            return warn("No job is followed.")
        try:
            job = self.service.patch(job_id, settings_from_values(values))
        except WanError as exc:
            return warn(exc)
        return f"Job {job_id[:8]} ({job.state}) takes the new settings for its clips not yet started."
