"""The Ray actor that renders jobs on its node: the worker loop's own job runner
(wan.service.worker.render_job, i.e. WanAPI.generate) into a scratch run folder on the node, or
straight into the run folder when every node mounts the output folder at the same path.

The head drives it: `run` renders one job (in the actor's main thread), and the head calls
`poll` every fraction of a second (a second thread: the actor runs with max_concurrency > 1)
with the job's state from the queue (running, paused, cancelled, or stop); `poll` answers with
the progress events since the last poll and the files of the run folder that are new or changed,
which the head writes into its own run folder, so every finished clip is on the head as soon as
it is written and a job that loses its actor continues from there.

In a context-parallel group (`serve --ray ... --group-size N`) the head starts `run` on every
actor of the group with a Rendezvous: each joins the process group (wan.parallel.join_group, at
rank 0's node and port) and renders the same job. Rank 0 is the actor above (polled, shipping);
the others render into a scratch folder of their own, seeded with the same files
(wan.render.ranks), and are never polled: what they must decide as rank 0 does (the plan, new
settings, pause, cancel, stop) they take from rank 0 at the same point of the render
(ParallelGroup.from_rank_zero), so every rank stops at the same step.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import socket
import tempfile
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..render.events import ProgressEvent, RenderCancelled
from ..service.jobs import Job
from ..service.worker import WorkerStopping, render_job
from .shipping import Stamp, read_changed, stamps, write_files

if TYPE_CHECKING:
    from ..parallel import ParallelGroup

MAX_EVENTS = 200  # kept between two polls; older step events are dropped first
PAUSE_SECONDS = 0.2  # a paused group's ranks meet this often (no collective waits long)


@dataclasses.dataclass(frozen=True)
class Rendezvous:
    """Which rank of a group an actor is and where the group meets (rank 0's node and port)."""

    rank: int
    world_size: int
    address: str
    port: int
    device_type: str  # "cuda" (NCCL) or "cpu" (gloo)

    def join(self) -> ParallelGroup:
        """Join the group. Ray gives an actor only its own GPU (CUDA_VISIBLE_DEVICES), so the
        rank's device is cuda:0 in its process: LOCAL_RANK 0."""
        from ..parallel import join_group, rank_environment

        environment = rank_environment(self.rank, self.world_size, self.address, self.port, 0)
        return join_group(self.device_type, environment)


def _alone(make: Any) -> Any:
    return make()


def _ignore(event: ProgressEvent) -> None:
    """A rank other than 0 reports nothing (rank 0 reports the group's progress)."""


class _HeadView:
    """The job store as the job runner on an actor asks it: the job's secrets as the head sent them,
    and the job with the settings the head last forwarded (a PATCH goes on in a new take)."""

    def __init__(self, actor: RenderActor, job: Job, secrets: dict[str, Any]) -> None:
        self.actor = actor
        self.job = job
        self._secrets = secrets

    def secrets(self, job_id: str) -> dict[str, Any]:
        """The secrets the head sent with the job."""
        return self._secrets

    def get(self, job_id: str) -> Job:
        """The job with the settings the head last sent in a poll."""
        return dataclasses.replace(self.job, settings=self.actor.settings or self.job.settings)


class _Control:
    """Pause, cancel and stop, as the head last told them in a poll (in a group: as it told rank 0,
    which every rank reads at the same step)."""

    def __init__(self, actor: RenderActor, group: ParallelGroup | None = None) -> None:
        self.actor = actor
        self.group = group

    def _command(self) -> str:
        if self.group is None:
            return self.actor.command
        return self.group.from_rank_zero(lambda: self.actor.command)

    def checkpoint(self) -> None:
        """Wait while paused; raise when cancelled or stopping (see wan.service.worker)."""
        while True:
            command = self._command()
            if command == "stop":
                raise WorkerStopping("the worker stopped during this job; resume it to continue")
            if command in ("cancelled", "deleted"):
                raise RenderCancelled("cancelled; the finished clips are kept and the run can be resumed")
            if command != "paused":
                return
            if self.group is None or self.group.writes:  # the other ranks wait in the next broadcast
                self.actor.commanded.wait(PAUSE_SECONDS)
                self.actor.commanded.clear()


class RenderActor:
    """One worker on a node of the cluster (see the module doc); Ray makes it an actor."""

    def __init__(self, api_options: dict[str, Any]) -> None:
        self.api_options = dict(api_options)
        self._api: Any = None
        self._lock = threading.Lock()
        self.events: list[ProgressEvent] = []
        self.command = "running"
        self.commanded = threading.Event()
        self.folder: Path | None = None
        self.scratch: Path | None = None
        self.seen: dict[str, Stamp] = {}
        self.settings: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """Where this actor runs: node, process and its GPU (what the worker heartbeat reports)."""
        from ..service.worker_process import device_info

        return {"node": socket.gethostname(), "pid": os.getpid()} | device_info(
            self.api_options.get("device")
        )

    def ping(self) -> bool:
        """Alive (after a restart)."""
        return True

    def check_shared(self, folder: str, token: str) -> bool:
        """Whether `folder` on this node holds the token file the head wrote there (the same folder)."""
        marker = Path(folder) / ".wan-shared-output"
        return marker.is_file() and marker.read_text(encoding="utf-8").strip() == token

    def _wan_api(self) -> Any:
        if self._api is None:
            from ..service.api import WanAPI

            self._api = WanAPI(**self.api_options)
        return self._api

    def rendezvous(self) -> tuple[str, int]:
        """Where a group whose rank 0 is this actor meets: this node's address and a free port."""
        import ray

        from ..parallel import free_port

        address = ray.util.get_node_ip_address()
        return address, free_port(address)

    def run(
        self,
        job: Job,
        secrets: dict[str, Any],
        files: dict[str, bytes] | None,
        rendezvous: Rendezvous | None = None,
    ) -> dict[str, Any]:
        """Render `job`: into a scratch folder seeded with `files` (the head's run folder so
        far), or, with `files` None, straight into job.run_dir (a shared output folder). With a
        `rendezvous`, as one rank of a group (see the module doc); a rank other than 0 answers {}."""
        writes = rendezvous is None or rendezvous.rank == 0
        if writes:
            self._receive(job, files)
        group = rendezvous.join() if rendezvous is not None else None
        try:
            with self._folder(job, files, group) as folder:
                local = dataclasses.replace(job, run_dir=str(folder))
                share = group.from_rank_zero if group is not None else _alone
                generate = render_job(self._wan_api(), _HeadView(self, local, secrets), share=share)  # type: ignore[arg-type]
                result = generate(local, _Control(self, group), self._report if writes else _ignore)
        finally:
            if group is not None:
                from ..parallel import leave_group

                leave_group()
        return result if writes else {}

    def _receive(self, job: Job, files: dict[str, bytes] | None) -> None:
        """Set up the folder this actor renders the job into and ships from (polled by the head)."""
        with self._lock:
            self.events, self.command, self.settings = [], "running", None
            if files is None:
                self.folder, self.scratch = Path(job.run_dir), None
            else:
                self.scratch = Path(tempfile.mkdtemp(prefix=f"wan-ray-{job.id}-"))
                self.folder = self.scratch / "run"
                self.folder.mkdir()
                write_files(self.folder, files)
            self.seen = stamps(self.folder) if files is not None else {}

    def _folder(
        self, job: Job, files: dict[str, bytes] | None, group: ParallelGroup | None
    ) -> AbstractContextManager[Path]:
        """The folder this render writes: the one `_receive` set up (rank 0), or, for another rank,
        a scratch folder seeded with the shipped files or a copy of the shared run folder."""
        if group is None:
            assert self.folder is not None
            return nullcontext(self.folder)
        from ..render.ranks import copy_of, rank_folder

        seed = copy_of(job.run_dir) if files is None else functools.partial(write_files, files=files)
        return rank_folder(group, self.folder if group.writes and self.folder else job.run_dir, seed)

    def _report(self, event: ProgressEvent) -> None:
        with self._lock:
            self.events.append(dataclasses.replace(event, preview=None))
            if len(self.events) > MAX_EVENTS:
                steps = [i for i, e in enumerate(self.events) if e.kind == "step"]
                del self.events[steps[0] if steps else 0]

    def poll(
        self, command: str, final: bool = False, settings: dict[str, Any] | None = None
    ) -> tuple[list[ProgressEvent], dict[str, bytes]]:
        """Take the head's `command` (the job's state, or stop) and the job's settings now; give the
        progress events since the last poll and the run folder's new or changed files. `final`: the
        job ended here, the scratch folder goes."""
        if settings is not None:
            self.settings = settings
        if command != self.command:
            self.command = command
            self.commanded.set()
        with self._lock:
            events, self.events = self.events, []
        files: dict[str, bytes] = {}
        if self.scratch is not None and self.folder is not None:
            files = read_changed(self.folder, self.seen)
            if final:
                shutil.rmtree(self.scratch, ignore_errors=True)
                self.scratch = None
        return events, files
