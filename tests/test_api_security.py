"""The REST API's rules for callers, over real HTTP on 127.0.0.1: files only from the operator's
folders (without telling what exists elsewhere), chat servers only from the operator's list (the
server's key never leaves for another URL), and bounded work: enhancement previews in a bounded
pool, validation off the event loop, so the server keeps answering."""

from __future__ import annotations

import concurrent.futures
import json
import threading
import uuid
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from api_server import ServerThread, request
from chat_server import ANSWER, chat_server

from wan.server import create_app
from wan.service import ChatServers, JobService, WanAPI
from wan.service.job_service import ENHANCE_WAITING, ENHANCE_WORKERS

V1 = "/wan/v1"
SERVER_KEY = "server-key-" + uuid.uuid4().hex
CALLER_KEY = "caller-key-" + uuid.uuid4().hex


def instant(job, control, report):
    return {}


def serving(tmp_path: Path, **service: object) -> tuple[JobService, ServerThread]:
    folder = tmp_path / "out"
    api = WanAPI(output_dir=folder, models_dir=tmp_path / "models")
    jobs = JobService(api, generate=instant, **service)
    return jobs, ServerThread(create_app(jobs, ui=False))


@pytest.fixture
def api_server(tmp_path):
    jobs, server = serving(tmp_path)
    with server:
        server.service = jobs
        yield server
    jobs.close()


def errors_of(reply) -> dict[str, str]:
    return {error["field"]: error["message"] for error in reply.json().get("errors", [])}


# -- files ------------------------------------------------------------------------------------------
PATH_FIELDS = [
    "init_image",
    "speed_lora",
    "model",
    "i2v_model",
    "interpolation_weights",
    "weights_file",
    "weights_file_2",
    "output_dir",
    "enhance_model",
]


@pytest.mark.parametrize("field", PATH_FIELDS)
def test_a_path_outside_the_allowed_folders_is_not_allowed_whether_or_not_it_exists(api_server, field):
    """d1b0a49 took any path a caller named: /etc/passwd was "not an image" (it exists) and
    /no/such/file "no such file", so the answers told callers what exists on the server."""
    url = api_server.url + V1 + "/plan"
    messages = []
    for path in ("/etc/passwd", "/no/such/file", "/etc", "../../../../../../etc/passwd"):
        reply = request(url, "POST", {field: path})
        assert reply.status == 422, reply.body
        messages.append(errors_of(reply)[field])
    assert messages[0].startswith("not allowed") and len(set(messages)) == 1, messages


def test_inside_the_inputs_folder_a_missing_file_says_so_and_an_image_is_taken(api_server):
    """d1b0a49 had no inputs folder: a caller's init_image was any path on the server."""
    from PIL import Image

    inputs = api_server.service.inputs_dir
    inputs.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), "gray").save(inputs / "start.png")
    url = api_server.url + V1 + "/plan"
    assert errors_of(request(url, "POST", {"init_image": "missing.png"}))["init_image"] == "no such file"
    reply = request(url, "POST", {"init_image": "start.png"})
    assert reply.status == 200, reply.body
    assert reply.json()["plan"]["init_image"] == str((inputs / "start.png").resolve())


def test_a_link_inside_the_inputs_folder_that_leads_out_is_not_allowed(api_server, tmp_path):
    """Links are followed before the check (d1b0a49 read any path, links included)."""
    from PIL import Image

    outside = tmp_path / "private.png"
    Image.new("RGB", (64, 64), "gray").save(outside)
    inputs = api_server.service.inputs_dir
    inputs.mkdir(parents=True, exist_ok=True)
    (inputs / "link.png").symlink_to(outside)
    reply = request(api_server.url + V1 + "/plan", "POST", {"init_image": "link.png"})
    assert errors_of(reply)["init_image"].startswith("not allowed")


def test_an_enhancer_id_does_not_tell_what_exists_in_the_servers_working_folder(
    api_server, tmp_path, monkeypatch
):
    """`Org/Name` is a Hugging Face id unless it names a folder; d1b0a49 looked for that folder
    relative to the server's working folder, so a caller could tell which paths exist there."""
    (tmp_path / "probe" / "there").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    url = api_server.url + V1 + "/plan"
    there = request(url, "POST", {"enhance_model": "probe/there"})
    absent = request(url, "POST", {"enhance_model": "probe/absent"})
    assert there.status == absent.status == 200, (there.body, absent.body)


# -- chat servers -----------------------------------------------------------------------------------
def enhance_body(url: str, prompt: str | None = None) -> dict:
    return {
        "prompts": [prompt or f"a fox in the snow {uuid.uuid4().hex}"],
        "settings": {"enhance_backend": "openai", "enhance_api_url": url, "enhance_timeout": 120},
    }


def job_settings(url: str) -> dict:
    return {"max_frames": 17, "enhance_enabled": True, "enhance_backend": "openai", "enhance_api_url": url}


