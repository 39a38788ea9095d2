"""Killing the server in the middle of a job and starting it again: the job is `interrupted`,
and resuming it continues from its last finished clip (tiny model, real processes)."""

import os
import signal

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("diffusers")

from api_server import free_port, request, start_serve, stop_serve, wait_for
from hosts.tiny_job import TINY_JOB

SETTINGS = {**TINY_JOB, "steps": 4}


def test_a_killed_server_leaves_the_job_interrupted_and_resumable(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/wan/v1"
    process = start_serve(tmp_path, port, tmp_path / "first.log")
    try:
        job_id = request(f"{url}/jobs", "POST", SETTINGS).json()["job_ids"][0]
        clips = tmp_path / "jobs" / job_id / "clips"  # clips/<fingerprint>/clip.json
        first_clip = wait_for(lambda: next(iter(clips.glob("*/clip.json")), None), timeout=120, interval=0.02)
        finished_at = first_clip.stat().st_mtime_ns
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        assert not (tmp_path / "jobs" / job_id / "video.mp4").exists()

        process = start_serve(tmp_path, port, tmp_path / "second.log")
        job = request(f"{url}/jobs/{job_id}").json()
        assert job["state"] == "interrupted" and job["resumable"]
        # whoever comes first marks it: its worker, which stops at its next step once it sees the
        # server gone, or the new server, for a job still marked running when it starts
        recovered = "1 job(s) were interrupted by the last stop" in (tmp_path / "second.log").read_text()
        assert recovered or job["error"].startswith("the worker stopped during this job"), job["error"]
        assert request(f"{url}/jobs/{job_id}/resume", "POST").json()["state"] == "queued"
        done = wait_for(
            lambda: (j := request(f"{url}/jobs/{job_id}").json())["state"] in ("succeeded", "failed") and j,
            180,
        )
        assert done["state"] == "succeeded", done["error"]
        assert first_clip.stat().st_mtime_ns == finished_at  # the finished clip was not made again
        assert request(f"{url}/jobs/{job_id}/video").status == 200
    finally:
        stop_serve(process)
