"""Model files on this machine: download a model into the models folder (`python -m wan models
download ID`) and remove it again (`remove ID`).

A download is huggingface_hub's snapshot_download into `<models dir>/<id>`: files already there
are kept and an interrupted file continues where it stopped, so running it again resumes. Before
anything is fetched, a dry run asks the hub for the files and their sizes, and the download is
refused when the disk lacks the room for what is still missing (plus a 1 GiB margin). Offline or
with the hub out of reach, it says so with the command that downloads the model elsewhere.

By default only what a diffusers pipeline loads is fetched (model_index.json, each component's
JSON files, .safetensors weights and tokenizer files); `all_files` fetches the whole repository
(original checkpoints, assets).

Progress is one line a second (a bar that redraws itself on a terminal): the bytes in the model's
folder against the total the dry run gave, which also counts partial files, so it works the same
for every transfer method of the hub.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..catalog import ModelSpec, known_model, model_spec
from ..errors import WanError
from .resolve import ModelNotFoundError, default_models_dir, download_hint

# what diffusers' from_pretrained reads from a pipeline repository
PIPELINE_PATTERNS = ("model_index.json", "*/*.json", "*/*.safetensors", "*/*.model", "*/*.txt")
DISK_MARGIN_BYTES = 1024**3
GB = 1024**3


class DownloadRefused(WanError, OSError):
    """A download that cannot start: not enough disk, a model that is built rather than fetched."""


@dataclass(frozen=True)
class DownloadPlan:
    """What downloading a model means here: where, how much in all, and how much is missing."""

    spec: ModelSpec
    target: Path
    files: int
    total_bytes: int
    missing_bytes: int
    free_bytes: int

    @property
    def fits(self) -> bool:
        """Whether the disk has room for what is missing, with the margin."""
        return self.free_bytes >= self.missing_bytes + DISK_MARGIN_BYTES


def _spec(ref: str) -> ModelSpec:
    try:
        spec = model_spec(ref)
    except ValueError as exc:
        raise DownloadRefused(str(exc)) from None
    if spec.tiny or not spec.hub_id:
        raise DownloadRefused(f"{spec.id} is built on this machine when it is first used, not downloaded")
    return spec


def _free_bytes(folder: Path) -> int:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def _patterns(all_files: bool) -> list[str] | None:
    return None if all_files else list(PIPELINE_PATTERNS)


def plan_download(ref: str, models_dir: Path | None = None, *, all_files: bool = False) -> DownloadPlan:
    """Ask the hub what downloading `ref` into the models folder takes (ModelNotFoundError when
    the hub cannot be reached, with the command that downloads it elsewhere)."""
    from huggingface_hub import snapshot_download

    spec = _spec(ref)
    target = Path(models_dir if models_dir is not None else default_models_dir()) / spec.id
    try:
        files = snapshot_download(
            spec.hub_id, local_dir=target, allow_patterns=_patterns(all_files), dry_run=True
        )
    except Exception as exc:  # offline, unreachable, unknown repo: the hub raises many kinds
        raise ModelNotFoundError(
            f"cannot ask the hub about {spec.hub_id}: {exc}\n" + download_hint(spec.hub_id, target)
        ) from exc
    total = sum(info.file_size or 0 for info in files)
    missing = sum(info.file_size or 0 for info in files if info.will_download)
    return DownloadPlan(spec, target, len(files), total, missing, _free_bytes(target))


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (partial downloads included)."""
    if not folder.is_dir():
        return 0
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def progress_line(done: int, total: int, seconds: float) -> str:
    """One progress line: a bar, gigabytes done of the total, per cent and speed."""
    share = min(done / total, 1.0) if total else 1.0
    filled = int(share * 24)
    speed = done / seconds / 1024**2 if seconds > 0 else 0.0
    bar = "#" * filled + "-" * (24 - filled)
    return f"[{bar}] {done / GB:.2f} of {total / GB:.2f} GB ({share * 100:.0f} %) {speed:.1f} MB/s"


