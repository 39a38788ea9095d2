"""The tab's view of each clip's quality: seed kept, attempts, whether the quality gate re-rolled
it and why, its CLIP and aesthetic scores (from the job's metrics.json)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLIP_QUALITY_HEADERS = ["clip", "seed", "attempts", "gate", "CLIP score", "aesthetic"]


def _gate_words(gate: Mapping[str, Any] | None) -> str:
    if not gate:
        return ""
    if gate.get("rerolled"):
        why = "; ".join(gate.get("reasons") or [])
        kept = f"kept attempt {gate['kept']}"
        outcome = "passed" if gate.get("passed") else "none passed, best kept"
        return f"re-rolled ({why}): {kept}, {outcome}"
    return "passed" if gate.get("passed") else f"failed: {'; '.join(gate.get('reasons') or [])}"


def clip_quality_rows(metrics: Mapping[str, Any] | None) -> list[list[Any]]:
    """One row per clip: index, seed kept, renders made, the gate's verdict (re-rolled and why),
    CLIP score and aesthetic score ('' where not measured)."""
    rows = []
    for clip in (metrics or {}).get("clips", []):
        gate = clip.get("gate")
        scores = (clip.get("quality") or {}).get("adherence") or {}
        attempts = len(gate["attempts"]) if gate else 1
        rows.append(
            [
                clip.get("index"),
                clip.get("seed", ""),
                attempts,
                _gate_words(gate),
                "" if scores.get("clip_score") is None else round(scores["clip_score"], 2),
                "" if scores.get("aesthetic") is None else round(scores["aesthetic"], 2),
            ]
        )
    return rows
