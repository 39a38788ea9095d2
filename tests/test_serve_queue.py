"""`python -m wan serve` on a queue folder that is damaged, in the way or already served, and a real
job that fails: a loud warning and a start, or a one-line error, never a traceback (real processes,
loopback only)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from api_server import (
    free_port,
    request,
    serve_command,
    start_serve,
    stop_serve,
    wait_for,
    wan_environment,
)


def run_serve(folder: Path) -> subprocess.CompletedProcess[str]:
    """A serve that must refuse to start: it ends by itself (the timeout only guards a hang)."""
    return subprocess.run(
        serve_command(folder, free_port()),
        capture_output=True,
        text=True,
        cwd=folder,
        env=wan_environment(),
        timeout=90,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error a refused serve printed, checked to be one line with exit status 2."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def a_real_database(path: Path, rows: int = 0) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE jobs (id TEXT)")
        db.executemany("INSERT INTO jobs VALUES (?)", [("x" * 200,)] * rows)
    db.close()


def garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)


def truncated(path: Path) -> None:
    a_real_database(path, rows=2000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [garbage, truncated, empty])
def test_a_damaged_database_is_moved_aside_with_a_loud_warning_and_the_server_starts(tmp_path, damage):
    """The JobStore of d1b0a49 opened the file as it was: sqlite3.DatabaseError ended `serve` with
    a traceback (and a 0-byte file was taken for a new database)."""
    database = tmp_path / "jobs" / "jobs.sqlite3"
    database.parent.mkdir()
    damage(database)
    original = database.read_bytes()
    port = free_port()
    log = tmp_path / "serve.log"
    process = start_serve(tmp_path, port, log)
    try:
        assert request(f"http://127.0.0.1:{port}/wan/v1/jobs").json()["jobs"] == []
    finally:
        stop_serve(process)
    output = log.read_text()
    assert "WARNING: the job database could not be read" in output and "Traceback" not in output
    kept = list(database.parent.glob("jobs.sqlite3.damaged-*"))
    assert len(kept) == 1 and str(kept[0]) in output
    assert kept[0].read_bytes() == original  # kept as it was, never deleted


def test_a_queue_folder_that_is_a_file_is_a_one_line_error(tmp_path):
    """d1b0a49 ended with FileExistsError's traceback from mkdir."""
    (tmp_path / "jobs").write_text("not a folder")
    line = one_line_error(run_serve(tmp_path))
    assert line == f"error: {tmp_path / 'jobs'} is a file, not a folder; choose another output folder"


def test_a_database_that_is_a_folder_is_a_one_line_error(tmp_path):
    """d1b0a49 ended with sqlite3's traceback."""
    (tmp_path / "jobs" / "jobs.sqlite3").mkdir(parents=True)
    line = one_line_error(run_serve(tmp_path))
    assert f"{tmp_path / 'jobs' / 'jobs.sqlite3'} is not a file" in line


def test_a_database_that_cannot_be_written_is_a_one_line_error(tmp_path):
    """SQLite cannot open the write-ahead log (a folder stands in its place): the database is
    not damaged, so it must not be moved aside either. d1b0a49 showed sqlite3's traceback."""
    database = tmp_path / "jobs" / "jobs.sqlite3"
    database.parent.mkdir()
    a_real_database(database)
    (tmp_path / "jobs" / "jobs.sqlite3-wal").mkdir()
    line = one_line_error(run_serve(tmp_path))
    assert f"cannot write the job database {database}" in line
    assert database.is_file() and not list(database.parent.glob("*.damaged-*"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write any file")
def test_a_read_only_database_is_a_one_line_error(tmp_path):
    database = tmp_path / "jobs" / "jobs.sqlite3"
    database.parent.mkdir()
    a_real_database(database)
    database.chmod(0o444)
    database.parent.chmod(0o555)
    try:
        line = one_line_error(run_serve(tmp_path))
    finally:
        database.parent.chmod(0o755)
    assert "job database" in line and "permission" in line.lower()


def test_a_second_server_on_the_same_folder_is_refused_naming_it_and_the_holder(tmp_path):
    """d1b0a49 let the second server start: it marked the first one's running job interrupted and
    rendered into the same run folders."""
    port = free_port()
    first = start_serve(tmp_path, port, tmp_path / "first.log")
    try:
        line = one_line_error(run_serve(tmp_path))
        assert f"the job queue in {tmp_path / 'jobs'} is in use" in line
        assert f"process {first.pid} " in line
        assert request(f"http://127.0.0.1:{port}/wan/v1/version").status == 200  # the first one serves on
    finally:
        stop_serve(first)


def test_a_job_whose_model_is_missing_fails_with_the_plain_message(tmp_path):
    """A real job in a real worker process: its error is the WanError's own text, as the CLI
    prints it (d1b0a49 stored it as `wan.models.resolve.ModelNotFoundError: ...`)."""
    pytest.importorskip("diffusers")
    port = free_port()
    url = f"http://127.0.0.1:{port}/wan/v1"
    process = start_serve(tmp_path, port, tmp_path / "serve.log")
    try:
        settings = {"model": "t2v-1.3b", "W": 64, "H": 64, "max_frames": 17, "clip_frames": 17, "steps": 1}
        reply = request(f"{url}/jobs", "POST", settings)
        assert reply.status == 202, reply.body
        job_id = reply.json()["job_ids"][0]
        job = wait_for(
            lambda: (j := request(f"{url}/jobs/{job_id}").json())["state"] in ("failed", "succeeded") and j,
            timeout=180,
        )
    finally:
        stop_serve(process)
    assert job["state"] == "failed"
    assert job["error"].startswith("model t2v-1.3b (Wan-AI/Wan2.1-T2V-1.3B-Diffusers) is not on this machine")
    assert "Error:" not in job["error"] and "wan." not in job["error"] and "Traceback" not in job["error"]
    assert "hf download Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in job["error"]
