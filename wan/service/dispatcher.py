"""The dispatcher: gives queued jobs, oldest first, to free workers, and escorts each one.

For every job it hands out, an escort thread first takes the GPU gate (inside a WebUI, the
host's own generation lock, after which the host's model is unloaded, so txt2img and Wan never
fight for GPU memory; standalone, no gate), then assigns the job, mirrors its progress to an
observer (the WebUI's own progress bar, whose Interrupt cancels the job) and lets the gate go
once the job needs the GPU no more (it finished, was interrupted, or was paused before it ran).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Protocol

from .jobs import Job, JobStore, WorkerRecord
from .workers import Workers, shares_host_gpu


class Gate(Protocol):
    """Exclusive use of the GPU, shared with the host."""

    def acquire(self, job: Job) -> None:
        """Wait until the GPU is ours (and the host's model is out of it)."""

    def release(self) -> None:
        """Give the GPU back to the host."""


class NoGate:
    """Nothing to share the GPU with (the standalone server)."""

    def acquire(self, job: Job) -> None:
        """Nothing to wait for."""

    def release(self) -> None:
        """Nothing to give back."""


class Observer(Protocol):
    """Someone else who shows a job's progress (the WebUI's own progress bar and Interrupt)."""

    def started(self, job: Job) -> None:
        """A job starts on the GPU."""

    def progress(self, job: Job) -> None:
        """The job's latest state and progress."""

    def interrupted(self) -> bool:
        """Whether the observer asks the running job to stop (the WebUI's Interrupt button)."""
        return False

    def finished(self) -> None:
        """The job left the GPU (any outcome)."""


def needs_gpu(job: Job) -> bool:
    """Whether a job given to a worker still holds (or is about to take) the GPU."""
    if job.state == "running":
        return True
    if job.state == "paused":
        return job.started is not None  # paused between steps: it keeps its place
    return job.state == "queued" and bool(job.worker)


def preferred_worker(free: list[str], job: Job, reports: list[WorkerRecord]) -> str:
    """Of the free workers, one that keeps the job's model (and weights format) loaded, else one
    whose last job used it, else one with no model yet, else the first: a worker reports its
    latest model and the one it keeps loaded in its heartbeat (wan.service.worker)."""
    wanted = (job.settings.get("model"), job.settings.get("weights"))
    models = {r.id: (r.info.get("model"), r.info.get("weights")) for r in reports}
    loaded = {r.id: tuple(r.info.get("loaded") or (None, None)) for r in reports}
    for test in (
        lambda w: loaded.get(w) == wanted,
        lambda w: models.get(w) == wanted,
        lambda w: models.get(w, (None,))[0] is None,
    ):
        chosen = [worker for worker in free if test(worker)]
        if chosen:
            return chosen[0]
    return free[0]


class Dispatcher:
    """See the module doc; start() / stop() / wake()."""

    def __init__(
        self,
        store: JobStore,
        workers: Workers,
        *,
        gate: Gate | None = None,
        observer: Observer | None = None,
        poll_seconds: float = 0.3,
    ) -> None:
        self.store = store
        self.workers = workers
        self.gate = gate or NoGate()
        self.observer = observer
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._escorts: dict[str, threading.Thread] = {}  # worker id -> escort of its job
        self._busy_jobs: set[str] = set()
        self._lock = threading.Lock()
        self.gpu_lock = threading.Lock()  # held by whatever uses the GPU outside a job (previews)

    def start(self) -> None:
        """Start dispatching (once)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="wan-dispatcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop handing out jobs; escorts end when their jobs do."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for escort in list(self._escorts.values()):
            escort.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the dispatcher runs."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Look at the queue now (after a submission) instead of at the next poll."""
        self._wake.set()

    def busy(self) -> bool:
        """Whether a job holds the GPU now (or is about to)."""
        with self._lock:
            return bool(self._escorts)

    # -- the loop ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                handed = self._hand_out()
            except Exception:  # a busy database or a worker that failed to start: try again later
                handed = False
            if not handed:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _hand_out(self) -> bool:
        """Give the oldest waiting job to a free worker; whether one was given."""
        job = self.store.next_queued()
        if job is None:
            return False
        with self._lock:
            if job.id in self._busy_jobs:
                return False
        self.workers.ensure()
        with self._lock:
            free = [w for w in self.workers.ready() if w not in self._escorts]
            if not free:
                return False
            worker = preferred_worker(free, job, self.store.workers())
            self._busy_jobs.add(job.id)
            escort = threading.Thread(
                target=self._escort, args=(job, worker), name=f"wan-escort-{worker}", daemon=True
            )
            self._escorts[worker] = escort
        escort.start()
        return True

    def _escort(self, job: Job, worker: str) -> None:
        lock = self.gpu_lock if shares_host_gpu(self.workers, worker) else contextlib.nullcontext()
        try:
            with lock:
                self.gate.acquire(job)
                try:
                    if self.store.assign(job.id, worker):
                        self._follow(job.id, worker)
                finally:
                    self.gate.release()
        finally:
            with self._lock:
                self._escorts.pop(worker, None)
                self._busy_jobs.discard(job.id)
            self._wake.set()

    def _follow(self, job_id: str, worker: str) -> None:
        """Mirror the job to the observer until it no longer needs the GPU."""
        observer = self.observer
        started = False
        try:
            while True:
                job = self.store.get(job_id)
                if not needs_gpu(job) or job.worker != worker:
                    return
                if not self.workers.holds(worker):  # it died: the pool releases the job
                    time.sleep(self.poll_seconds)
                    continue
                if observer is not None:
                    if not started and job.state == "running":
                        observer.started(job)
                        started = True
                    if started:
                        observer.progress(job)
                        if observer.interrupted():
                            with contextlib.suppress(Exception):
                                self.store.move(job_id, "cancelled", allowed_from=("running", "paused"))
                time.sleep(self.poll_seconds)
        finally:
            if observer is not None and started:
                observer.finished()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job holds the GPU; whether that happened within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