@pytest.fixture
def chat_servers(monkeypatch):
    """(a chat server the tests may list, another one no list names); the server has its own key."""
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    monkeypatch.delenv("WAN_ENHANCE_API_KEY", raising=False)
    monkeypatch.delenv("WAN_ENHANCE_API_URL", raising=False)
    with chat_server() as listed, chat_server() as unlisted:
        yield listed, unlisted
        assert unlisted.requests == [] or SERVER_KEY not in json.dumps(unlisted.requests)


def test_without_an_operator_list_no_chat_server_is_called(tmp_path, chat_servers):
    """d1b0a49 called whatever enhance_api_url a caller gave, with the server's own key."""
    _, unlisted = chat_servers
    jobs, server = serving(tmp_path, chat_servers=ChatServers())
    with server:
        reply = request(server.url + V1 + "/enhance", "POST", enhance_body(unlisted.url))
        assert reply.status == 422 and errors_of(reply)["enhance_api_url"].startswith("not allowed")
        job = request(server.url + V1 + "/jobs", "POST", job_settings(unlisted.url))
        assert job.status == 422 and "enhance_api_url" in errors_of(job)  # refused now, not failed later
    jobs.close()
    assert unlisted.requests == []


def test_a_listed_chat_server_gets_the_servers_key_and_no_other_does(tmp_path, chat_servers):
    """d1b0a49 sent the server's key to any URL a caller gave, and followed redirects with it."""
    listed, unlisted = chat_servers
    jobs, server = serving(tmp_path, chat_servers=ChatServers.of([listed.url + "/"]))
    with server:
        reply = request(server.url + V1 + "/enhance", "POST", enhance_body(listed.url))
        assert reply.status == 200, reply.body
        result = reply.json()["results"][0]
        assert result["source"] == "model" and result["prompt"].startswith(ANSWER.split(";")[0])
        assert listed.headers_seen("Authorization") == [f"Bearer {SERVER_KEY}"]
        assert request(server.url + V1 + "/jobs", "POST", job_settings(listed.url)).status == 202

        # a listed server that redirects does not pass the request (and the key) on
        listed.respond = lambda body: (307, {"Location": unlisted.url + "/chat/completions"}, b"")
        moved = request(server.url + V1 + "/enhance", "POST", enhance_body(listed.url)).json()["results"][0]
        assert moved["error"] and "HTTP 307" in moved["note"]
    jobs.close()
    assert unlisted.requests == []


def test_a_chat_servers_error_page_is_not_repeated(tmp_path, chat_servers):
    """d1b0a49 repeated the first 300 characters of whatever page came back, so a caller could
    read pages of servers it cannot reach itself."""
    listed, _ = chat_servers
    jobs, server = serving(tmp_path, chat_servers=ChatServers.of([listed.url]))
    with server:
        listed.respond = lambda body: (
            500,
            {"Content-Type": "text/html"},
            b"<html>internal-secret-page</html>",
        )
        page = request(server.url + V1 + "/enhance", "POST", enhance_body(listed.url)).json()["results"][0]
        assert "HTTP 500" in page["note"] and "internal-secret-page" not in page["note"]
        listed.respond = lambda body: (400, {}, {"error": {"message": "m" * 1000}})
        said = request(server.url + V1 + "/enhance", "POST", enhance_body(listed.url)).json()["results"][0]
        assert "m" * 200 in said["note"] and "m" * 201 not in said["note"]
    jobs.close()


def test_a_callers_own_key_goes_only_to_a_server_on_the_public_internet(tmp_path, chat_servers):
    """d1b0a49 had no caller key: any URL a caller gave, this machine and private networks
    included, was called with the server's own key."""
    listed, unlisted = chat_servers
    jobs, server = serving(tmp_path, chat_servers=ChatServers.of([listed.url]))
    own = {"X-Wan-Enhance-Key": CALLER_KEY}
    with server:
        reply = request(server.url + V1 + "/enhance", "POST", enhance_body(unlisted.url), headers=own)
        assert reply.status == 422
        assert "must be on the public internet" in errors_of(reply)["enhance_api_url"]
        job = request(server.url + V1 + "/jobs", "POST", job_settings(unlisted.url), headers=own)
        assert job.status == 422 and "must be on the public internet" in errors_of(job)["enhance_api_url"]
        assert CALLER_KEY not in reply.body.decode() + job.body.decode()  # never echoed

        # with a listed server, the caller's key is the one sent
        assert (
            request(server.url + V1 + "/enhance", "POST", enhance_body(listed.url), headers=own).status == 200
        )
        assert listed.headers_seen("Authorization") == [f"Bearer {CALLER_KEY}"]
    jobs.close()
    assert unlisted.requests == []


