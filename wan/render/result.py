"""What a render produced (no torch here: the service and front ends import it freely)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan import GenerationPlan


@dataclass(frozen=True)
class VideoResult:
    """What a render produced: where the files are (`video` and `frames_dir` are the take's), the
    plan it followed, its metrics, and which take of the run folder it wrote."""

    run_dir: Path
    video: Path | None
    frames_dir: Path | None
    plan: GenerationPlan
    metrics: dict[str, Any]
    clips_rendered: int = 0
    take: int = 1
    rendered: tuple[int, ...] = ()  # the clips this call rendered (the others were on disk)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (paths as text, the plan left out)."""
        return {
            "run_dir": str(self.run_dir),
            "video": str(self.video) if self.video else None,
            "frames_dir": str(self.frames_dir) if self.frames_dir else None,
            "clips_rendered": self.clips_rendered,
            "take": self.take,
            "rendered": list(self.rendered),
            "metrics": self.metrics,
        }
