"""The server's workers: threads of its own process, or processes of the runtime environment.

ProcessWorkers is what servers use: each worker is `python -m wan worker` started with the
runtime's interpreter, so the server itself never imports torch, diffusers or transformers. A
worker is started when there is work, reads the job store, and stops when told to (its standard
input is closed: the same on every platform, and it also happens when the server dies) or after
`idle_exit` seconds without a job (which frees its GPU memory). A worker that dies (a segfault, a
CUDA error, killed for memory) leaves its job interrupted and resumable; the server starts
another when there is work, unless workers keep dying at start, which it reports as the problem
instead of trying forever. Each worker's output goes to `<queue>/workers/<id>.log`.

ThreadWorkers runs the same loop (wan.service.worker) in threads: for tests, which give it a
stand-in render, and for Python users who want a queue without a second environment.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from ..runtime import RuntimeEnv
from .gpus import VISIBLE_VARIABLE
from .jobs import JobStore
from .worker import Generate, WorkerLoop

# A worker that stops this soon after it started counts as failing to start; after this many in a
# row the server stops restarting it and reports why.
QUICK_EXIT_SECONDS = 60.0
MAX_QUICK_EXITS = 3
# How long a worker has to report in after it started before it counts as stuck.
STARTUP_SECONDS = 300.0
# With several workers, a job whose worker died goes back to the queue (another worker continues
# from its last finished clip) until it has been started this many times; then it is interrupted.
REQUEUE_BELOW_ATTEMPTS = 3


class Workers(Protocol):
    """What the dispatcher needs of a set of workers."""

    def ensure(self) -> None:
        """Start workers that should run (there is work) and are not running."""

    def ready(self) -> list[str]:
        """Ids of live workers that have reported in and hold no job."""

    def holds(self, worker_id: str) -> bool:
        """Whether the worker is alive (it may still finish its job)."""

    def problem(self) -> str | None:
        """Why no worker can run, or None."""

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every worker; a running job becomes interrupted (resumable)."""


def shares_host_gpu(workers: Workers, worker_id: str) -> bool:
    """Whether a worker's jobs use the GPU the host (and a local prompt enhancer) uses, so they
    take the dispatcher's GPU lock; workers that say nothing do."""
    shares = getattr(workers, "shares_host_gpu", None)
    return True if shares is None else bool(shares(worker_id))


