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

With `group_size` N > 1 (`--group-size N`) each worker of the queue is a context-parallel group
of N actors, reserved together by a Ray placement group (one bundle per actor, STRICT_PACK: the
group stays on one node, for NCCL). Its loop drives rank 0 exactly as a single actor above and
starts the same job on the other ranks, which render alongside it (wan.cluster.actor). A job
ends when every rank has ended: a rank still running a while after the others (waiting in a
collective for a peer that is gone) is killed, and Ray restarts it; a lost actor of any rank
gives the job back to the queue, as above.
"""

from __future__ import annotations

import contextlib
import secrets as token_source
import threading
import time
from pathlib import Path
from typing import Any

from ..service.jobs import Job, JobNotFound, JobStore
from ..service.worker import Report, WorkerLoop, WorkerStopping
from ..service.workers import REQUEUE_BELOW_ATTEMPTS
from .connect import RayClusterError, connect
from .shipping import read_all, write_files
from .sizing import check_group_gpus, check_group_size, group_bundle, group_count

POLL_SECONDS = 0.3
ACTOR_RESTARTS = 4
GROUP_END_SECONDS = 60.0  # how long the ranks of a group may end after one another


class _Slot:
    """One worker of the queue: an actor, or the actors of a group (rank 0 first), and the
    head-side worker loop that drives it."""

    def __init__(self, pool: RayWorkers, index: int, actors: list[Any], placement: Any = None) -> None:
        self.pool = pool
        self.worker_id = f"ray-{index}"
        self.actors = actors
        self.placement = placement  # the group's Ray placement group (None: one actor)
        self.healthy = True
        self.pings: list[Any] = []
        self.loop = _ActorLoop(self, pool.store, self.worker_id, generate=self.generate)
        self.thread: threading.Thread | None = None

    @property
    def actor(self) -> Any:
        """The actor the head drives (rank 0 of a group)."""
        return self.actors[0]

    # -- one job on the actor ----------------------------------------------------------------------
    def generate(self, job: Job, control: Any, report: Report) -> dict[str, Any]:
        """Render `job` on the actor, or on every actor of the group (see the module doc)."""
        ray = self.pool.ray
        head = Path(job.run_dir)
        files = None if self.pool.shared else read_all(head)
        runs: list[Any] = []
        try:
            runs = self._start(job, files)
            result = self._follow(job, runs, head, report)
        except ray.exceptions.RayActorError as exc:
            self._end_ranks(runs)
            self._last_files(job, head)
            self.lost(exc)
            raise WorkerStopping(self.loop.lost) from None
        except ray.exceptions.RayTaskError as exc:  # the actor's own error: WanError, cancelled, a bug
            lost = self._end_ranks(runs)
            if lost is not None:  # rank 0 failed because another rank was lost
                self.lost(lost)
                raise WorkerStopping(self.loop.lost) from None
            raise (exc.cause if exc.cause is not None else exc) from None
        self._end_ranks(runs)
        return _on_head(result, head)

    def _start(self, job: Job, files: dict[str, bytes] | None) -> list[Any]:
        """Start the job on the actor, or on every rank of the group (rank 0's run first)."""
        ray = self.pool.ray
        secrets = self.pool.store.secrets(job.id)
        if len(self.actors) == 1:
            return [self.actor.run.remote(job, secrets, files)]
        from .actor import Rendezvous

        address, port = ray.get(self.actor.rendezvous.remote())
        shipped = None if files is None else ray.put(files)  # stored once, read by every rank
        return [
            actor.run.remote(
                job,
                secrets if rank == 0 else {},  # only rank 0 plans (and may call an enhancer)
                shipped,
                Rendezvous(rank, len(self.actors), address, port, self.pool.device_type),
            )
            for rank, actor in enumerate(self.actors)
        ]

    def _follow(self, job: Job, runs: list[Any], head: Path, report: Report) -> dict[str, Any]:
        """Mirror rank 0's progress and files until it ends; rank 0's result. Another rank that
        fails while rank 0 goes on for GROUP_END_SECONDS fails the job with its error."""
        ray = self.pool.ray
        run, others = runs[0], runs[1:]
        failed: tuple[float, Any] | None = None  # (when, the error) of another rank
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
                return ray.get(run)
            if failed is None:
                error = self._failed_rank(others)
                failed = None if error is None else (time.monotonic(), error)
            elif time.monotonic() - failed[0] > GROUP_END_SECONDS:
                self._end_ranks(runs, wait=0)
                error = failed[1]
                raise (error.cause if error.cause is not None else error) from None

    def _failed_rank(self, others: list[Any]) -> Any:
        """The error of a rank other than 0 that ended with one (RayActorError raised: lost)."""
        ray = self.pool.ray
        if not others:
            return None
        ended, _ = ray.wait(others, num_returns=len(others), timeout=0)
        for ref in ended:
            try:
                ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                return exc
        return None

    def _end_ranks(self, runs: list[Any], wait: float = GROUP_END_SECONDS) -> BaseException | None:
        """A group's job ends when every rank has: wait for them (`wait` seconds), kill those still
        running (stuck in a collective; Ray restarts them and the slot waits for them); the
        RayActorError of a lost rank, if one was."""
        ray = self.pool.ray
        if len(runs) < 2:
            return None
        ended, running = ray.wait(runs, num_returns=len(runs), timeout=wait)
        for actor, run in zip(self.actors, runs, strict=True):
            if run in running:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=False)
        if running:
            self.healthy, self.pings = False, []
        for run in ended:
            try:
                ray.get(run)
            except ray.exceptions.RayActorError as exc:
                return exc
            except ray.exceptions.RayError:
                continue
        return None

    def _last_files(self, job: Job, head: Path) -> None:
        """Rank 0 of a group whose other rank was lost may live on: the files it wrote since the
        last poll come to the head (the job continues from them) and its scratch folder goes."""
        ray = self.pool.ray
        if len(self.actors) < 2:
            return
        with contextlib.suppress(ray.exceptions.RayError):
            command = self.pool.store.state_of(job.id) or "deleted"
            _, shipped = ray.get(self.actor.poll.remote(command, final=True), timeout=GROUP_END_SECONDS)
            if shipped:
                write_files(head, shipped)

    def _settings_now(self, job_id: str) -> dict[str, Any] | None:
        """The job's settings in the queue now (a PATCH changes them between clips); None once deleted."""
        try:
            return self.pool.store.get(job_id).settings
        except JobNotFound:
            return None

    def lost(self, exc: BaseException) -> None:
        """An actor died: the job goes back to the queue, the slot waits for Ray's restart."""
        self.healthy, self.pings = False, []
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        self.loop.lost = f"the Ray actor {self.worker_id} was lost ({first})"

    def answering(self) -> bool:
        """Whether the actors are healthy, or all answer again after a restart."""
        if self.healthy:
            return True
        ray = self.pool.ray
        if not self.pings:
            self.pings = [actor.ping.remote() for actor in self.actors]
        ready, _ = ray.wait(self.pings, num_returns=len(self.pings), timeout=0)
        if len(ready) == len(self.pings):
            try:
                ray.get(self.pings)
                self.healthy = True
            except ray.exceptions.RayError:
                pass
            self.pings = []
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
        group_size: int = 1,
    ) -> None:
        """`count` workers, each one actor or a group of `group_size` actors (see the module doc)."""
        from .actor import RenderActor

        self.store = store
        self.ray = ray
        self.shared = shared
        self.group_size = group_size
        self.device_type = "cuda" if gpus else "cpu"
        resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        remote = ray.remote(max_concurrency=4, max_restarts=ACTOR_RESTARTS, **resources)(RenderActor)
        self.slots: list[_Slot] = []
        for n in range(count):
            if group_size == 1:
                actor = remote.options(name=f"wan-worker-{n}", get_if_exists=False).remote(api_options)
                self.slots.append(_Slot(self, n, [actor]))
            else:
                self.slots.append(self._group(remote, n, gpus, api_options))
        self._started = False

    def _group(self, remote: Any, index: int, gpus: bool, api_options: dict[str, Any]) -> _Slot:
        """A worker that is a group: a placement group of one bundle per rank on one node, and an
        actor in each bundle."""
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        bundles = [group_bundle(gpus)] * self.group_size
        placement = placement_group(bundles, strategy="STRICT_PACK", name=f"wan-group-{index}")
        actors = [
            remote.options(
                name=f"wan-worker-{index}-rank{rank}",
                get_if_exists=False,
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    placement_group=placement, placement_group_bundle_index=rank
                ),
            ).remote(api_options)
            for rank in range(self.group_size)
        ]
        return _Slot(self, index, actors, placement)

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
            described = self.ray.get([actor.describe.remote() for actor in slot.actors], timeout=600)
            slot.loop.info.update(described[0])
            if len(described) > 1:  # a group: where each rank runs
                slot.loop.info["group"] = described
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
            for actor in slot.actors:
                with contextlib.suppress(Exception):  # already gone with its node
                    self.ray.kill(actor, no_restart=True)
            if slot.placement is not None:
                with contextlib.suppress(Exception):
                    from ray.util import remove_placement_group

                    remove_placement_group(slot.placement)