class _Progress:
    """Prints the folder's size against the total once a second, in a thread, until stopped."""

    def __init__(self, folder: Path, total: int, out: TextIO, every: float = 1.0) -> None:
        self.folder, self.total, self.out, self.every = folder, total, out, every
        self.started = time.monotonic()
        self.start_bytes = folder_bytes(folder)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wan-download-progress", daemon=True)

    def _line(self) -> str:
        done = min(folder_bytes(self.folder), self.total)
        return progress_line(done, self.total, time.monotonic() - self.started)

    def _print(self, line: str, final: bool = False) -> None:
        terminal = self.out.isatty()
        self.out.write(("\r" + line + ("\n" if final else "")) if terminal else line + "\n")
        self.out.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._print(self._line())

    def __enter__(self) -> _Progress:
        self._print(self._line())
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._print(self._line(), final=True)


def download_model(
    ref: str,
    models_dir: Path | None = None,
    *,
    all_files: bool = False,
    out: TextIO | None = None,
    say: Callable[[str], None] | None = None,
) -> Path:
    """Download `ref` into `<models dir>/<id>` (see the module doc); its folder. DownloadRefused
    when the disk is too small, ModelNotFoundError when the hub cannot be reached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars

    out = out or sys.stdout
    say = say or (lambda text: print(text, file=out, flush=True))
    plan = plan_download(ref, models_dir, all_files=all_files)
    if not plan.fits:
        raise DownloadRefused(
            f"{plan.spec.id} needs {plan.missing_bytes / GB:.1f} GB more (of {plan.total_bytes / GB:.1f} "
            f"GB), and the disk of {plan.target} has {plan.free_bytes / GB:.1f} GB free "
            f"({DISK_MARGIN_BYTES / GB:.0f} GB is kept spare); free some space or choose another --models-dir"
        )
    have = plan.total_bytes - plan.missing_bytes
    say(
        f"downloading {plan.spec.hub_id} into {plan.target}: {plan.files} files, "
        f"{plan.total_bytes / GB:.2f} GB" + (f" ({have / GB:.2f} GB already here)" if have else "")
    )
    plan.target.mkdir(parents=True, exist_ok=True)
    disable_progress_bars()  # ours below counts every file, whatever the transfer method
    try:
        with _Progress(plan.target, plan.total_bytes, out):
            path = snapshot_download(
                plan.spec.hub_id, local_dir=plan.target, allow_patterns=_patterns(all_files)
            )
    except Exception as exc:  # the connection dropped, the disk filled: run it again to resume
        raise ModelNotFoundError(
            f"downloading {plan.spec.hub_id} into {plan.target} stopped: {exc}\n"
            "Run the same command again to continue where it stopped."
        ) from exc
    say(f"done: {plan.spec.id} is in {path}")
    return Path(path)


def model_folders(spec: ModelSpec, models_dir: Path) -> list[Path]:
    """The folders of a model inside the models folder (by id and by the hub repo's name)."""
    names = dict.fromkeys([spec.id, *([spec.hub_id.split("/")[-1]] if spec.hub_id else [])])
    return [
        models_dir / name
        for name in names
        if (models_dir / name).exists() or (models_dir / name).is_symlink()
    ]


def remove_model(ref: str, models_dir: Path | None = None) -> list[Path]:
    """Delete a model's folders inside the models folder, and nothing outside it (a link is
    removed, not what it points to); the paths removed."""
    spec = known_model(ref)
    if spec is None:
        raise DownloadRefused(f"unknown model '{ref}'; use a model id (python -m wan models)")
    root = Path(models_dir if models_dir is not None else default_models_dir())
    removed = []
    for folder in model_folders(spec, root):
        if folder.is_symlink():
            folder.unlink()
        elif folder.resolve().is_relative_to(root.resolve()) and folder.resolve() != root.resolve():
            shutil.rmtree(folder)
        else:
            raise DownloadRefused(f"{folder} is not inside the models folder {root}; not removed")
        removed.append(folder)
    return removed