class ThreadWorkers:
    """Workers as threads of this process (see the module doc)."""

    def __init__(
        self,
        store: JobStore,
        *,
        count: int = 1,
        generate: Generate | None = None,
        api: Any = None,
        **loop: Any,
    ) -> None:
        self.loops = [
            WorkerLoop(store, f"thread-{n}", generate=generate, api=api, **loop) for n in range(count)
        ]
        self.threads: list[threading.Thread] = []

    def ensure(self) -> None:
        """Start the threads (once)."""
        if not self.threads:
            for loop in self.loops:
                thread = threading.Thread(target=loop.run, name=f"wan-{loop.worker_id}", daemon=True)
                thread.start()
                self.threads.append(thread)

    def ready(self) -> list[str]:
        """Idle threads."""
        return [
            loop.worker_id
            for loop, thread in zip(self.loops, self.threads, strict=False)
            if thread.is_alive() and loop.state == "idle"
        ]

    def holds(self, worker_id: str) -> bool:
        """Whether that thread still runs."""
        return any(
            loop.worker_id == worker_id and t.is_alive()
            for loop, t in zip(self.loops, self.threads, strict=False)
        )

    def problem(self) -> str | None:
        """Threads always run."""
        return None

    def shares_host_gpu(self, worker_id: str) -> bool:
        """The first thread's jobs take the GPU lock; more threads stand for other devices."""
        return worker_id == self.loops[0].worker_id

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every loop after its current step."""
        for loop in self.loops:
            loop.stop()
        for thread in self.threads:
            thread.join(timeout)


@dataclass
class _Slot:
    worker_id: str
    device: str | None
    gpu: int | None = None  # the machine's GPU index this worker alone sees (CUDA_VISIBLE_DEVICES)
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started: float = 0.0
    quick_exits: int = 0
    last_exit: str = ""
    given_up: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ProcessWorkers:
    """Worker processes of a runtime environment (see the module doc)."""

    def __init__(
        self,
        store: JobStore,
        runtime: RuntimeEnv,
        *,
        devices: Sequence[str | None] = (None,),
        gpus: Sequence[int] = (),
        arguments: Sequence[str] = (),
        idle_exit: float | None = 600.0,
        name: str = "worker",
    ) -> None:
        """One worker per entry of `devices` (None: the default device), or, given `gpus`, one
        per GPU index, each seeing only its GPU (as cuda:0)."""
        self.store = store
        self.runtime = runtime
        self.arguments = list(arguments)
        self.idle_exit = idle_exit
        if gpus:
            self.slots = [_Slot(f"{name}-gpu{gpu}", None, gpu) for gpu in gpus]
        else:
            self.slots = [_Slot(f"{name}-{n}", device) for n, device in enumerate(devices)]
        # several workers: a dead worker's job is continued by another one
        self.requeue_below = REQUEUE_BELOW_ATTEMPTS if len(self.slots) > 1 else 0
        self.log_dir = store.folder / "workers"
        self._lock = threading.Lock()
        self._stopping = False

    def _command(self, slot: _Slot) -> list[str]:
        command = self.runtime.command("worker", "--queue", str(self.store.folder), "--id", slot.worker_id)
        if slot.device:
            command += ["--device", slot.device]
        if self.idle_exit is not None:
            command += ["--idle-exit", f"{self.idle_exit:g}"]
        return command + self.arguments

    def log_path(self, worker_id: str) -> Path:
        """Where a worker's output goes."""
        return self.log_dir / f"{worker_id}.log"

    def _start(self, slot: _Slot) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        slot.log = self.log_path(slot.worker_id).open("ab")
        slot.log.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {slot.worker_id}\n".encode())
        slot.log.flush()
        flags = subprocess.CREATE_NEW_PROCESS_GROUP if sys.platform == "win32" else 0
        environment = self.runtime.worker_environment()
        if slot.gpu is not None:  # the same on every platform: CUDA reads it when torch starts
            environment[VISIBLE_VARIABLE] = str(slot.gpu)
        slot.process = subprocess.Popen(
            self._command(slot),
            stdin=subprocess.PIPE,
            stdout=slot.log,
            stderr=subprocess.STDOUT,
            env=environment,
            creationflags=flags,
        )
        slot.started = time.monotonic()

    def _reap(self, slot: _Slot) -> None:
        """A slot whose process ended: release its job, note how it ended, decide on restarts."""
        assert slot.process is not None
        code = slot.process.returncode
        lived = time.monotonic() - slot.started
        slot.last_exit = f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
        reason = f"the worker process stopped ({slot.last_exit})"
        requeue = 0 if self._stopping else self.requeue_below
        self.store.release(
            slot.worker_id,
            reason=reason + ("" if requeue else "; resume the job to continue"),
            requeue_below=requeue,
        )
        with contextlib.suppress(Exception):
            self.store.forget_worker(slot.worker_id)
        slot.quick_exits = slot.quick_exits + 1 if lived < QUICK_EXIT_SECONDS and code != 0 else 0
        slot.given_up = slot.quick_exits >= MAX_QUICK_EXITS
        if slot.log is not None:
            slot.log.close()
        slot.process, slot.log = None, None

    def check(self) -> None:
        """Notice workers that ended (and release their jobs)."""
        with self._lock:
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is not None:
                    self._reap(slot)

    def ensure(self) -> None:
        """Start a worker in every slot that has none (unless it keeps dying at start)."""
        self.check()
        if not self.runtime.status().ready:
            return
        with self._lock:
            if self._stopping:
                return
            for slot in self.slots:
                if slot.process is None and not slot.given_up:
                    self._start(slot)

    def ready(self) -> list[str]:
        """Live workers that report being idle."""
        self.check()
        reported = {w.id: w for w in self.store.workers()}
        with self._lock:
            live = {s.worker_id for s in self.slots if s.process is not None}
        return [
            wid
            for wid in live
            if wid in reported and reported[wid].state == "idle" and not reported[wid].info.get("job")
        ]

    def holds(self, worker_id: str) -> bool:
        """Whether that worker's process is alive."""
        self.check()
        return any(s.worker_id == worker_id and s.process is not None for s in self.slots)

    def problem(self) -> str | None:
        """Why no worker runs: the runtime is not ready, or workers keep dying at start."""
        status = self.runtime.status()
        if not status.ready:
            return f"{status.message}" + (f" (log: {status.log})" if status.log else "")
        stuck = [s for s in self.slots if s.given_up]
        if stuck and len(stuck) == len(self.slots):
            slot = stuck[0]
            return (
                f"the worker process stopped {MAX_QUICK_EXITS} times right after starting "
                f"({slot.last_exit}); "
                f"see {self.log_path(slot.worker_id)}"
            )
        return None

    def shares_host_gpu(self, worker_id: str) -> bool:
        """Whether the worker renders on the default GPU (the host's, and a local enhancer's)."""
        slot = next((s for s in self.slots if s.worker_id == worker_id), None)
        if slot is None:
            return True
        if slot.gpu is not None:
            return slot.gpu == 0
        return slot is self.slots[0]

    def retry(self) -> None:
        """Try workers that were given up on again (after the runtime was fixed)."""
        with self._lock:
            for slot in self.slots:
                slot.given_up, slot.quick_exits = False, 0

    def stop(self, timeout: float = 30.0) -> None:
        """Close every worker's input (it stops after its current step), then wait; kill what
        is still running after `timeout`."""
        with self._lock:
            self._stopping = True
            processes = [s.process for s in self.slots if s.process is not None]
        for process in processes:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.check()
