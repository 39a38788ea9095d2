"""The job queue, persisted in SQLite (WAL) inside the output folder: jobs survive a restart.

States and the moves between them (anything else is an IllegalTransition, HTTP 409):

    queued      -> running (the worker takes it), paused, cancelled
    running     -> succeeded, failed, cancelled, paused, interrupted (the process died)
    paused      -> running (a paused render continues), queued (a job paused before it ran), cancelled,
                   interrupted (the process died while the render was paused)
    interrupted -> queued (resume: continues from its last finished clip), cancelled
    failed      -> queued (resume), cancelled
    cancelled   -> queued (resume)

A job's run folder holds every finished clip, so resuming an interrupted, failed or cancelled
job continues where it stopped. Jobs submitted together share a batch id; the worker takes
queued jobs oldest first. The database is opened per call (one connection per thread), with
a busy timeout, so the API threads and the worker never share a connection.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "paused", "succeeded", "failed", "cancelled", "interrupted")
FINISHED = ("succeeded", "failed", "cancelled")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("running", "paused", "cancelled"),
    "running": ("succeeded", "failed", "cancelled", "paused", "interrupted"),
    # succeeded / failed: a pause that came as the render was finishing
    "paused": ("running", "queued", "cancelled", "interrupted", "succeeded", "failed"),
    "interrupted": ("queued", "cancelled"),
    "failed": ("queued", "cancelled"),
    "cancelled": ("queued",),
    "succeeded": (),
}
JOB_ID = re.compile(r"[0-9a-f]{32}\Z")
DATABASE = "jobs.sqlite3"

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
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created, position);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs (batch_id);
"""


class JobNotFound(KeyError):
    """No job with this id."""


class IllegalTransition(ValueError):
    """A state change the job's current state does not allow."""


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
            "resumable": self.state in ("interrupted", "failed", "cancelled"),
        }
        if settings:
            data["settings"] = self.settings
        return data


def valid_job_id(job_id: str) -> bool:
    """Whether a string has the shape of a job id (32 lowercase hex digits)."""
    return bool(JOB_ID.match(job_id))


class JobStore:
    """Jobs in `<folder>/jobs.sqlite3`; run folders in `<folder>/<job id>/`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / DATABASE
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

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
        )

    def run_dir(self, job_id: str) -> Path:
        """The run folder of a job."""
        return self.folder / job_id

    def submit(self, settings_list: Sequence[dict[str, Any]]) -> tuple[str, list[str]]:
        """Queue jobs as one batch; returns (batch id, job ids in order)."""
        batch_id = uuid.uuid4().hex
        now = time.time()
        ids = [uuid.uuid4().hex for _ in settings_list]
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO jobs (id, batch_id, position, state, settings, run_dir, created) "
                "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                [
                    (job_id, batch_id, position, json.dumps(settings), str(self.run_dir(job_id)), now)
                    for position, (job_id, settings) in enumerate(zip(ids, settings_list, strict=True))
                ],
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
        encoded = {k: json.dumps(v) if k in ("progress", "result") else v for k, v in fields.items()}
        assignments = ", ".join(f"{name} = ?" for name in encoded)
        db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", [*encoded.values(), job_id])

    def update(self, job_id: str, **fields: Any) -> None:
        """Set fields of a job without changing its state (progress, result, error)."""
        with self._transaction() as db:
            self._update(db, job_id, **fields)

    def claim_next(self) -> Job | None:
        """Mark the oldest queued job running and return it (None when the queue is empty)."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY created, position LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', started = ?, error = '', attempts = attempts + 1 "
                "WHERE id = ?",
                (time.time(), row["id"]),
            )
        return self.get(row["id"])

    def recover(self) -> list[str]:
        """Jobs a process that died was holding (running, or paused mid-render) become
        interrupted; returns their ids. Call once at start, before the worker runs."""
        held = "state = 'running' OR (state = 'paused' AND started IS NOT NULL)"
        with self._transaction() as db:
            rows = db.execute(f"SELECT id FROM jobs WHERE {held}").fetchall()
            db.execute(
                f"UPDATE jobs SET state = 'interrupted', error = 'the process stopped while this job ran' "
                f"WHERE {held}"
            )
        return [row["id"] for row in rows]

    def delete(self, job_id: str) -> None:
        """Forget a job that is not running (its run folder stays on disk)."""
        with self._transaction() as db:
            row = db.execute("SELECT state, started FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(job_id)
            if self._held(row):
                raise IllegalTransition(f"job {job_id} is {row['state']}; cancel it before deleting it")
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    @staticmethod
    def _held(row: sqlite3.Row) -> bool:
        """Whether the worker holds the job: running, or paused in the middle of its render."""
        return row["state"] == "running" or (row["state"] == "paused" and row["started"] is not None)

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        with self._connect() as db:
            rows = db.execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
        return dict.fromkeys(STATES, 0) | {row["state"]: row["n"] for row in rows}
