"""The job queue, persisted in SQLite (WAL) inside the queue folder: jobs survive a restart, and
the server and its worker processes share it.

States and the moves between them (anything else is an IllegalTransition, HTTP 409):

    queued      -> running (a worker takes it), paused, cancelled
    running     -> succeeded, failed, cancelled, paused, interrupted (the worker died)
    paused      -> running (a paused render continues), queued (a job paused before it ran), cancelled,
                   interrupted (the worker died while the render was paused)
    interrupted -> queued (resume: continues from its last finished clip), cancelled
    failed      -> queued (resume), cancelled
    cancelled   -> queued (resume), succeeded (a cancel that came after the last step: the video
                   is complete, so the job is not reported cancelled)

A job's run folder holds every finished clip, so resuming an interrupted, failed or cancelled
job continues where it stopped. Jobs submitted together share a batch id.

Who runs what: the server assigns the oldest queued job to an idle worker (`assign`); that
worker takes it (`claim`: running) and reads the job's state between denoising steps, so pause
and cancel reach it through the database whether it is a thread or another process. Workers
are listed in their own table with a heartbeat and what they report (device, GPU memory).

The database is opened per call (one connection per thread and process), with a busy timeout.
A file that is not a job database is moved aside (kept, never deleted) and a new queue starts;
`damaged` then names the kept file so the server can say so loudly.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WanError

STATES = ("queued", "running", "paused", "succeeded", "failed", "cancelled", "interrupted")
FINISHED = ("succeeded", "failed", "cancelled")
# states after which a job needs nothing more from a worker
SETTLED = (*FINISHED, "interrupted")
RESUMABLE = ("interrupted", "failed", "cancelled")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("running", "paused", "cancelled"),
    "running": ("succeeded", "failed", "cancelled", "paused", "interrupted"),
    # succeeded / failed: a pause that came as the render was finishing
    "paused": ("running", "queued", "cancelled", "interrupted", "succeeded", "failed"),
    "interrupted": ("queued", "cancelled"),
    "failed": ("queued", "cancelled"),
    "cancelled": ("queued", "succeeded"),
    "succeeded": (),
}
JOB_ID = re.compile(r"[0-9a-f]{32}\Z")
DATABASE = "jobs.sqlite3"
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    state TEXT NOT NULL,
    settings TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    error TEXT NOT NULL DEFAULT '',
    progress TEXT NOT NULL DEFAULT '{}',
    result TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT NOT NULL DEFAULT '',
    secrets TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created, position);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs (batch_id);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    state TEXT NOT NULL,
    started REAL NOT NULL,
    heartbeat REAL NOT NULL,
    info TEXT NOT NULL DEFAULT '{}'
);
"""
# columns added after the first release, for databases made by it
_ADDED_COLUMNS = {"worker": "TEXT NOT NULL DEFAULT ''", "secrets": "TEXT NOT NULL DEFAULT '{}'"}


class JobNotFound(WanError, KeyError):
    """No job with this id."""

    def __str__(self) -> str:
        return "no such job"


class IllegalTransition(WanError, ValueError):
    """A state change the job's current state does not allow."""


class QueueUnavailable(WanError, RuntimeError):
    """The queue folder or its database cannot be used (a file in the way, no permission, ...)."""


@dataclass(frozen=True)
class Job:
    """One generation job as stored."""

    id: str
    batch_id: str
    position: int
    state: str
    settings: dict[str, Any]
    run_dir: str
    created: float
    started: float | None
    finished: float | None
    error: str
    progress: dict[str, Any]
    result: dict[str, Any]
    attempts: int
    worker: str = ""

    @property
    def resumable(self) -> bool:
        """Whether resume queues it again (it continues from its last finished clip)."""
        return self.state in RESUMABLE

    @property
    def settled(self) -> bool:
        """Whether it needs nothing more from a worker (finished, or interrupted)."""
        return self.state in SETTLED

    def to_dict(self, *, settings: bool = False) -> dict[str, Any]:
        """JSON-ready view (the settings only when asked: they can be long)."""
        data = {
            "id": self.id,
            "batch_id": self.batch_id,
            "position": self.position,
            "state": self.state,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "progress": self.progress,
            "result": self.result,
            "attempts": self.attempts,
            "resumable": self.resumable,
        }
        if settings:
            data["settings"] = self.settings
        return data


