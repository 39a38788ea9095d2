"""JobService: the face of the service for the REST API and the UI.

It owns the job queue of one folder (held exclusively: a second server on the same folder is
refused), the workers that render its jobs (processes of the runtime environment, or threads),
the dispatcher that hands jobs out, and the rules callers meet: settings are validated with the
files callers may name (FileAccess) and the chat servers they may have this server call
(ChatServers), and enhancement previews run in a bounded pool so a slow chat server cannot
starve the server.

pause: a queued job is held back; a running one holds between denoising steps (it keeps its
place on the GPU). patch: new settings for a queued, paused or running job; a running one
takes them between clips, for the clips not yet started (a change to a clip that has started
or finished is refused with ChangeRefused, which names the clip and the run to re-render
from). resume: a paused render continues; a job paused before it ran goes back to
the queue; an interrupted, failed or cancelled job is queued again and continues from its last
finished clip. cancel: a running job stops within one step; its finished clips are kept.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import FieldError, FileAccess, SettingsError, WanConfig, file_access, lora_search
from ..errors import WanError
from ..movement import MovementAnalysis
from ..plan import GenerationPlan, clip_fingerprints, clip_materials, what_changed
from ..render.options import config_factors
from ..render.run_folder import ClipReuse, RunFolder
from ..runtime import RuntimeEnv
from .api import WanAPI, as_config, check_run_folder
from .chat_servers import ChatServers
from .dispatcher import Dispatcher, Gate, Observer
from .downloads import Downloads, DownloadUnavailable
from .gpus import probe_in_runtime, unique_gpus
from .jobs import FINISHED, RESUMABLE, SETTLED, STATES, IllegalTransition, Job, JobNotFound, JobStore
from .queue_lock import QueueLock
from .worker import Generate
from .workers import ProcessWorkers, ThreadWorkers, Workers

MAX_BATCH = 100
MAX_PROMPTS = 1000
# Enhancement previews: at most this many run at once, this many more wait, and one request gets
# at most this long in all (its remaining prompts are kept as they are).
ENHANCE_WORKERS = 4
ENHANCE_WAITING = 16
ENHANCE_SECONDS = 300.0
GPU_WAIT_SECONDS = 1.0
# how long GET /system waits for the one look for GPUs in a runtime process (importing torch can
# take longer on a busy machine; the answer then says it is still looking)
GPU_PROBE_WAIT_SECONDS = 3.0


class GenerationUnavailable(WanError, RuntimeError):
    """This server cannot generate now (its runtime is not ready, its workers fail to start)."""


class Busy(WanError, RuntimeError):
    """The GPU or the enhancement pool is busy; try again later."""


class ChangeRefused(WanError, ValueError):
    """New settings for a running job would change a clip that has started or finished."""

    def __init__(self, clip: int, changed: Sequence[str], run_dir: Path) -> None:
        self.clip = clip
        self.run_dir = run_dir
        what = f" ({', '.join(changed)})" if changed else ""
        super().__init__(
            f"the change alters clip {clip}{what}, which has been rendered already or is being rendered; "
            f"re-render from clip {clip} instead: submit these settings as a new job with from_run set to "
            f"{run_dir} (in the tab: Re-render changes)"
        )


# a job's settings may change in these states (a running job takes them between clips)
PATCHABLE = ("queued", "paused", "running")
# progress kinds while a clip is being denoised
DENOISING = ("clip_start", "step", "preview", "retry")


def worker_arguments(api: WanAPI, keep_model: float = 0.0) -> list[str]:
    """The command-line arguments that give a worker process this API's models and downloads,
    and how long it keeps a model loaded without a job."""
    arguments = ["--keep-model", f"{keep_model:g}"] if keep_model > 0 else []
    if api.models_dir is not None:
        arguments += ["--models-dir", str(api.models_dir)]
    if api.allow_download:
        arguments.append("--allow-download")
    return arguments


class JobService:
    """The queue in `folder` (SQLite + one run folder per job), its workers and the rules."""

    def __init__(
        self,
        api: WanAPI,
        folder: str | Path | None = None,
        *,
        workers: Workers | None = None,
        runtime: RuntimeEnv | None = None,
        generate: Generate | None = None,
        gate: Gate | None = None,
        observer: Observer | None = None,
        access: FileAccess | None = None,
        chat_servers: ChatServers | None = None,
        gpus: Sequence[int] = (),
        worker_count: int = 1,
        keep_model: float = 0.0,
        start: bool = True,
    ) -> None:
        """`gpus`: one worker process per GPU index (each sees only its GPU); else `worker_count`
        worker processes on the default device. `keep_model`: seconds a worker process keeps its
        last job's model loaded without a job."""
        self.api = api
        self.folder = Path(folder) if folder is not None else api.output_dir / "jobs"
        self.queue_lock = QueueLock(self.folder)
        self.queue_lock.acquire()
        try:
            self.store = JobStore(self.folder)
        except BaseException:
            self.queue_lock.release()
            raise
        self.recovered = self.store.recover()
        self.runtime = runtime or RuntimeEnv.current()
        self.probed_gpus: list[dict[str, Any]] | None = None  # what a runtime process saw (once)
        self._probe_lock = threading.Lock()
        self._probe: threading.Thread | None = None
        if workers is None:
            workers = (
                ThreadWorkers(self.store, generate=generate, api=api)
                if generate is not None
                else ProcessWorkers(
                    self.store,
                    self.runtime,
                    devices=(api.device,) * worker_count,
                    gpus=gpus,
                    arguments=worker_arguments(api, keep_model),
                )
            )
        self.workers = workers
        self.dispatcher = Dispatcher(self.store, workers, gate=gate, observer=observer)
        self.inputs_dir = self.folder / "inputs"
        self.downloads = Downloads(self.runtime, self.folder / "downloads", self.models_dir())
        self.access = access or self.default_access()
        self.chat_servers = chat_servers or ChatServers.from_environment()
        self._previews = concurrent.futures.ThreadPoolExecutor(
            ENHANCE_WORKERS, thread_name_prefix="wan-enhance"
        )
        self._waiting = threading.BoundedSemaphore(ENHANCE_WORKERS + ENHANCE_WAITING)
        if start:
            self.dispatcher.start()

    def default_access(self, *extra_inputs: str | Path) -> FileAccess:
        """Callers may name input files in the queue's inputs folder (and `extra_inputs`, e.g. the
        UI's upload folder), models in the models folder, the LoRA and upscaler folders, and outputs in the
        output folder."""
        return FileAccess.restricted(
            inputs=[self.inputs_dir, *extra_inputs],
            models=[self.models_dir(), *self.api.lora_folders(), *self.api.upscaler_folders()],
            outputs=[self.api.output_dir],
        )

    def models_dir(self) -> Path:
        """The models folder of this server."""
        from ..models.resolve import default_models_dir

        return self.api.models_dir or default_models_dir()

    def close(self) -> None:
        """Stop the workers (a running job becomes interrupted, resumable) and let the queue go."""
        self.dispatcher.stop(timeout=5)
        self.workers.stop()
        self.downloads.stop()
        self._previews.shutdown(wait=False, cancel_futures=True)
        self.queue_lock.release()

    # -- settings as callers give them -------------------------------------------------------------
    def settings(
        self, data: Any, *, own_key: bool = False, over: Mapping[str, Any] | None = None
    ) -> WanConfig:
        """Validate a caller's settings (`data`, on top of the settings `over` when given): the
        files it names must lie in the allowed folders, the chat server must be one this server
        may call (or the caller brings its own key), a from_run folder must hold a run."""
        if not isinstance(data, Mapping):
            raise SettingsError(
                [FieldError("settings", None, "must be a JSON object of settings", echo=False)]
            )
        with file_access(self.access), lora_search(self.api.lora_folders()):
            config = as_config(over, data) if over is not None else as_config(data)
        if config.from_run:
            check_run_folder(config.from_run)
        problem = self.chat_servers.problem(config.enhancement, own_key=own_key)
        if problem is not None:
            raise SettingsError([problem])
        return config

    def plan(self, data: Any, *, seed: int | None = None) -> GenerationPlan:
        """The plan of a caller's settings (no GPU)."""
        return self.api.create_generation_plan(self.settings(data), seed=seed)

    def movement(self, data: Any) -> list[MovementAnalysis]:
        """The camera movement of each prompt of a caller's settings."""
        return self.api.analyze_movement(self.settings(data))

    # -- the queue ---------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why jobs cannot run here now, or None."""
        return self.workers.problem()

    def submit(
        self, settings: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, api_key: str | None = None
    ) -> tuple[str, list[str]]:
        """Validate and queue one settings object or a list (one batch); (batch id, job ids).
        SettingsError lists every bad field of every item, keys prefixed with `[i].` for lists;
        GenerationUnavailable when this server cannot run jobs now."""
        single = isinstance(settings, Mapping)
        items = [settings] if single else list(settings)
        if not items:
            raise SettingsError([FieldError("jobs", [], "give one settings object or a non-empty list")])
        if len(items) > MAX_BATCH:
            raise SettingsError([FieldError("jobs", len(items), f"at most {MAX_BATCH} jobs in one batch")])
        errors: list[FieldError] = []
        configs: list[WanConfig] = []
        for index, item in enumerate(items):
            prefix = "" if single else f"[{index}]."
            try:
                configs.append(self.settings(item, own_key=bool(api_key)))
            except SettingsError as exc:
                errors += [FieldError(prefix + e.key, e.value, e.message, e.echo) for e in exc.errors]
        if errors:
            raise SettingsError(errors)
        problem = self.problem()
        if problem:
            raise GenerationUnavailable(f"jobs cannot run here now: {problem}")
        parents = [Path(c.output.dir) if c.output.dir else None for c in configs]
        secrets = [self._secrets(c, api_key) for c in configs]
        run_dirs = [Path(c.from_run) if c.from_run else None for c in configs]
        batch_id, ids = self.store.submit(
            [c.to_dict() for c in configs], run_parents=parents, secrets=secrets, run_dirs=run_dirs
        )
        self.dispatcher.wake()
        return batch_id, ids

    def _secrets(self, config: WanConfig, api_key: str | None) -> dict[str, Any]:
        """What a job's worker needs and no one may read: the caller's key, and whether its chat
        server must stay on the public internet (one the operator did not list)."""
        if not api_key:
            return {}
        return {
            "enhance_api_key": api_key,
            "public_only": not self.chat_servers.allows(config.enhancement.api_url),
        }

    def get(self, job_id: str) -> Job:
        """A job (JobNotFound for unknown or malformed ids)."""
        return self.store.get(job_id)

    def list(self, *, state: str | None = None, batch_id: str | None = None, limit: int = 100) -> list[Job]:
        """Jobs, newest first."""
        return self.store.list(state=state, batch_id=batch_id, limit=limit)

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        return self.store.counts()

    def file(self, job_id: str, relative: str) -> Path | None:
        """A file inside the job's own run folder, or None if it is not there (never outside)."""
        root = Path(self.store.get(job_id).run_dir).resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def preview(self, job_id: str) -> Path | None:
        """The newest preview image of a job: the live one, or the last frame of its newest
        finished clip (every job that finished a clip has one, however few its steps)."""
        root = Path(self.store.get(job_id).run_dir) / "previews"
        images = [path for path in root.glob("*.png") if path.is_file()] if root.is_dir() else []
        if not images:
            return None
        newest = max(images, key=lambda path: path.stat().st_mtime_ns)
        return self.file(job_id, f"previews/{newest.name}")

    def video(self, job_id: str) -> Path | None:
        """The finished video of a job (its own take's), or None."""
        job = self.store.get(job_id)
        if job.state != "succeeded":
            return None
        take = job.result.get("take")
        return self.file(job_id, f"takes/{take:03d}/video.mp4" if isinstance(take, int) else "video.mp4")

    # -- iterating ---------------------------------------------------------------------------------
    def run_folder(self, path: str | Path) -> RunFolder:
        """A run folder a caller names (SettingsError on from_run unless it lies in the output
        folders and holds a run)."""
        if not self.access.allows("outputs", path):
            message = "not allowed: name a run folder inside the server's output folder"
            raise SettingsError([FieldError("from_run", str(path), message)])
        check_run_folder(path)
        return RunFolder(path)

    def compare(self, data: Any, run_dir: str | Path | None = None) -> tuple[GenerationPlan, list[ClipReuse]]:
        """What a re-render of a caller's settings into a run folder (`run_dir`, else their
        from_run) does with each clip: reused (from which take) or rendered (and why)."""
        if run_dir is not None and isinstance(data, Mapping):
            data = {**data, "from_run": str(run_dir)}
        return self.api.compare_with_run(self.settings(data))

    def patch(self, job_id: str, data: Any) -> Job:
        """New settings (`data` over the job's own) for a queued, paused or running job. A job that
        has begun rendering takes them for the clips not yet started; ChangeRefused when they would
        change a clip of its take that has started or finished (see the module doc)."""
        job = self.store.get(job_id)
        if job.state not in PATCHABLE:
            self.store.set_settings(job_id, job.settings, allowed_in=PATCHABLE)  # says why not
        own_key = bool(self.store.secrets(job_id).get("enhance_api_key"))
        config = self.settings(data, own_key=own_key, over=job.settings)
        if config.from_run != job.settings.get("from_run", ""):
            message = "a job renders into its own run folder; submit a new job to re-render into another"
            raise SettingsError([FieldError("from_run", config.from_run, message)])
        self._check_started_clips(job, config)
        return self.store.set_settings(job_id, config.to_dict(), allowed_in=PATCHABLE)

    def _check_started_clips(self, job: Job, config: WanConfig) -> None:
        """ChangeRefused when `config` changes a clip the job's take has started or finished."""
        take = RunFolder(job.run_dir).latest()
        if take is None or take.record.get("created", 0.0) < job.created:
            return  # the job has made no take yet (a re-render's run holds only older ones)
        running = job.progress.get("clip") if job.progress.get("kind") in DENOISING else None
        factors = config_factors(config, take.auto_picked())
        plan = self.api.revision_plan(config, take.run.root)
        new = clip_fingerprints(plan, factors)
        for index, fingerprint in enumerate(take.fingerprints):
            started = index == running or take.run.has_clip(fingerprint)
            if started and (index >= len(new) or new[index] != fingerprint):
                changed = ["the clip is gone"]
                if index < len(new):
                    old = clip_materials(take.plan, take.record.get("factors", factors))[index]
                    changed = what_changed(old, clip_materials(plan, factors)[index])
                raise ChangeRefused(index, changed, take.run.root)

    def settled(self, job_id: str) -> bool:
        """Whether there is nothing more to follow: no such job, or one that needs no worker."""
        try:
            return self.store.get(job_id).settled or not self.dispatcher.alive
        except JobNotFound:
            return True

    # -- actions -----------------------------------------------------------------------------------
    def pause(self, job_id: str) -> Job:
        """Hold a queued job back, or a running one between steps."""
        return self.store.move(job_id, "paused", allowed_from=("queued", "running"))

    def resume(self, job_id: str) -> Job:
        """Continue a paused job, or queue an interrupted / failed / cancelled one again."""
        job = self.store.get(job_id)
        if job.state == "paused" and job.started is not None and job.worker:
            return self.store.move(job_id, "running", allowed_from=("paused",))
        job = self.store.move(
            job_id, "queued", allowed_from=("paused", *RESUMABLE), started=None, finished=None, worker=""
        )
        self.dispatcher.wake()
        return job

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued, paused or running job (a running one stops within one step)."""
        return self.store.move(
            job_id, "cancelled", allowed_from=("queued", "paused", "running", "interrupted", "failed")
        )

    def delete(self, job_id: str) -> None:
        """Forget a job that is not being rendered; its run folder stays on disk."""
        self.store.delete(job_id)

    # -- enhancement previews ----------------------------------------------------------------------
    def enhance(
        self,
        prompts: Sequence[str],
        contexts: Sequence[Mapping[str, str]],
        settings: Mapping[str, Any],
        *,
        api_key: str | None = None,
    ) -> concurrent.futures.Future[list[dict[str, Any]]]:
        """Enhance prompts now (not as a job), in the bounded pool: a chat server is asked from
        this process; a local Qwen model runs in a runtime process while no job holds the GPU.
        Busy when the pool is full or the GPU is taken."""
        config = self.settings(settings, own_key=bool(api_key))
        if not self._waiting.acquire(blocking=False):
            raise Busy(
                f"{ENHANCE_WORKERS + ENHANCE_WAITING} enhancement requests are waiting already; try later"
            )
        try:
            future = self._previews.submit(self._enhance, list(prompts), list(contexts), config, api_key)
        except BaseException:
            self._waiting.release()
            raise
        future.add_done_callback(lambda _: self._waiting.release())
        return future

    def _enhance(
        self, prompts: list[str], contexts: list[Mapping[str, str]], config: WanConfig, api_key: str | None
    ) -> list[dict[str, Any]]:
        from ..prompts import PromptContext

        if config.enhancement.backend == "openai":
            engine = self.api.enhancer(
                config.enhancement,
                style_strength=config.style.strength,
                api_key=api_key,
                public_only=bool(api_key) and not self.chat_servers.allows(config.enhancement.api_url),
                deadline=time.monotonic() + ENHANCE_SECONDS,
            )
            with engine:
                context = [PromptContext(c.get("movement", ""), c.get("style", "")) for c in contexts]
                return [r.to_dict() for r in engine.enhance_prompts(prompts, context)]
        if not self.dispatcher.gpu_lock.acquire(timeout=GPU_WAIT_SECONDS):
            raise Busy("the GPU is busy with a generation; try later, or submit a job with enhance_enabled")
        try:
            request = {
                "prompts": prompts,
                "contexts": contexts,
                "settings": config.to_dict(),
                "api_key": api_key,
            }
            return self._local_enhance(request)
        finally:
            self.dispatcher.gpu_lock.release()

    def _local_enhance(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a local enhancer: here when workers are threads of this process, else in a runtime
        process (never torch in the server process)."""
        if isinstance(self.workers, ThreadWorkers):
            from .worker_process import run_enhance_task

            return run_enhance_task(self.api, request)["results"]
        return run_in_runtime(self.runtime, worker_arguments(self.api), request, ENHANCE_SECONDS)

    # -- the runtime -------------------------------------------------------------------------------
    def prepare_runtime(self) -> str:
        """Prepare (or rebuild) the runtime environment in the background, its output in its
        log; what happens, in words. Workers are tried again once it is ready."""
        if not self.runtime.owned:
            return f"Workers run with {self.runtime.python}; there is no runtime to prepare."
        if self.runtime.preparing():
            return "The runtime is being prepared already."
        import subprocess
        import sys

        assert self.runtime.root is not None
        command = [sys.executable, "-m", "wan", "runtime", "prepare", "--dir", str(self.runtime.root)]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.runtime.worker_environment(),
        )

        def wait() -> None:
            process.wait()
            retry = getattr(self.workers, "retry", None)
            if retry is not None:
                retry()
            self.dispatcher.wake()

        threading.Thread(target=wait, name="wan-prepare-runtime", daemon=True).start()
        return f"Preparing the runtime at {self.runtime.root}; progress is in {self.runtime.log_path}."

    # -- model files -------------------------------------------------------------------------------
    def download_model(self, model_id: str) -> str:
        """Start downloading a registry model into the models folder in a runtime process (never in
        this one); what happens, in words. DownloadUnavailable when downloads are off here."""
        from ..catalog import known_model

        spec = known_model(model_id)
        if spec is None or spec.tiny:
            raise DownloadUnavailable(f"'{model_id[:64]}' is not a model to download; pick one from the list")
        if not self.api.allow_download:
            raise DownloadUnavailable(
                "downloads are off on this server: start it with --allow-download (in the WebUI: "
                "--wan-allow-download, or Settings -> Wan Video), or run: "
                f"python -m wan models download {spec.id}"
            )
        return self.downloads.start(spec.id)

    # -- what the server knows ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Runtime, workers, queue: what the tab and /system show."""
        return {
            "runtime": self.runtime.status().to_dict(),
            "problem": self.problem(),
            "workers": [w.to_dict() for w in self.store.workers()],
            "counts": self.counts(),
            "queue": str(self.folder),
            "damaged_queue": str(self.store.damaged) if self.store.damaged else None,
            "recovered": self.recovered,
        }

    def system_info(self) -> dict[str, Any]:
        """Versions, the GPUs (as the workers report them, else as a runtime process sees them),
        the preset `auto` picks for each, and the status."""
        gpus = unique_gpus([w.info["gpu"] for w in self.store.workers() if w.info.get("gpu")])
        looking = {}
        if not gpus and self.probed_gpus is None and self.runtime.status().ready:
            self._look_for_gpus().join(GPU_PROBE_WAIT_SECONDS)
            if self.probed_gpus is None:
                looking = {"gpu_probe": "still looking for GPUs in the runtime; ask again in a moment"}
        if not gpus:
            gpus = self.probed_gpus or []
        return self.api.system_info(gpus=gpus) | {"service": self.status()} | looking

    def _look_for_gpus(self) -> threading.Thread:
        """The one background look for GPUs in a runtime process (started on first use): however
        many callers ask at once, one process imports torch."""

        def look() -> None:
            try:
                self.probed_gpus = probe_in_runtime(self.runtime)
            except WanError:
                self.probed_gpus = []

        with self._probe_lock:
            if self._probe is None:
                self._probe = threading.Thread(target=look, name="wan-gpu-probe", daemon=True)
                self._probe.start()
            return self._probe


def run_in_runtime(
    runtime: RuntimeEnv, arguments: Sequence[str], request: dict[str, Any], timeout: float
) -> Any:
    """Send an enhancement request to a one-off runtime process; its results, or WanError."""
    import json
    import subprocess

    command = runtime.command("worker", "--task", "enhance", *arguments)
    try:
        done = subprocess.run(
            command,
            input=json.dumps(request).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            env=runtime.worker_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WanError(f"the enhancer did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise WanError(f"the enhancer could not start: {exc}") from None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise WanError(f"the enhancer process failed (exit code {done.returncode}): {tail[0]}") from None
    if "error" in answer:
        raise WanError(answer["error"])
    return answer["results"]


__all__ = [
    "FINISHED",
    "SETTLED",
    "STATES",
    "Busy",
    "ChangeRefused",
    "GenerationUnavailable",
    "IllegalTransition",
    "JobNotFound",
    "JobService",
]
