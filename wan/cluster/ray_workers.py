"""The server's workers as Ray actors (`serve --ray auto|local|ADDRESS`).

The queue (JobStore) and the REST API stay on the head, unchanged: for each actor the head runs
the usual worker loop (wan.service.worker.WorkerLoop) in a thread, whose job runner hands the
job to the actor (wan.cluster.actor.RenderActor) and, while it renders, mirrors its progress into
the queue, forwards pause / cancel / stop to it and writes every file it ships back (each finished
clip as soon as it is written, then the video and metrics) into the head's run folder. With a
shared output folder (`--ray-shared-output`: every node mounts the output folder at the same
path, checked at start) the actors write the run folders themselves and nothing is shipped.

An actor that is lost (its process or node died: ray.exceptions.RayActorError) gives its job
back to the queue (wan.service.jobs.JobStore.release with requeue), where another actor continues
it from its last finished clip (those clips are in the head's run folder already); Ray restarts
the lost actor (max_restarts) wherever the cluster has room, and it takes jobs again once it
answers.
"""

from __future__ import annotations

import contextlib
import re
import secrets as token_source
import socket
import threading
from pathlib import Path
from typing import Any

from ..errors import WanError
from ..service.gpus import GpuRequest, GpuSelectionError, parse_gpus
from ..service.jobs import Job, JobNotFound, JobStore
from ..service.worker import Report, WorkerLoop, WorkerStopping
from ..service.workers import REQUEUE_BELOW_ATTEMPTS
from .shipping import read_all, write_files

INSTALL = "pip install -e '.[cluster]'"
ALLOWED = "auto (the running cluster), local (a cluster started here) or HOST:PORT / ray://HOST:PORT"
POLL_SECONDS = 0.3
ACTOR_RESTARTS = 4
CONNECT_SECONDS = 10.0


class RayClusterError(WanError, RuntimeError):
    """--ray cannot be used: Ray is missing, the value is malformed, or the cluster cannot be reached."""


def parse_ray_address(value: str) -> str | None:
    """The address ray.init gets for a --ray value (None: start a local cluster)."""
    text = str(value).strip()
    if text == "local":
        return None
    if text == "auto" or re.fullmatch(r"(ray://)?[A-Za-z0-9.\-]{1,253}:[0-9]{1,5}", text):
        return text
    raise RayClusterError(f"--ray: {str(value)[:60]!r} is not {ALLOWED}")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayClusterError(f"--ray: Ray is not installed; {INSTALL}") from None
    return ray


def connect(value: str, **local: Any) -> Any:
    """Join the cluster a --ray value names (ray.init); `local`: ray.init options of a local one."""
    address = parse_ray_address(value)
    ray = _ray()
    if ray.is_initialized():
        return ray
    if address not in (None, "auto"):
        _reachable(value, address)
    try:
        if address is None:
            ray.init(**({"include_dashboard": True} | local))
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayClusterError(
            f"--ray {value}: no Ray cluster could be joined ({first}); start one with `ray start --head` "
            f"or use --ray local; allowed: {ALLOWED}"
        ) from None
    return ray