@dataclass(frozen=True)
class WorkerRecord:
    """A worker as it reports itself: process, host, state and what it knows of its device."""

    id: str
    pid: int
    host: str
    state: str
    started: float
    heartbeat: float
    info: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "id": self.id,
            "pid": self.pid,
            "host": self.host,
            "state": self.state,
            "started": self.started,
            "heartbeat": self.heartbeat,
            **self.info,
        }


def valid_job_id(job_id: str) -> bool:
    """Whether a string has the shape of a job id (32 lowercase hex digits)."""
    return isinstance(job_id, str) and bool(JOB_ID.match(job_id))


class JobStore:
    """Jobs in `<folder>/jobs.sqlite3`; run folders in `<folder>/<job id>/` unless a job names
    another one."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DATABASE
        self.damaged: Path | None = None
        self.damage_reason = ""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise QueueUnavailable(
                f"{self.folder} is a file, not a folder; choose another output folder"
            ) from None
        except OSError as exc:
            raise QueueUnavailable(
                f"cannot create the queue folder {self.folder}: {exc.strerror or exc}"
            ) from None
        if self.path.exists() and not self.path.is_file():
            raise QueueUnavailable(f"{self.path} is not a file; move it away or choose another output folder")
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_permission_problem(exc):
                raise QueueUnavailable(
                    f"cannot write the job database {self.path}: {exc}; check its permissions"
                ) from None
            self.damaged = self._move_aside(str(exc))
            self._open()

    # -- the database file -------------------------------------------------------------------------
    def _open(self) -> None:
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise sqlite3.DatabaseError("the job database is empty (0 bytes)")
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "jobs" not in tables:
                raise sqlite3.DatabaseError("it holds no jobs table")
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for name, declaration in _ADDED_COLUMNS.items():
                if name not in columns:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {declaration}")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _move_aside(self, reason: str) -> Path:
        """Keep a database that cannot be read under another name; return that name."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = self.path.with_name(f"{DATABASE}.damaged-{stamp}")
        n = 1
        while kept.exists():
            n += 1
            kept = self.path.with_name(f"{DATABASE}.damaged-{stamp}-{n}")
        try:
            os.replace(self.path, kept)
            for suffix in ("-wal", "-shm"):
                side = self.path.with_name(DATABASE + suffix)
                if side.exists():
                    os.replace(side, kept.with_name(kept.name + suffix))
        except OSError as exc:
            raise QueueUnavailable(
                f"the job database {self.path} is damaged ({reason}) and cannot be moved aside: "
                f"{exc.strerror or exc}"
            ) from None
        self.damage_reason = reason
        return kept

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        return Job(
            id=row["id"],
            batch_id=row["batch_id"],
            position=row["position"],
            state=row["state"],
            settings=json.loads(row["settings"]),
            run_dir=row["run_dir"],
            created=row["created"],
            started=row["started"],
            finished=row["finished"],
            error=row["error"],
            progress=json.loads(row["progress"]),
            result=json.loads(row["result"]),
            attempts=row["attempts"],
            worker=row["worker"],
        )

    # -- jobs --------------------------------------------------------------------------------------
    def default_run_dir(self, job_id: str) -> Path:
        """Where a job's run folder goes when its settings name no output folder."""
        return self.folder / job_id

    def run_dir(self, job_id: str) -> Path:
        """The run folder of a job."""
        return Path(self.get(job_id).run_dir)

    def submit(
        self,
        settings_list: Sequence[dict[str, Any]],
        *,
        run_parents: Sequence[Path | None] | None = None,
        secrets: Sequence[dict[str, Any]] | None = None,
        run_dirs: Sequence[Path | None] | None = None,
    ) -> tuple[str, list[str]]:
        """Queue jobs as one batch; returns (batch id, job ids in order). A job's run folder is its
        entry of `run_dirs` (a run it re-renders into), else `<parent>/<job id>` for its entry of
        `run_parents`, else in the queue folder. Its entry of `secrets` (a caller's own API key) is
        kept for the worker and never shown."""
        batch_id = uuid.uuid4().hex
        now = time.time()
        ids = [uuid.uuid4().hex for _ in settings_list]
        parents = list(run_parents) if run_parents is not None else [None] * len(ids)
        hidden = list(secrets) if secrets is not None else [{}] * len(ids)
        fixed = list(run_dirs) if run_dirs is not None else [None] * len(ids)
        rows = []
        for position, (job_id, settings, parent, secret, given) in enumerate(
            zip(ids, settings_list, parents, hidden, fixed, strict=True)
        ):
            run_dir = (Path(parent) / job_id) if parent is not None else self.default_run_dir(job_id)
            run_dir = Path(given) if given is not None else run_dir
            rows.append(
                (job_id, batch_id, position, json.dumps(settings), str(run_dir), now, json.dumps(secret))
            )
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO jobs (id, batch_id, position, state, settings, run_dir, created, secrets) "
                "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                rows,
            )
        return batch_id, ids

    def get(self, job_id: str) -> Job:
        """The job with this id (JobNotFound if there is none)."""
        if not valid_job_id(job_id):
            raise JobNotFound(job_id)
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return self._job(row)

    def secrets(self, job_id: str) -> dict[str, Any]:
        """What the caller gave the job and no one may read back (its own API key)."""
        with self._connect() as db:
            row = db.execute("SELECT secrets FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row["secrets"]) if row is not None else {}

    def state_of(self, job_id: str) -> str | None:
        """The job's state now (None once it is deleted): what a worker reads between steps."""
        with self._connect() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["state"] if row is not None else None

    def list(self, *, state: str | None = None, batch_id: str | None = None, limit: int = 100) -> list[Job]:
        """Jobs, newest first, optionally of one state or batch."""
        query, parameters = "SELECT * FROM jobs", []
        conditions = []
        if state is not None:
            conditions.append("state = ?")
            parameters.append(state)
        if batch_id is not None:
            conditions.append("batch_id = ?")
            parameters.append(batch_id)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " ORDER BY created DESC, position DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(query, [*parameters, limit]).fetchall()
        return [self._job(row) for row in rows]

    def move(
        self, job_id: str, state: str, *, allowed_from: Sequence[str] | None = None, **fields: Any
    ) -> Job:
        """Change a job's state (IllegalTransition if its current state does not allow it)."""
        with self._transaction() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(job_id)
            current = row["state"]
            sources = (
                allowed_from
                if allowed_from is not None
                else [s for s, t in TRANSITIONS.items() if state in t]
            )
            if current not in sources or state not in TRANSITIONS[current]:
                raise IllegalTransition(f"job {job_id} is {current}; it cannot become {state}")
            self._update(db, job_id, state=state, **fields)
        return self.get(job_id)

    @staticmethod
    def _update(db: sqlite3.Connection, job_id: str, **fields: Any) -> None:
        encoded = {
            k: json.dumps(v) if k in ("progress", "result", "secrets") else v for k, v in fields.items()
        }
        assignments = ", ".join(f"{name} = ?" for name in encoded)
        db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", [*encoded.values(), job_id])

    def update(self, job_id: str, **fields: Any) -> None:
        """Set fields of a job without changing its state (progress, result, error)."""
        with self._transaction() as db:
            self._update(db, job_id, **fields)

    def set_settings(self, job_id: str, settings: dict[str, Any], *, allowed_in: Sequence[str]) -> Job:
        """Replace a job's settings while its state is one of `allowed_in` (IllegalTransition
        otherwise); a running job's worker picks them up between clips."""
        with self._transaction() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(job_id)
            if row["state"] not in allowed_in:
                raise IllegalTransition(
                    f"job {job_id} is {row['state']}; its settings can change while it is "
                    f"{', '.join(allowed_in)}. Re-render what changed as a new job with from_run instead."
                )
            self._update(db, job_id, settings=json.dumps(settings))
        return self.get(job_id)

    def next_queued(self) -> Job | None:
        """The oldest queued job no worker has been given yet."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE state = 'queued' AND worker = '' ORDER BY created, position LIMIT 1"
            ).fetchone()
        return self._job(row) if row is not None else None

    def assign(self, job_id: str, worker_id: str) -> bool:
        """Give a queued job to a worker; False when it is no longer queued and free."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE jobs SET worker = ? WHERE id = ? AND state = 'queued' AND worker = ''",
                (worker_id, job_id),
            ).rowcount
        return bool(changed)

    def claim(self, worker_id: str) -> Job | None:
        """Start the oldest job given to this worker (it becomes running); None when there is none."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE state = 'queued' AND worker = ? "
                "ORDER BY created, position LIMIT 1",
                (worker_id,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', started = ?, error = '', attempts = attempts + 1 "
                "WHERE id = ?",
                (time.time(), row["id"]),
            )
        return self.get(row["id"])

    def claim_next(self, worker_id: str = "local") -> Job | None:
        """Assign the oldest free queued job to this worker and start it (a queue with one worker
        and no dispatcher); None when the queue is empty."""
        while (job := self.next_queued()) is not None:
            if self.assign(job.id, worker_id):
                return self.claim(worker_id)
        return None

    def release(self, worker_id: str, *, reason: str, requeue_below: int = 0) -> list[str]:
        """A worker is gone: its running or paused-mid-render job becomes interrupted (resumable)
        with `reason`, and queued jobs given to it are free again. Returns the ids it held.
        A running job taken fewer than `requeue_below` times is queued again instead, for another
        worker to continue from its last finished clip."""
        held = "worker = ? AND (state = 'running' OR (state = 'paused' AND started IS NOT NULL))"
        with self._transaction() as db:
            rows = db.execute(f"SELECT id FROM jobs WHERE {held}", (worker_id,)).fetchall()
            db.execute(
                f"UPDATE jobs SET state = 'queued', error = ?, started = NULL, finished = NULL, worker = '' "
                f"WHERE {held} AND state = 'running' AND attempts < ?",
                (f"{reason}; continued by another worker", worker_id, requeue_below),
            )
            db.execute(
                f"UPDATE jobs SET state = 'interrupted', error = ?, finished = ?, worker = '' WHERE {held}",
                (reason, time.time(), worker_id),
            )
            db.execute("UPDATE jobs SET worker = '' WHERE worker = ? AND state = 'queued'", (worker_id,))
            db.execute("UPDATE jobs SET worker = '' WHERE worker = ?", (worker_id,))
        return [row["id"] for row in rows]

    def recover(self) -> list[str]:
        """Jobs the workers of a server that stopped were holding (running, or paused mid-render)
        become interrupted, and every assignment is dropped; returns the interrupted ids. Call
        once when a server starts, before its workers run."""
        held = "state = 'running' OR (state = 'paused' AND started IS NOT NULL)"
        with self._transaction() as db:
            rows = db.execute(f"SELECT id FROM jobs WHERE {held}").fetchall()
            db.execute(
                f"UPDATE jobs SET state = 'interrupted', error = 'the server stopped while this job ran' "
                f"WHERE {held}"
            )
            db.execute("UPDATE jobs SET worker = ''")
            db.execute("DELETE FROM workers")
        return [row["id"] for row in rows]

    def delete(self, job_id: str) -> None:
        """Forget a job that is not running (its run folder stays on disk)."""
        with self._transaction() as db:
            row = db.execute("SELECT state, started FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(job_id)
            if row["state"] == "running" or (row["state"] == "paused" and row["started"] is not None):
                raise IllegalTransition(f"job {job_id} is {row['state']}; cancel it before deleting it")
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        with self._connect() as db:
            rows = db.execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
        return dict.fromkeys(STATES, 0) | {row["state"]: row["n"] for row in rows}

    # -- workers -----------------------------------------------------------------------------------
    def report_worker(self, worker_id: str, state: str, **info: Any) -> None:
        """A worker says it is alive: its state (starting, idle, busy) and what it knows."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT info FROM workers WHERE id = ?", (worker_id,)).fetchone()
            merged = (json.loads(row["info"]) if row is not None else {}) | info
            db.execute(
                "INSERT INTO workers (id, pid, host, state, started, heartbeat, info) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state, heartbeat = excluded.heartbeat, "
                "info = excluded.info, pid = excluded.pid",
                (
                    worker_id,
                    info.get("pid", os.getpid()),
                    socket.gethostname(),
                    state,
                    now,
                    now,
                    json.dumps(merged),
                ),
            )

    def workers(self) -> list[WorkerRecord]:
        """Every worker that has reported, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM workers ORDER BY started").fetchall()
        return [
            WorkerRecord(
                r["id"], r["pid"], r["host"], r["state"], r["started"], r["heartbeat"], json.loads(r["info"])
            )
            for r in rows
        ]

    def forget_worker(self, worker_id: str) -> None:
        """Drop a worker's record (it has stopped)."""
        with self._transaction() as db:
            db.execute("DELETE FROM workers WHERE id = ?", (worker_id,))


def _is_permission_problem(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text or "permission" in text
