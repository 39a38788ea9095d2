"""The REST API over real HTTP on 127.0.0.1: a tiny-model generation from submit to download,
pause / resume / cancel, 20 concurrent submissions, auth, and clean 4xx for bad requests.
Runs under pydantic 2 and, in tests/run.sh, again under fastapi 0.94 + pydantic 1 (A1111's)."""

import itertools
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from api_server import ServerThread, request, wait_for

from wan.server import create_app
from wan.service import JobService, WanAPI
from wan.service.auth import ApiAccess

TINY = {
    "model": "tiny",
    "max_frames": 17,
    "fps": 16,
    "W": 64,
    "H": 64,
    "steps": 5,
    "seed": 5,
    "prompts": {"0": "a fox"},
}
V1 = "/wan/v1"


def stand_in(seconds=0.0, log=None):
    """A job body for queue tests: waits `seconds` (pausable, cancellable), records its interval."""

    def generate(job, control, report):
        start = time.monotonic()
        end = start + seconds
        while time.monotonic() < end:
            control.checkpoint()
            time.sleep(0.005)
        control.checkpoint()
        if log is not None:
            log.append((job.id, start, time.monotonic()))
        return {"stand_in": True}

    return generate


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    service = JobService(WanAPI(output_dir=folder, models_dir=folder / "models"), folder / "jobs")
    with ServerThread(create_app(service, ui=False)) as server:
        server.service = service
        yield server
    service.close()


def make_server(tmp_path, generate, credentials=None):
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=generate)
    server = ServerThread(create_app(service, access=ApiAccess(credentials or {}), ui=False))
    server.service = service
    return server


def job(server, job_id):
    return request(f"{server.url}{V1}/jobs/{job_id}").json()


def test_generate_with_the_tiny_model_from_submit_to_download(tiny_server):
    pytest.importorskip("diffusers")
    url = tiny_server.url + V1
    reply = request(f"{url}/jobs", "POST", TINY)
    assert reply.status == 202
    job_id = reply.json()["job_ids"][0]
    seen = set()

    def finished():
        state = job(tiny_server, job_id)
        seen.add(state["progress"].get("kind"))
        return state if state["state"] in ("succeeded", "failed") else None

    final = wait_for(finished, timeout=120)
    assert final["state"] == "succeeded", final["error"]
    assert seen & {"step", "clip_done", "writing", "done", "loading"}
    assert final["result"]["metrics"]["output_frames"] == 17
    video = request(f"{url}/jobs/{job_id}/video")
    assert video.status == 200 and video.headers["content-type"] == "video/mp4"
    assert video.body[4:8] == b"ftyp"
    preview = request(f"{url}/jobs/{job_id}/preview")
    assert preview.status == 200 and preview.body[:8] == b"\x89PNG\r\n\x1a\n"
    listing = request(f"{url}/jobs?state=succeeded").json()
    assert job_id in [j["id"] for j in listing["jobs"]]
    assert listing["counts"]["succeeded"] >= 1


def test_synchronous_endpoints(tiny_server):
    url = tiny_server.url + V1
    settings = {
        "prompts": {"0": "a fox", "16": "a den"},
        "max_frames": 32,
        "fps": 16,
        "translation_x": "0:(3)",
    }
    plan = request(f"{url}/plan?seed=7", "POST", settings).json()["plan"]
    assert plan["seed"] == 7 and plan["clips"][0]["base_prompt"] == "a fox"
    segments = request(f"{url}/movement", "POST", settings).json()["segments"]
    assert "panning" in segments[0]["description"]
    enhanced = request(
        f"{url}/enhance", "POST", {"prompts": ["a fox"], "settings": {"enhance_strength": 0}}
    ).json()
    assert enhanced["results"][0]["prompt"] == "a fox" and enhanced["results"][0]["source"] == "unchanged"
    assert request(f"{url}/version").json()["api"] == "v1"
    assert "suggested_memory_preset" in request(f"{url}/system").json()
    assert "tiny" in {m["id"] for m in request(f"{url}/models").json()["models"]}


