"""The Ray actor that renders jobs on its node: the worker loop's own job runner
(wan.service.worker.render_job, i.e. WanAPI.generate) into a scratch run folder on the node, or
straight into the run folder when every node mounts the output folder at the same path.

The head drives it: `run` renders one job (in the actor's main thread), and the head calls
`poll` every fraction of a second (a second thread: the actor runs with max_concurrency > 1)
with the job's state from the queue (running, paused, cancelled, or stop); `poll` answers with
the progress events since the last poll and the files of the run folder that are new or changed,
which the head writes into its own run folder, so every finished clip is on the head as soon as
it is written and a job that loses its actor continues from there.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..render.events import ProgressEvent, RenderCancelled
from ..service.jobs import Job
from ..service.worker import WorkerStopping, render_job
from .shipping import Stamp, read_changed, stamps, write_files

MAX_EVENTS = 200  # kept between two polls; older step events are dropped first


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
    """Pause, cancel and stop, as the head last told them in a poll."""

    def __init__(self, actor: RenderActor) -> None:
        self.actor = actor

    def checkpoint(self) -> None:
        """Wait while paused; raise when cancelled or stopping (see wan.service.worker)."""
        while True:
            command = self.actor.command
            if command == "stop":
                raise WorkerStopping("the worker stopped during this job; resume it to continue")
            if command in ("cancelled", "deleted"):
                raise RenderCancelled("cancelled; the finished clips are kept and the run can be resumed")
            if command != "paused":
                return
            self.actor.commanded.wait(0.2)
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

    def run(self, job: Job, secrets: dict[str, Any], files: dict[str, bytes] | None) -> dict[str, Any]:
        """Render `job`: into a scratch folder seeded with `files` (the head's run folder so
        far), or, with `files` None, straight into job.run_dir (a shared output folder)."""
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
        local = dataclasses.replace(job, run_dir=str(self.folder))
        generate = render_job(self._wan_api(), _HeadView(self, local, secrets))  # type: ignore[arg-type]
        return generate(local, _Control(self), self._report)

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
