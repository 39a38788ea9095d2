"""A worker: takes the jobs the server gives it, one at a time, and renders them.

The same loop runs in a thread of the server (tests, or the Python API without a separate
runtime) or as its own process, `python -m wan worker`, started by the server with the
extension's runtime interpreter (wan.service.workers). Everything goes through the job store:

- it reports itself (state, pid, device and GPU memory, the model of its latest job and the one
  it keeps loaded) with a heartbeat;
- it claims the job assigned to it, writes progress (at most every `progress_interval` seconds
  for steps, always monotonic: `fraction` never goes back) and the result or the error;
- between denoising steps it reads the job's state: paused holds the render there, cancelled
  stops it (finished clips are kept); a worker asked to stop leaves its job interrupted.

With `keep_seconds` > 0 (and an API that keeps models) the pipeline of its last job stays
loaded for that long without a job, so the next job of the same model starts at once (the
dispatcher prefers such a worker); then the worker lets it go, as its GPU memory is the host's too.

A failure ends that job only: an error of the project's own (WanError) is kept as its one-line
message; anything else as "internal error: ..." with the traceback in the worker's log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..errors import WanError
from ..render.events import ProgressEvent, RenderCancelled
from .api import WanAPI, as_config
from .jobs import IllegalTransition, Job, JobNotFound, JobStore

Report = Callable[[ProgressEvent], None]
Generate = Callable[[Job, Any, Report], dict[str, Any]]
# In a render over several processes: what rank 0's call of the function gives, on every rank
# (wan.parallel.ParallelGroup.from_rank_zero)
Share = Callable[[Callable[[], Any]], Any]
HEARTBEAT_SECONDS = 2.0
MAX_KEEP_SECONDS = 86400.0  # how long a worker may keep a model loaded without a job


class WorkerStopping(RenderCancelled):
    """The worker was asked to stop while a job ran: the job becomes interrupted (resumable)."""


class StoreControl:
    """Pause and cancel of one job, read from the store between steps (works across processes)."""

    def __init__(
        self, store: JobStore, job_id: str, stopping: threading.Event, poll_seconds: float = 0.2
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.stopping = stopping
        self.poll_seconds = poll_seconds

    def checkpoint(self) -> None:
        """Wait while the job is paused; raise RenderCancelled once it is cancelled or deleted,
        WorkerStopping when the worker stops."""
        while True:
            if self.stopping.is_set():
                raise WorkerStopping("the worker stopped during this job; resume it to continue")
            state = self.store.state_of(self.job_id)
            if state in ("cancelled", None):
                raise RenderCancelled("cancelled; the finished clips are kept and the run can be resumed")
            if state != "paused":
                return
            self.stopping.wait(self.poll_seconds)


def fraction_done(progress: dict[str, Any]) -> float:
    """How much of a render is done, 0-1, from a progress record (clip, step, clips, steps)."""
    clips, steps = progress.get("clips") or 0, progress.get("steps") or 0
    if not clips or not steps:
        return 0.0
    clip = min(progress.get("clip", 0), clips - 1)
    return min(1.0, (clip + progress.get("step", 0) / steps) / clips)


def _alone(make: Callable[[], Any]) -> Any:
    return make()


def render_job(api: WanAPI, store: JobStore, *, share: Share = _alone) -> Generate:
    """What a job does: plan its settings (enhancing, or reusing the prompts of the run it goes
    on from) and render them into its run folder: a new run, or a take that reuses every clip on
    disk whose frames would not change (a resumed job, a job with from_run). Between clips it
    reads the job's settings again: new ones (a PATCH) go on in a new take from the next clip.
    `share`: for one rank of a render over several processes, the plan and the new settings are
    made on rank 0 and used on every rank (an enhancer may answer each rank differently)."""

    def generate(job: Job, control: Any, report: Report) -> dict[str, Any]:
        from ..render import RunFolder

        config = as_config(job.settings)
        folder = RunFolder(job.run_dir)
        going_on = folder.is_run()
        if config.enhancement.enabled and not going_on:
            report(ProgressEvent("loading", message="enhancing prompts"))
        secrets = store.secrets(job.id)
        keys = {"api_key": secrets.get("enhance_api_key"), "public_only": bool(secrets.get("public_only"))}
        plan = share(lambda: api.plan_run(config, folder.root if going_on else None, **keys)[0])
        rendering = {"settings": job.settings}

        def changed() -> Any:
            try:
                settings = store.get(job.id).settings
            except JobNotFound:  # deleted: the next step's checkpoint stops the render
                return None
            if settings == rendering["settings"]:
                return None
            rendering["settings"] = settings
            new = as_config(settings)
            return api.revision(new, api.plan_run(new, folder.root, **keys)[0])

        def replan() -> Any:
            return share(changed)

        result = api.generate(
            config,
            plan=plan,
            run_dir=folder.root,
            mode="revise" if going_on else "new",
            replan=replan,
            callback=report,
            control=control,
        )
        return result.to_dict()

    return generate


class WorkerLoop:
    """One worker's loop over the jobs assigned to it (see the module doc)."""

    def __init__(
        self,
        store: JobStore,
        worker_id: str,
        *,
        generate: Generate | None = None,
        api: WanAPI | None = None,
        info: dict[str, Any] | None = None,
        poll_seconds: float = 0.3,
        progress_interval: float = 0.5,
        keep_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.api = api
        self.generate = generate or render_job(api or WanAPI(), store)
        self.keep_seconds = keep_seconds
        self.info = dict(info or {})
        self.poll_seconds = poll_seconds
        self.progress_interval = progress_interval
        self.stopping = threading.Event()
        self.state = "idle"
        self.job_id = ""

    # -- life --------------------------------------------------------------------------------------
    def run(self, *, idle_exit: float | None = None) -> None:
        """Take and render jobs until stop() (or `idle_exit` seconds without a job)."""
        beat = threading.Thread(target=self._heartbeat, name=f"wan-heartbeat-{self.worker_id}", daemon=True)
        beat.start()
        idle_since = time.monotonic()
        try:
            while not self.stopping.is_set():
                job = self.store.claim(self.worker_id)
                if job is None:
                    idle = time.monotonic() - idle_since
                    if idle_exit is not None and idle > idle_exit:
                        break
                    if idle > self.keep_seconds and self.info.get("loaded"):
                        self.release_models()
                    self.stopping.wait(self.poll_seconds)
                    continue
                self.run_job(job)
                idle_since = time.monotonic()
        finally:
            self.stopping.set()
            self.release_models()
            beat.join(timeout=5)
            with contextlib.suppress(Exception):  # the store may be gone with its folder
                self.store.forget_worker(self.worker_id)

    def release_models(self) -> None:
        """Let the pipeline kept since the last job go (its GPU memory is given back)."""
        if self.api is not None:
            self.api.release_models()
        self.info["loaded"] = None

    def stop(self) -> None:
        """Stop after the current denoising step; a job that was running becomes interrupted."""
        self.stopping.set()

    def _heartbeat(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a busy database must not end the worker
                self.store.report_worker(self.worker_id, self.state, job=self.job_id, **self.info)
            if self.stopping.wait(HEARTBEAT_SECONDS):
                return

    # -- one job -----------------------------------------------------------------------------------
    def run_job(self, job: Job) -> None:
        """Render one claimed job and record how it ended."""
        self.state, self.job_id = "busy", job.id
        # what the dispatcher reads to give this worker the next job of the same model
        self.info.update(model=job.settings.get("model"), weights=job.settings.get("weights"))
        control = StoreControl(self.store, job.id, self.stopping)
        try:
            result = self.generate(job, control, self._reporter(job))
        except WorkerStopping as exc:
            self._end(job.id, "interrupted", error=str(exc))
        except RenderCancelled:
            self._end(job.id, "cancelled")
        except WanError as exc:
            self._end(job.id, "failed", error=str(exc))
        except Exception as exc:  # a bug must not stop the queue; the log has its traceback
            traceback.print_exc(file=sys.stderr)
            self._end(
                job.id, "failed", error=f"internal error: {type(exc).__name__}: {exc} (see the worker log)"
            )
        else:
            self._succeeded(job.id, result)
        finally:
            if self.keep_seconds <= 0:
                self.release_models()
            elif self.api is not None:  # what the dispatcher prefers for the next job of this model
                held = self.api.loaded_model() is not None
                self.info["loaded"] = [self.info["model"], self.info["weights"]] if held else None
            self.state, self.job_id = "idle", ""

    def _succeeded(self, job_id: str, result: dict[str, Any]) -> None:
        progress = dict(self.store.get(job_id).progress)
        progress.update(kind="done", eta_seconds=0.0, message="finished", fraction=1.0)
        note = "" if self.store.state_of(job_id) != "cancelled" else "finished before the cancel took effect"
        with contextlib.suppress(IllegalTransition):
            self.store.move(
                job_id,
                "succeeded",
                allowed_from=("running", "paused", "cancelled"),
                finished=time.time(),
                result=result,
                progress=progress,
                error=note,
                worker="",
                secrets={},  # a caller's own key is not kept past the last job that needs it
            )

    def _end(self, job_id: str, state: str, *, error: str = "") -> None:
        with contextlib.suppress(IllegalTransition):
            if self.store.state_of(job_id) == state:  # cancelled by the user: already there
                self.store.update(job_id, finished=time.time(), worker="")
            else:
                self.store.move(job_id, state, finished=time.time(), error=error, worker="")

    def _reporter(self, job: Job) -> Report:
        last = 0.0
        best = 0.0

        def report(event: ProgressEvent) -> None:
            nonlocal last, best
            now = time.monotonic()
            if event.kind == "step" and now - last < self.progress_interval and event.step != event.steps:
                return
            last = now
            values = {
                f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "preview"
            }
            best = max(best, fraction_done(values))
            self.store.update(job.id, progress=values | {"fraction": round(best, 4), "updated": time.time()})

        return report
