"""The GPU worker: one thread that runs queued jobs one at a time, oldest first.

Two generations never share the GPU: the worker holds `gpu_lock` (inside the WebUI, the WebUI's
own queue lock, so a Wan job and a txt2img never run at once) for the whole of a job. Progress
is written to the job store as it comes (at most every `progress_interval` seconds for steps),
with the ETA and the path of the latest preview; a failure ends that job only, and the worker
goes on with the next. Pause, resume and cancel of the running job go through its
RenderControl; cancel also works on a job that is paused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from ..config import SettingsError
from ..render.events import ProgressEvent, RenderCancelled, RenderControl
from .api import WanAPI, as_config
from .jobs import IllegalTransition, Job, JobStore

Lock = Any  # anything usable as `with lock:` (threading.Lock, the WebUI's queue_lock)
Generate = Callable[[Job, RenderControl, Callable[[ProgressEvent], None]], dict[str, Any]]


class Observer(Protocol):
    """Someone else who shows a job's progress (the WebUI's own progress bar and Interrupt)."""

    def started(self, job: Job) -> None:
        """A job starts on the GPU."""

    def event(self, event: ProgressEvent) -> None:
        """A progress event of the running job."""

    def interrupted(self) -> bool:
        """Whether the observer asks the running job to stop (the WebUI's Interrupt button)."""
        return False

    def finished(self) -> None:
        """The job left the GPU (any outcome)."""


class GenerationWorker:
    """Runs the jobs of a JobStore on one thread; start() / stop()."""

    def __init__(
        self,
        store: JobStore,
        api: WanAPI,
        *,
        gpu_lock: Lock | None = None,
        poll_seconds: float = 0.5,
        progress_interval: float = 0.5,
        runner: Callable[[Callable[[], Any]], Any] | None = None,
        generate: Generate | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.api = api
        self.gpu_lock = gpu_lock if gpu_lock is not None else threading.Lock()
        self.poll_seconds = poll_seconds
        self.progress_interval = progress_interval
        # Forge wants GPU work on its main thread: `runner(fn)` runs fn there and returns its result.
        self.runner = runner or (lambda fn: fn())
        # what a job does: render it (tests of the queue alone pass a stand-in)
        self.generate = generate or self._generate
        self.observer = observer
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: tuple[str, RenderControl] | None = None
        self._guard = threading.Lock()

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="wan-gpu-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop after the current step: the running job becomes interrupted (resumable)."""
        self._stop.set()
        self._wake.set()
        with self._guard:
            if self._current is not None:
                self._current[1].cancel()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Look at the queue now (after a submission) instead of at the next poll."""
        self._wake.set()

    # -- control of the running job ------------------------------------------------------------
    def control_of(self, job_id: str) -> RenderControl | None:
        """The RenderControl of the job being rendered, if it is this one."""
        with self._guard:
            if self._current is not None and self._current[0] == job_id:
                return self._current[1]
        return None

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self.store.claim_next()
            if job is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        control = RenderControl()
        with self._guard:
            self._current = (job.id, control)
        try:
            with self.gpu_lock:
                if self.observer is not None:
                    self.observer.started(job)
                try:
                    result = self.runner(lambda: self.generate(job, control, self._reporter(job.id, control)))
                finally:
                    if self.observer is not None:
                        self.observer.finished()
            self.store.move(
                job.id, "succeeded", finished=time.time(), result=result, progress=self._done(job)
            )
        except RenderCancelled:
            state = "interrupted" if self._stop.is_set() else "cancelled"
            with contextlib.suppress(IllegalTransition):
                error = "the server stopped during this job" if state == "interrupted" else ""
                self.store.move(job.id, state, finished=time.time(), error=error)
        except SettingsError as exc:
            self._fail(job, str(exc))
        except Exception as exc:  # a failed job must not stop the queue; the error is kept
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._fail(job, detail)
        finally:
            with self._guard:
                self._current = None

    def _fail(self, job: Job, message: str) -> None:
        with contextlib.suppress(IllegalTransition):
            self.store.move(job.id, "failed", finished=time.time(), error=message)

    def _done(self, job: Job) -> dict[str, Any]:
        progress = dict(self.store.get(job.id).progress)
        progress.update(kind="done", eta_seconds=0.0, message="finished")
        return progress

    def _generate(
        self, job: Job, control: RenderControl, report: Callable[[ProgressEvent], None]
    ) -> dict[str, Any]:
        from ..render import RunFolder

        config = as_config(job.settings)
        folder = RunFolder(self.store.run_dir(job.id))
        resume = folder.plan_path.is_file()
        if config.enhancement.enabled and not resume:
            self._progress(job.id, {"kind": "enhancing", "message": "enhancing prompts"})
        plan, _ = self.api.plan_run(config, folder.root)
        result = self.api.generate_video(
            plan, folder.root, config=config, callback=report, control=control, resume=resume
        )
        return result.to_dict()

    def _progress(self, job_id: str, progress: dict[str, Any]) -> None:
        self.store.update(job_id, progress=progress)

    def _reporter(self, job_id: str, control: RenderControl) -> Callable[[ProgressEvent], None]:
        last = 0.0
        preview = self.store.run_dir(job_id) / "previews" / "latest.png"
        observer = self.observer

        def report(event: ProgressEvent) -> None:
            nonlocal last
            if observer is not None:
                observer.event(event)
                if observer.interrupted():
                    control.cancel()
            now = time.monotonic()
            if event.kind == "step" and now - last < self.progress_interval and event.step != event.steps:
                return
            last = now
            values = {
                f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "preview"
            }
            self._progress(job_id, values | {"preview": preview.is_file(), "updated": time.time()})

        return report
