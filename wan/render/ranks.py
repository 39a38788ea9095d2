"""One rank of a render over several processes (wan.parallel): the folder it renders into and the
options it renders with. What `generate --gpus N` (parallel_run.py) and a group of Ray actors
(wan.cluster) share.

Every rank renders the same plan with the same seeds. Rank 0 writes the run folder; every other
rank renders into a scratch folder of its own, seeded with what the run goes on from (the clips a
resumed or revised run reuses, so VACE chaining reads the same previous clips on every rank), and
writes only the frames it needs: no video, interpolation, upscaling, quality checks or previews.
None of those change a clip's frames (wan.render.options: RENDER_IGNORED), so every rank reuses
and renders the same clips.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ..parallel import ParallelGroup
from .options import RenderOptions

Seed = Callable[[Path], None]  # fills a scratch folder (that does not exist yet) with a run's files


def rank_options(group: ParallelGroup, options: RenderOptions) -> RenderOptions:
    """The options this rank renders with: on its device; a rank that does not write renders the
    frames only (see the module doc)."""
    options = replace(options, device=group.device)
    if group.writes:
        return options
    return replace(
        options,
        write_video=False,
        save_frames=True,
        interpolation=None,
        quality_checks=False,
        upscale=None,
        preview_every=0,
    )


def copy_of(run_dir: str | Path) -> Seed:
    """A seed that copies the run folder `run_dir` (nothing when it does not exist yet)."""

    def seed(target: Path) -> None:
        if Path(run_dir).is_dir():
            shutil.copytree(run_dir, target)

    return seed


@contextmanager
def rank_folder(group: ParallelGroup, run_dir: str | Path, seed: Seed | None = None) -> Iterator[Path]:
    """The folder this rank renders into: `run_dir` for the rank that writes; for the others a
    scratch folder `seed` fills first, removed afterwards. Every rank waits here until all are
    seeded, so none copies a run folder rank 0 has begun to write."""
    if group.writes:
        group.barrier()
        yield Path(run_dir)
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"wan-rank{group.rank}-"))
    try:
        target = scratch / "run"
        if seed is not None:
            seed(target)
        group.barrier()
        yield target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