def _reachable(value: str, address: str, timeout: float = CONNECT_SECONDS) -> None:
    """Fail at once, in one line, when nothing listens at HOST:PORT (ray.init would retry for
    minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise RayClusterError(
            f"--ray {value}: no Ray cluster could be joined (nothing answers at {host}:{port}: {exc}); "
            f"start one with `ray start --head` or use --ray local; allowed: {ALLOWED}"
        ) from None


class _Slot:
    """One actor and the head-side worker loop that drives it."""

    def __init__(self, pool: RayWorkers, index: int, actor: Any) -> None:
        self.pool = pool
        self.worker_id = f"ray-{index}"
        self.actor = actor
        self.healthy = True
        self.ping: Any = None
        self.loop = _ActorLoop(self, pool.store, self.worker_id, generate=self.generate)
        self.thread: threading.Thread | None = None

    # -- one job on the actor ----------------------------------------------------------------------
    def generate(self, job: Job, control: Any, report: Report) -> dict[str, Any]:
        """Render `job` on the actor (see the module doc)."""
        ray = self.pool.ray
        head = Path(job.run_dir)
        files = None if self.pool.shared else read_all(head)
        try:
            run = self.actor.run.remote(job, self.pool.store.secrets(job.id), files)
            while True:
                done, _ = ray.wait([run], timeout=POLL_SECONDS)
                command = "stop" if self.loop.stopping.is_set() else self.pool.store.state_of(job.id)
                settings = self._settings_now(job.id)
                events, shipped = ray.get(
                    self.actor.poll.remote(command or "deleted", final=bool(done), settings=settings)
                )
                if shipped:
                    write_files(head, shipped)
                for event in events:
                    report(event)
                if done:
                    result = ray.get(run)
                    break
        except ray.exceptions.RayActorError as exc:
            self.lost(exc)
            raise WorkerStopping(self.loop.lost) from None
        except ray.exceptions.RayTaskError as exc:  # the actor's own error: WanError, cancelled, a bug
            raise (exc.cause if exc.cause is not None else exc) from None
        return _on_head(result, head)

    def _settings_now(self, job_id: str) -> dict[str, Any] | None:
        """The job's settings in the queue now (a PATCH changes them between clips); None once deleted."""
        try:
            return self.pool.store.get(job_id).settings
        except JobNotFound:
            return None

    def lost(self, exc: BaseException) -> None:
        """The actor died: the job goes back to the queue, the slot waits for Ray's restart."""
        self.healthy, self.ping = False, None
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        self.loop.lost = f"the Ray actor {self.worker_id} was lost ({first})"

    def answering(self) -> bool:
        """Whether the actor is healthy, or answers again after a restart."""
        if self.healthy:
            return True
        ray = self.pool.ray
        if self.ping is None:
            self.ping = self.actor.ping.remote()
        ready, _ = ray.wait([self.ping], timeout=0)
        if ready:
            try:
                ray.get(self.ping)
                self.healthy = True
            except ray.exceptions.RayError:
                pass
            self.ping = None
        return self.healthy


def _on_head(result: dict[str, Any], head: Path) -> dict[str, Any]:
    """A result whose paths name the actor's run folder, with the head's instead."""
    local = result.get("run_dir")
    if not local:
        return result
    moved = dict(result, run_dir=str(head))
    for key in ("video", "frames_dir"):
        value = result.get(key)
        if value and str(value).startswith(str(local)):
            moved[key] = str(head) + str(value)[len(str(local)) :]
    return moved


