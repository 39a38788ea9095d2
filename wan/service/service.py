"""JobService: the job queue, its GPU worker and the actions on jobs, for the REST API and the UI.

pause: a queued job is held back; a running one holds between denoising steps (it keeps its
place on the GPU). resume: a paused render continues; a job paused before it ran goes back to
the queue; an interrupted, failed or cancelled job is queued again and continues from its last
finished clip. cancel: a running job stops within one step; its finished clips are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import FieldError, SettingsError
from .api import WanAPI, as_config
from .jobs import IllegalTransition, Job, JobNotFound, JobStore
from .worker import GenerationWorker, Lock

MAX_BATCH = 100


class GenerationUnavailable(RuntimeError):
    """This environment cannot generate (packages missing or too old); jobs are refused."""


class JobService:
    """The queue in `folder` (SQLite + one run folder per job) and the worker that runs it."""

    def __init__(
        self,
        api: WanAPI,
        folder: str | Path | None = None,
        *,
        gpu_lock: Lock | None = None,
        runner: Any = None,
        generate: Any = None,
        observer: Any = None,
        check_environment: Callable[[], str | None] | None = None,
        start: bool = True,
    ) -> None:
        self.api = api
        # A job that cannot run is refused at submission, not failed later. A stand-in `generate`
        # (tests of the queue) needs no generation packages.
        if check_environment is None:
            from ..requirements import generation_problem

            check_environment = generation_problem if generate is None else (lambda: None)
        self.check_environment = check_environment
        self.store = JobStore(folder if folder is not None else api.output_dir / "jobs")
        self.recovered = self.store.recover()
        self.worker = GenerationWorker(
            self.store, api, gpu_lock=gpu_lock, runner=runner, generate=generate, observer=observer
        )
        if start:
            self.worker.start()

    def close(self) -> None:
        """Stop the worker; a running job becomes interrupted and can be resumed later."""
        self.worker.stop()

    # -- submitting -----------------------------------------------------------------------------
    def submit(self, settings: dict[str, Any] | Sequence[dict[str, Any]]) -> tuple[str, list[str]]:
        """Validate and queue one settings object or a list (one batch); (batch id, job ids).
        SettingsError lists every bad field of every item, keys prefixed with `[i].` for lists."""
        items = [settings] if isinstance(settings, dict) else list(settings)
        if not items:
            raise SettingsError([FieldError("jobs", [], "give one settings object or a non-empty list")])
        if len(items) > MAX_BATCH:
            raise SettingsError([FieldError("jobs", len(items), f"at most {MAX_BATCH} jobs in one batch")])
        errors: list[FieldError] = []
        normalised = []
        for index, item in enumerate(items):
            prefix = f"[{index}]." if not isinstance(settings, dict) else ""
            if not isinstance(item, dict):
                errors.append(
                    FieldError(prefix.rstrip(".") or "settings", repr(item)[:40], "must be a JSON object")
                )
                continue
            try:
                normalised.append(as_config(item).to_dict())
            except SettingsError as exc:
                errors += [FieldError(prefix + e.key, e.value, e.message) for e in exc.errors]
        if errors:
            raise SettingsError(errors)
        problem = self.check_environment()
        if problem:
            raise GenerationUnavailable(problem)
        batch_id, ids = self.store.submit(normalised)
        self.worker.wake()
        return batch_id, ids

    # -- reading --------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """A job (JobNotFound for unknown or malformed ids)."""
        return self.store.get(job_id)

    def list(self, **filters: Any) -> list[Job]:
        """Jobs, newest first."""
        return self.store.list(**filters)

    def file(self, job_id: str, relative: str) -> Path | None:
        """A file inside the job's own run folder, or None if it is not there (never outside)."""
        root = self.store.run_dir(self.store.get(job_id).id).resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    # -- actions --------------------------------------------------------------------------------
    def pause(self, job_id: str) -> Job:
        """Hold a queued job back, or a running one between steps."""
        job = self.store.get(job_id)
        control = self.worker.control_of(job_id)
        if job.state == "running" and control is not None:
            job = self.store.move(job_id, "paused", allowed_from=("running",))
            control.pause()
            return job
        return self.store.move(job_id, "paused", allowed_from=("queued",))

    def resume(self, job_id: str) -> Job:
        """Continue a paused job, or queue an interrupted / failed / cancelled one again."""
        job = self.store.get(job_id)
        control = self.worker.control_of(job_id)
        if job.state == "paused" and control is not None:
            job = self.store.move(job_id, "running", allowed_from=("paused",))
            control.resume()
            return job
        job = self.store.move(
            job_id,
            "queued",
            allowed_from=("paused", "interrupted", "failed", "cancelled"),
            started=None,
            finished=None,
        )
        self.worker.wake()
        return job

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued, paused or running job (a running one stops within one step)."""
        control = self.worker.control_of(job_id)
        job = self.store.move(
            job_id, "cancelled", allowed_from=("queued", "paused", "running", "interrupted", "failed")
        )
        if control is not None:
            control.cancel()
        return job

    def delete(self, job_id: str) -> None:
        """Forget a job that is not being rendered; its run folder stays on disk."""
        self.store.delete(job_id)


__all__ = ["GenerationUnavailable", "IllegalTransition", "JobNotFound", "JobService"]
