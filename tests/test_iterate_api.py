"""Iterating through the REST API over real HTTP, with the tiny model in a worker thread: a PATCH
during a run changes only the clips not yet started (a change to a started clip is a 409 that
names it and the run to re-render from), /compare says what a re-render reuses, and a job with
from_run re-renders only what changed into the same run folder."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("diffusers")

from api_server import ServerThread, request
from tiny_animation import PROMPTS
from tiny_animation import SETTINGS as TINY_ANIMATION

from wan.server import create_app
from wan.service import JobService, JobStore, WanAPI
from wan.service.workers import ThreadWorkers

SETTINGS = TINY_ANIMATION | {"steps": 6}  # clips long enough to be paused in
V1 = "/wan/v1"
DENOISING = ("clip_start", "step", "preview")


@pytest.fixture
def server(tmp_path):
    api = WanAPI(output_dir=tmp_path, models_dir=tmp_path / "models")
    workers = ThreadWorkers(JobStore(tmp_path / "jobs"), api=api, progress_interval=0.0)
    service = JobService(api, tmp_path / "jobs", workers=workers)
    with ServerThread(create_app(service, ui=False)) as running:
        running.service = service
        yield running
    service.close()


def wait(server, job_id, until, seconds=600.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        job = request(f"{server.url}{V1}/jobs/{job_id}").json()
        if until(job):
            return job
        if job["state"] in ("failed", "cancelled"):
            raise AssertionError(job)
        time.sleep(0.05)
    raise AssertionError(f"timed out: {job}")


def test_patch_a_running_job_compare_and_re_render_from_a_run(server):
    url = server.url + V1
    job_id = request(f"{url}/jobs", "POST", SETTINGS).json()["job_ids"][0]
    wait(server, job_id, lambda j: j["progress"].get("kind") in DENOISING and j["progress"].get("clip") == 1)
    assert request(f"{url}/jobs/{job_id}/pause", "POST").status == 200
    run_dir = str(server.service.get(job_id).run_dir)

    first = request(f"{url}/jobs/{job_id}", "PATCH", {"prompts": PROMPTS | {"0": "a burning forest"}})
    assert first.status == 409 and first.json()["clip"] == 0 and first.json()["from_run"] == run_dir
    assert "re-render from clip 0" in first.json()["detail"] and "prompt" in first.json()["detail"]
    running = request(f"{url}/jobs/{job_id}", "PATCH", {"prompts": PROMPTS | {"9": "a ruined castle"}})
    assert running.status == 409 and running.json()["clip"] == 1
    later = request(f"{url}/jobs/{job_id}", "PATCH", {"prompts": PROMPTS | {"25": "a starry sky"}})
    assert later.status == 200, later.body
    assert later.json()["settings"]["prompts"]["25"] == "a starry sky"
    assert later.json()["settings"]["steps"] == 6  # the rest of the job's settings stay

    assert request(f"{url}/jobs/{job_id}/resume", "POST").status == 200
    done = wait(server, job_id, lambda j: j["state"] == "succeeded")
    result = done["result"]
    assert result["take"] == 2 and result["rendered"] == [0, 1, 2, 3]  # 0 and 1 in take 1
    assert [c["take"] for c in result["metrics"]["clips"]] == [1, 1, 2, 2]
    from wan.render import RunFolder

    folder = RunFolder(run_dir)
    assert len(list(folder.clips_dir.iterdir())) == 4  # no clip was rendered twice
    assert folder.latest().plan.clips[3].prompt.startswith("a starry sky")
    assert request(f"{url}/jobs/{job_id}/video").status == 200
    finished = request(f"{url}/jobs/{job_id}", "PATCH", {"steps": 3})
    assert finished.status == 409 and "from_run" in finished.json()["detail"]

    # what a re-render would do, before it starts
    edited = SETTINGS | {
        "prompts": PROMPTS | {"17": "a frozen lake", "25": "a starry sky"},
        "from_run": run_dir,
    }
    compared = request(f"{url}/compare", "POST", edited).json()
    assert [(c["index"], c["reused"], c["take"]) for c in compared["clips"]] == [
        (0, True, 1),
        (1, True, 1),
        (2, False, None),
        (3, False, None),
    ]
    assert compared["clips"][2]["changed"] == ["prompt"] and compared["rendered"] == 2
    # a re-roll of the last clip as a job: only that clip renders, into the same run folder
    reroll = SETTINGS | {
        "prompts": PROMPTS | {"25": "a starry sky"},
        "from_run": run_dir,
        "clip_seeds": {"3": 5},
    }
    second = request(f"{url}/jobs", "POST", reroll).json()["job_ids"][0]
    again = wait(server, second, lambda j: j["state"] == "succeeded")["result"]
    assert again["take"] == 3 and again["rendered"] == [3] and again["run_dir"] == run_dir
    bad = request(f"{url}/jobs", "POST", SETTINGS | {"from_run": str(folder.root / "takes")})
    assert bad.status == 422 and bad.json()["errors"][0]["field"] == "from_run"