def check_shared_output(ray: Any, workers: RayWorkers, folder: Path) -> None:
    """Every actor sees the head's output folder at the same path (RayClusterError otherwise)."""
    token = token_source.token_hex(16)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / ".wan-shared-output"
    marker.write_text(token, encoding="utf-8")
    asked = [
        (slot, actor.check_shared.remote(str(folder), token))
        for slot in workers.slots
        for actor in slot.actors
    ]
    answers = ray.get([answer for _, answer in asked], timeout=600)
    missing = list(
        dict.fromkeys(slot.worker_id for (slot, _), seen in zip(asked, answers, strict=True) if not seen)
    )
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
    group_size: int = 1,
) -> RayWorkers:
    """Join the cluster `value` names and create its actors (see the module doc); `group_size`
    actors per worker (a context-parallel group on one node)."""
    size = check_group_size(group_size)
    if gpus is not None:
        check_group_gpus(gpus, size)
    ray = connect(value, **(local or {}))
    count, with_gpu = group_count(ray, gpus, workers, size)
    pool = RayWorkers(
        store,
        ray,
        count=count,
        gpus=with_gpu,
        api_options=api_options,
        shared=shared_output is not None,
        group_size=size,
    )
    if shared_output is not None:
        try:
            check_shared_output(ray, pool, shared_output)
        except BaseException:
            pool.stop(timeout=1)
            raise
    return pool