def test_pause_resume_cancel_over_http(tmp_path):
    with make_server(tmp_path, stand_in(seconds=30)) as server:
        url = server.url + V1
        running, queued = request(f"{url}/jobs", "POST", [{"max_frames": 17}, {"max_frames": 18}]).json()[
            "job_ids"
        ]
        wait_for(lambda: job(server, running)["state"] == "running")
        assert request(f"{url}/jobs/{queued}/pause", "POST").json()["state"] == "paused"
        assert request(f"{url}/jobs/{running}/pause", "POST").json()["state"] == "paused"
        assert request(f"{url}/jobs/{running}/pause", "POST").status == 409
        assert request(f"{url}/jobs/{running}/resume", "POST").json()["state"] == "running"
        assert request(f"{url}/jobs/{running}", "DELETE").status == 409
        assert request(f"{url}/jobs/{running}/cancel", "POST").json()["state"] == "cancelled"
        assert request(f"{url}/jobs/{running}/cancel", "POST").status == 409
        wait_for(lambda: job(server, running)["finished"] is not None)
        assert request(f"{url}/jobs/{queued}", "DELETE").json() == {"deleted": queued}
        assert request(f"{url}/jobs/{queued}").status == 404
    server.service.close()


def test_twenty_concurrent_submissions_run_one_at_a_time_and_none_is_lost(tmp_path):
    log = []
    with make_server(tmp_path, stand_in(seconds=0.02, log=log)) as server:
        url = server.url + V1
        replies = []
        lock = threading.Lock()

        def submit(i):
            reply = request(f"{url}/jobs", "POST", {"max_frames": 17 + i})
            with lock:
                replies.append(reply)

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r.status for r in replies] == [202] * 20
        ids = {r.json()["job_ids"][0] for r in replies}
        assert len(ids) == 20
        wait_for(lambda: request(f"{url}/jobs").json()["counts"]["succeeded"] == 20, timeout=60)
        assert {entry[0] for entry in log} == ids
        intervals = sorted((start, end) for _, start, end in log)
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(intervals))
    server.service.close()


def test_auth(tmp_path):
    with make_server(tmp_path, stand_in(), credentials={"alice": "secret"}) as server:
        url = server.url + V1
        missing = request(f"{url}/version")
        assert missing.status == 401 and missing.headers["www-authenticate"].startswith("Basic")
        assert request(f"{url}/version", auth=("alice", "wrong")).status == 401
        assert request(f"{url}/jobs", "POST", {}, auth=("mallory", "secret")).status == 401
        assert request(f"{url}/version", auth=("alice", "secret")).status == 200
        assert request(f"{url}/jobs", "POST", {}, auth=("alice", "secret")).status == 202
        for path in ("/docs", "/redoc", "/openapi.json"):  # the documentation too
            assert request(f"{server.url}{path}").status == 401
            assert request(f"{server.url}{path}", auth=("alice", "secret")).status == 200
    server.service.close()


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quick")
    service = JobService(WanAPI(output_dir=folder), folder / "jobs", generate=stand_in())
    with ServerThread(create_app(service, ui=False)) as server:
        yield server
    service.close()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/plan", b"{not json", 400, None),
        ("POST", "/plan", b"[1, 2]", 422, "body"),
        ("POST", "/plan", b'{"max_frames": "many"}', 422, "max_frames"),
        ("POST", "/plan", b'{"max_frames": 1000000000000}', 422, "max_frames"),
        ("POST", "/plan", b'{"W": 10, "H": -1}', 422, "W"),
        ("POST", "/plan", b'{"fps": 1e308, "steps": [1]}', 422, "fps"),
        ("POST", "/plan?seed=-5", b"{}", 422, "seed"),
        ("POST", "/plan?seed=%EF%BC%91", b"{}", 422, "seed"),
        ("POST", "/movement", b'{"translation_x": "0:(__import__)"}', 422, "translation_x"),
        ("POST", "/jobs", b'"text"', 422, None),
        ("POST", "/jobs", b'[{"max_frames": 17}, {"W": "wide"}]', 422, "[1].W"),
        ("POST", "/jobs", b"[]", 422, "jobs"),
        ("POST", "/enhance", b'{"prompts": "a fox"}', 422, "prompts"),
        ("POST", "/enhance", b'{"prompts": ["a"], "contexts": [1]}', 422, "contexts"),
        (
            "POST",
            "/enhance",
            b'{"prompts": ["a"], "settings": {"enhance_language": "fr"}}',
            422,
            "enhance_language",
        ),
        ("GET", "/jobs?state=weird", None, 422, "state"),
        ("GET", "/jobs?limit=1000000000", None, 422, "limit"),
        ("GET", "/jobs?batch_id=../x", None, 422, "batch_id"),
        ("GET", "/jobs/" + "0" * 32, None, 404, None),
        ("GET", "/jobs/ABCDEF", None, 404, None),
        ("GET", "/jobs/..%2F..%2Fetc%2Fpasswd/video", None, 404, None),
        ("GET", "/jobs/%2E%2E/preview", None, 404, None),
        ("POST", "/jobs/" + "f" * 32 + "/resume", None, 404, None),
        ("DELETE", "/jobs/" + "f" * 32, None, 404, None),
    ],
)
def test_bad_requests_get_a_clean_4xx(quick_server, method, path, body, status, field):
    reply = request(quick_server.url + V1 + path, method, raw=body)
    assert reply.status == status, reply.body
    data = reply.json()
    assert "detail" in data
    if field:
        assert field in [error["field"] for error in data.get("errors", [])], data


