"""One clip through the quality gate: render it, measure it, and when it fails a threshold of
the quality_gate_* settings render it again with the next seed, up to `quality_gate_attempts`
renders; keep the best (wan.post.quality.gate.best_attempt) and record every attempt.

With prompt adherence on (quality_adherence), each kept clip (and each attempt, under a CLIP-score
threshold) is scored with CLIP; the scorer is loaded for the scoring and released before the video
model runs again. Only the best attempt's frames stay in memory.

What it returns for the clip's metadata (clips/NNNN.json and metrics.json's clips):
- `seed`: the seed of the kept frames (the plan's, or a later one after a re-roll);
- `quality`: the kept attempt's measures and `adherence` (clip_score, aesthetic, ...);
- `gate` (with the gate on): `attempts` (each: seed, seconds of rendering, seconds of checking,
  measures, failures, passed), `kept` (its number, from 1), `rerolled` and `reasons` (the
  failures that made it render again).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config.enhancement import SEED_MAX
from ..parallel import current_group
from ..plan import ClipPlan, GenerationPlan
from ..post.quality.adherence import AdherenceReport, AdherenceScorer, ClipAdherence
from ..post.quality.gate import SEAM_CONTEXT_FRAMES, Verdict, best_attempt, judge, measure_clip
from ..post.quality.plot import plot_quality, run_clip_bars

if TYPE_CHECKING:
    from .engine import _Session


@dataclass
class MadeFrames:
    """One render of a clip: the seed, its new frames (uint8 RGB, colour-corrected), black frames
    counted over all it generated, the pipeline, out-of-memory attempts, seconds and speed record."""

    seed: int
    new: np.ndarray
    black: int
    loaded: Any
    attempts: int
    seconds: float
    speed: dict[str, Any]


def reseeded(
    plan: GenerationPlan,
    options: Any,
    settings: dict[str, Any] | None,
    clip: ClipPlan,
    seed: int,
    gate: dict[str, Any],
) -> Any:
    """The Revision (wan.render.engine) that goes on with `clip` re-rolled to `seed`: its plan with
    the clip's new seed, its settings with `clip_seeds` saying so (so the take is reproducible
    from its settings), and why. The clips after it continue from the re-rolled one."""
    from .engine import Revision

    clips = tuple(dataclasses.replace(c, seed=seed) if c.index == clip.index else c for c in plan.clips)
    if settings is not None:
        chosen = dict(settings.get("clip_seeds") or {})
        settings = settings | {"clip_seeds": chosen | {str(clip.index): seed}}
    why = "; ".join(gate["reasons"])
    reason = f"quality gate: clip {clip.index} re-rolled ({why}); kept attempt {gate['kept']}, seed {seed}"
    return Revision(dataclasses.replace(plan, clips=clips), options, settings, reason)


def next_seed(seed: int, step: int) -> int:
    """The seed `step` re-rolls after `seed` (wrapping within the seed range)."""
    return (seed + step) % (SEED_MAX + 1)


def _previous_tail(session: _Session, clip: ClipPlan) -> list[np.ndarray]:
    """The last frames of the video so far before this clip (for the seam), or none."""
    start = clip.model_start_frame
    if start == 0:
        return []
    return list(session.folder.read_model_frames(range(max(0, start - SEAM_CONTEXT_FRAMES), start)))


def _score(session: _Session, clip: ClipPlan, frames: np.ndarray) -> dict[str, Any]:
    """The clip's adherence scores, with the scorer loaded for them and released after."""
    quality = session.options.quality
    assert quality is not None
    session.emit("writing", clip, message=f"scoring clip {clip.index} against its prompt with CLIP")
    with AdherenceScorer(
        quality.clip_model,
        aesthetic_head_file=quality.aesthetic_head,
        device=session.device,
        models_dir=session.options.models_dir,
        allow_download=session.options.allow_download,
        frames_per_clip=quality.clip_frames,
    ) as scorer:
        return scorer.score(clip.prompt, frames).to_dict()


def _rank_zero_says(passed: bool) -> bool:
    """In a render across several processes (wan.parallel), rank 0's verdict, so every rank makes
    the same attempts (CLIP in fp16 may differ in the last digit between devices)."""
    group = current_group()
    return passed if group is None else bool(group.from_rank_zero(lambda: passed))