# -- bounded work -----------------------------------------------------------------------------------
def test_enhancement_previews_run_in_a_bounded_pool_while_the_server_keeps_answering(tmp_path, chat_servers):
    """45 previews against a chat server that holds its answers: the pool takes
    ENHANCE_WORKERS + ENHANCE_WAITING, the rest get 409 at once, and GET /jobs answers while every
    admitted preview is still pending. In d1b0a49 each /enhance held a server thread (or the event
    loop) for as long as the chat server took."""
    listed, _ = chat_servers
    listed.hold()
    jobs, server = serving(tmp_path, chat_servers=ChatServers.of([listed.url]))
    admitted = ENHANCE_WORKERS + ENHANCE_WAITING
    with server, concurrent.futures.ThreadPoolExecutor(45) as clients:
        url = server.url + V1 + "/enhance"
        replies = [
            clients.submit(request, url, "POST", enhance_body(listed.url), timeout=120) for _ in range(45)
        ]
        busy = []
        for future in concurrent.futures.as_completed(replies, timeout=120):
            busy.append(future.result())
            if len(busy) == 45 - admitted:
                break
        assert [reply.status for reply in busy] == [409] * (45 - admitted)
        assert "enhancement requests are waiting" in busy[0].json()["detail"]
        listed.wait_for_requests(ENHANCE_WORKERS)  # the pool's previews reached the chat server

        listing = request(server.url + V1 + "/jobs", timeout=30)
        pending = sum(not future.done() for future in replies)
        assert listing.status == 200 and pending == admitted, pending

        listed.release()
        statuses = sorted(future.result().status for future in replies)
    jobs.close()
    assert statuses == [200] * admitted + [409] * (45 - admitted)


def test_a_big_plan_is_validated_off_the_event_loop(api_server, monkeypatch):
    """/plan with 10,000 prompts: GET /version answers while the plan is being made. The plan is
    held (after its body was read and before it is planned) until /version has answered, so this
    is an ordering check; in d1b0a49 the settings were validated on the event loop, which the hold
    would have blocked."""
    started, answered = threading.Event(), threading.Event()
    real_plan = api_server.service.plan

    def held_plan(data, **options):
        started.set()
        assert answered.wait(60), "GET /version did not answer while the plan was held"
        return real_plan(data, **options)

    monkeypatch.setattr(api_server.service, "plan", held_plan)
    settings = {"prompts": {str(i): f"prompt number {i}" for i in range(10_000)}, "max_frames": 10_000}
    with concurrent.futures.ThreadPoolExecutor(1) as client:
        planned = client.submit(request, api_server.url + V1 + "/plan", "POST", settings, timeout=120)
        assert started.wait(60)
        version = request(api_server.url + V1 + "/version", timeout=30)
        assert version.status == 200 and not planned.done()
        answered.set()
        reply = planned.result(timeout=120)
    assert reply.status == 200, reply.body[:500]
    assert len(reply.json()["plan"]["clips"]) > 1


def test_an_enhancement_preview_stops_asking_at_its_deadline(tmp_path, chat_servers, monkeypatch):
    """A chat server that never answers holds a preview at most ENHANCE_SECONDS (1 s here): the
    prompts it did not answer are kept, each saying why, and the request ends (d1b0a49 waited
    enhance_timeout for every prompt, four at a time: 6 minutes here)."""
    import wan.service.job_service as job_service

    listed, _ = chat_servers
    listed.hold()  # released when the chat server stops
    monkeypatch.setattr(job_service, "ENHANCE_SECONDS", 1.0)
    jobs, server = serving(tmp_path, chat_servers=ChatServers.of([listed.url]))
    with server:
        body = enhance_body(listed.url)
        body["prompts"] = [f"prompt {i} {uuid.uuid4().hex}" for i in range(12)]
        reply = request(server.url + V1 + "/enhance", "POST", body, timeout=120)
    jobs.close()
    results = reply.json()["results"]
    assert reply.status == 200 and len(results) == 12
    assert all(r["error"] and r["prompt"] == r["original"] for r in results)
    assert all("ran out of time" in r["note"] for r in results), [r["note"] for r in results]
    assert len(listed.requests) < 12  # the last ones were never sent


def test_an_internal_error_is_a_json_500_without_its_details(api_server, monkeypatch):
    """A bug behind a route: the caller gets JSON that says so and nothing of the exception (the
    server's log has the traceback). d1b0a49 answered with the framework's plain-text 500."""

    def broken(data, **options):
        raise RuntimeError("the database password is hunter2")

    monkeypatch.setattr(api_server.service, "plan", broken)
    reply = request(api_server.url + V1 + "/plan", "POST", {})
    assert reply.status == 500
    assert reply.json() == {"detail": "internal error; the server's log has the details"}


def test_the_value_of_an_unknown_key_is_never_echoed(api_server):
    """An unknown key's value may be anything (a file's contents pasted by mistake, a password);
    d1b0a49 repeated it as "(got 'hunter2')"."""
    reply = request(api_server.url + V1 + "/plan", "POST", {"max_frames": 17, "pasword": "hunter2"})
    assert reply.status == 422 and "pasword" in errors_of(reply)
    assert b"hunter2" not in reply.body