def test_a_huge_body_is_refused(quick_server):
    reply = request(
        quick_server.url + V1 + "/plan", "POST", raw=b'{"prompts": {"0": "' + b"a" * 3_000_000 + b'"}}'
    )
    assert reply.status == 413


def test_files_are_served_only_from_the_jobs_own_folder(quick_server, tmp_path):
    url = quick_server.url + V1
    job_id = request(f"{url}/jobs", "POST", {}).json()["job_ids"][0]
    wait_for(lambda: job(quick_server, job_id)["state"] == "succeeded")
    assert request(f"{url}/jobs/{job_id}/video").status == 404  # the stand-in wrote no video
    assert request(f"{url}/jobs/{job_id}/..%2F..%2Fjobs.sqlite3").status == 404


def test_the_openapi_schema_describes_every_route(quick_server):
    assert request(quick_server.url + "/docs").status == 200
    schema = request(quick_server.url + "/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/plan",
        "/movement",
        "/enhance",
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/pause",
        "/jobs/{job_id}/resume",
        "/jobs/{job_id}/cancel",
        "/jobs/{job_id}/preview",
        "/jobs/{job_id}/video",
        "/models",
        "/system",
        "/version",
    ):
        assert V1 + path in paths
    plan_body = paths[V1 + "/plan"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    width = plan_body["properties"]["W"]  # any size: the model renders at the nearest size it takes
    assert (width["type"], width["minimum"], width["maximum"], "multipleOf" in width) == (
        "integer",
        64,
        2048,
        False,
    )
    assert plan_body["properties"]["loras"]["anyOf"][0]["type"] == "array"


def test_jobs_are_refused_with_503_when_generation_cannot_run(tmp_path):
    from wan.runtime import RuntimeEnv

    runtime = RuntimeEnv(tmp_path / "runtime")  # never prepared
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", runtime=runtime)
    with ServerThread(create_app(service, ui=False)) as server:
        reply = request(f"{server.url}{V1}/jobs", "POST", {"max_frames": 17})
        assert reply.status == 503 and "has not been prepared" in reply.json()["detail"]
        assert (
            request(f"{server.url}{V1}/plan", "POST", {"max_frames": 17}).status == 200
        )  # planning still works
    service.close()