class _ActorLoop(WorkerLoop):
    """The worker loop of one actor: a job whose actor was lost goes back to the queue."""

    def __init__(self, slot: _Slot, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = slot
        self.lost = ""

    def _end(self, job_id: str, state: str, *, error: str = "") -> None:
        if self.lost:
            reason, self.lost = self.lost, ""
            self.store.release(self.worker_id, reason=reason, requeue_below=REQUEUE_BELOW_ATTEMPTS)
            return
        super()._end(job_id, state, error=error)


class RayWorkers:
    """Workers as Ray actors for the dispatcher (the wan.service.workers.Workers protocol)."""

    def __init__(
        self,
        store: JobStore,
        ray: Any,
        *,
        count: int,
        gpus: bool,
        api_options: dict[str, Any],
        shared: bool = False,
    ) -> None:
        from .actor import RenderActor

        self.store = store
        self.ray = ray
        self.shared = shared
        resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        remote = ray.remote(max_concurrency=4, max_restarts=ACTOR_RESTARTS, **resources)(RenderActor)
        self.slots = [
            _Slot(self, n, remote.options(name=f"wan-worker-{n}", get_if_exists=False).remote(api_options))
            for n in range(count)
        ]
        self._started = False

    def ensure(self) -> None:
        """Start the head-side loops (once); each reports where its actor runs."""
        if self._started:
            return
        self._started = True
        for slot in self.slots:
            slot.thread = threading.Thread(target=self._run, args=(slot,), name=f"wan-{slot.worker_id}")
            slot.thread.daemon = True
            slot.thread.start()

    def _run(self, slot: _Slot) -> None:
        try:
            slot.loop.info.update(self.ray.get(slot.actor.describe.remote(), timeout=600))
        except Exception as exc:  # an actor that cannot start still shows up, with why
            slot.loop.info["problem"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        slot.loop.run()

    def ready(self) -> list[str]:
        """Idle loops whose actors answer."""
        return [
            slot.worker_id
            for slot in self.slots
            if slot.thread is not None
            and slot.thread.is_alive()
            and slot.loop.state == "idle"
            and slot.answering()
        ]

    def holds(self, worker_id: str) -> bool:
        """Whether that actor's loop still runs."""
        return any(
            s.worker_id == worker_id and s.thread is not None and s.thread.is_alive() for s in self.slots
        )

    def problem(self) -> str | None:
        """Why no actor can take a job (all of them are lost and not restarted yet)."""
        if self._started and not any(slot.healthy for slot in self.slots):
            return "every Ray actor was lost; waiting for Ray to restart them (see the Ray dashboard)"
        return None

    def shares_host_gpu(self, worker_id: str) -> bool:
        """Actors have GPUs of their own (Ray's), never the head process's."""
        return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the loops (a running job becomes interrupted, resumable) and end the actors."""
        for slot in self.slots:
            slot.loop.stop()
        for slot in self.slots:
            if slot.thread is not None:
                slot.thread.join(timeout)
        for slot in self.slots:
            with contextlib.suppress(Exception):  # already gone with its node
                self.ray.kill(slot.actor, no_restart=True)


def cluster_gpus(ray: Any) -> int:
    """How many GPUs the cluster has (all nodes)."""
    return int(ray.cluster_resources().get("GPU", 0))


def ray_gpu_request(gpus: str) -> GpuRequest:
    """A --gpus value for Ray actors: all or a count (Ray picks each node's GPUs), not indices."""
    request = parse_gpus(gpus)
    if request.indices:
        raise GpuSelectionError(
            f"--gpus {gpus}: with --ray give all or a number of GPUs; Ray picks the GPUs on each node"
        )
    return request


def actor_count(ray: Any, gpus: str | None, workers: int | None) -> tuple[int, bool]:
    """(how many actors, whether each takes a GPU) from --gpus / --workers and the cluster."""
    present = cluster_gpus(ray)
    if gpus is not None:
        request = ray_gpu_request(gpus)
        if not present:
            raise GpuSelectionError(
                f"--gpus {gpus}: the Ray cluster has no GPU; use --workers N for CPU actors"
            )
        count = present if request.every else request.count or 0
        if count > present:
            raise GpuSelectionError(
                f"--gpus {gpus}: the Ray cluster has {present} GPU(s); ask for at most {present}"
            )
        return count, True
    if workers is not None:
        return workers, bool(present)
    return (present, True) if present else (1, False)


def check_shared_output(ray: Any, workers: RayWorkers, folder: Path) -> None:
    """Every actor sees the head's output folder at the same path (RayClusterError otherwise)."""
    token = token_source.token_hex(16)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / ".wan-shared-output"
    marker.write_text(token, encoding="utf-8")
    answers = ray.get(
        [slot.actor.check_shared.remote(str(folder), token) for slot in workers.slots], timeout=600
    )
    missing = [slot.worker_id for slot, seen in zip(workers.slots, answers, strict=True) if not seen]
    if missing:
        raise RayClusterError(
            f"--ray-shared-output: {folder} is not the same folder on the nodes of {', '.join(missing)}; "
            "mount the output folder at the same path on every node, or leave the option out (the clips are "
            "then shipped to the head)"
        )


def start_ray_workers(
    store: JobStore,
    value: str,
    *,
    api_options: dict[str, Any],
    gpus: str | None = None,
    workers: int | None = None,
    shared_output: Path | None = None,
    local: dict[str, Any] | None = None,
) -> RayWorkers:
    """Join the cluster `value` names and create its actors (see the module doc)."""
    ray = connect(value, **(local or {}))
    count, with_gpu = actor_count(ray, gpus, workers)
    pool = RayWorkers(
        store, ray, count=count, gpus=with_gpu, api_options=api_options, shared=shared_output is not None
    )
    if shared_output is not None:
        try:
            check_shared_output(ray, pool, shared_output)
        except BaseException:
            pool.stop(timeout=1)
            raise
    return pool