def render_checked(session: _Session, clip: ClipPlan) -> tuple[MadeFrames, dict[str, Any]]:
    """(the kept render of the clip, what to add to its metadata): see the module doc."""
    gate = session.options.gate if session.options.gate and session.options.gate.enabled else None
    adherence = bool(session.options.quality and session.options.quality.adherence)
    if gate is None:
        made = session.make_frames(clip)
        checks: dict[str, Any] = {"seed": made.seed}
        if adherence:
            checks["quality"] = {"adherence": _score(session, clip, made.new)}
        return made, checks
    thresholds = gate.thresholds()
    previous = _previous_tail(session, clip) if "seam" in thresholds else []
    records: list[dict[str, Any]] = []
    verdicts: list[Verdict] = []
    kept: tuple[MadeFrames, dict[str, Any]] | None = None
    for step in range(gate.attempts):
        seed = next_seed(clip.seed, step)
        if step:
            session.emit(
                "retry",
                clip,
                message=f"quality gate: {'; '.join(verdicts[-1].failures)}; attempt {step + 1} of "
                f"{gate.attempts} with seed {seed}",
            )
        made = session.make_frames(dataclasses.replace(clip, seed=seed))
        started = time.perf_counter()
        measures = measure_clip(made.new, previous)
        quality: dict[str, Any] = dict(measures)
        if adherence:
            quality["adherence"] = _score(session, clip, made.new)
            measures["clip_score"] = quality["adherence"]["clip_score"]
        verdict = judge(measures, thresholds)
        verdicts.append(verdict)
        records.append(
            {
                "attempt": step + 1,
                "seed": seed,
                "seconds": round(made.seconds, 4),
                "check_seconds": round(time.perf_counter() - started, 4),
                "measures": measures,
                "failures": list(verdict.failures),
                "passed": verdict.passed,
            }
        )
        if best_attempt(verdicts) == step:  # only the best attempt's frames stay in memory
            kept = (made, quality)
        if _rank_zero_says(verdict.passed):
            break
    assert kept is not None
    best = best_attempt(verdicts)
    made, quality = kept
    record = {
        "attempts": records,
        "kept": best + 1,
        "passed": verdicts[best].passed,
        "rerolled": len(records) > 1,
        "reasons": list(verdicts[0].failures),  # why it was rendered again (or failed)
        "thresholds": thresholds,
        "seconds": round(sum(r["seconds"] + r["check_seconds"] for r in records), 4),
    }
    return made, {"seed": made.seed, "quality": quality, "gate": record}


def summarize(clips: list[dict[str, Any]], quality: Any = None) -> dict[str, Any]:
    """metrics.json's quality.adherence (each clip's scores and the means) and quality.gate (the
    clips re-rolled and why, attempts and seconds in all), from the clips' metadata."""
    summary: dict[str, Any] = {}
    scored = [
        (clip["index"], ClipAdherence(**clip["quality"]["adherence"]))
        for clip in clips
        if isinstance(clip.get("quality"), dict) and clip["quality"].get("adherence")
    ]
    if scored:
        model = quality.clip_model if quality is not None else ""
        head = quality.aesthetic_head if quality is not None else ""
        summary["adherence"] = AdherenceReport(model, tuple(scored), head).to_dict()
    gated = [clip for clip in clips if isinstance(clip.get("gate"), dict)]
    if gated:
        summary["gate"] = {
            "rerolled": [
                {"index": clip["index"], "reasons": clip["gate"]["reasons"], "kept": clip["gate"]["kept"]}
                for clip in gated
                if clip["gate"]["rerolled"]
            ],
            "failed": [clip["index"] for clip in gated if not clip["gate"]["passed"]],
            "attempts": sum(len(clip["gate"]["attempts"]) for clip in gated),
            "check_seconds": round(
                sum(a["check_seconds"] for clip in gated for a in clip["gate"]["attempts"]), 4
            ),
            "seconds": round(sum(clip["gate"]["seconds"] for clip in gated), 4),
        }
    return summary


def write_quality_plot(metrics: dict[str, Any], plan: dict[str, Any], target: Path) -> Path | None:
    """quality.png of a run: its quality report over time with each clip's CLIP score (None when
    the run measured no quality report)."""
    report = metrics.get("quality")
    if not report or "frames" not in report:
        return None
    return plot_quality(
        report, target, clips=run_clip_bars(metrics, plan), title=f"{target.parent.name}: quality over time"
    )
