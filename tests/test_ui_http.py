"""The standalone server's UI over real HTTP with the installed gradio (5 or later): a caller of
gradio's API who puts a server path into a file value gets an error, the file is not read, and
it does not become downloadable. An upload made the normal way still imports."""

from __future__ import annotations

import json
import urllib.parse
import uuid

import pytest

gr = pytest.importorskip("gradio")
pytest.importorskip("uvicorn")

from api_server import ServerThread, request  # noqa: E402

from wan.server import create_app  # noqa: E402
from wan.service import JobService, WanAPI  # noqa: E402
from wan.ui.compat import VERSION, upload_folders  # noqa: E402

pytestmark = pytest.mark.skipif(VERSION < (5, 0), reason="gradio's /gradio_api routes are from 5 on")
SECRET = f"the-server-only-prompt-{uuid.uuid4().hex}"  # new each run: nothing left over can match
UPLOADED = f"an-uploaded-prompt-{uuid.uuid4().hex}"


def instant(job, control, report):
    return {}


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui-http")
    service = JobService(WanAPI(output_dir=folder / "out", models_dir=folder / "models"), generate=instant)
    with ServerThread(create_app(service, ui=True)) as server:
        yield server
    service.close()


def import_endpoint(server: ServerThread) -> str:
    """The API name gradio gave the click handler of the tab's "Import settings file" button."""
    config = request(server.url + "/config").json()
    elem_ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    (dependency,) = [
        d for d in config["dependencies"] if any(elem_ids.get(t[0]) == "wan_import" for t in d["targets"])
    ]
    assert [elem_ids[i] for i in dependency["inputs"]] == ["wan_settings_file"]
    assert "/" + dependency["api_name"] in request(server.url + "/gradio_api/info").json()["named_endpoints"]
    return dependency["api_name"]


def call(server: ServerThread, endpoint: str, file_value: dict) -> tuple[str, str]:
    """Call a gradio endpoint over HTTP as any client may: (event, data) of its outcome."""
    started = request(f"{server.url}/gradio_api/call/{endpoint}", "POST", {"data": [file_value]})
    assert started.status == 200, started.body
    event_id = started.json()["event_id"]
    stream = request(f"{server.url}/gradio_api/call/{endpoint}/{event_id}", timeout=60).body.decode()
    events = [line.removeprefix("event: ") for line in stream.splitlines() if line.startswith("event: ")]
    data = [line.removeprefix("data: ") for line in stream.splitlines() if line.startswith("data: ")]
    return events[-1], data[-1]


def files_holding(text: str) -> list[str]:
    """Files in gradio's upload folders that hold `text`."""
    found = []
    for folder in upload_folders():
        if folder.is_dir():
            for path in folder.rglob("*.json"):
                if path.is_file() and text in path.read_text(errors="replace"):
                    found.append(str(path))
    return found


def test_a_server_path_in_a_file_value_is_not_read_and_not_served(ui_server, tmp_path):
    """d1b0a49 mounted the Blocks without marking them launched, so gradio 5+ skipped its own
    "only uploaded files" check: it copied the named file into its cache (served at
    /gradio_api/file=), and the tab imported it."""
    secret = tmp_path / "server-only.json"
    secret.write_text(json.dumps({"prompts": {"0": SECRET}}))
    endpoint = import_endpoint(ui_server)
    value = {"path": str(secret), "orig_name": "settings.json", "meta": {"_type": "gradio.FileData"}}
    event, data = call(ui_server, endpoint, value)
    assert event == "error" and SECRET not in data, data
    assert files_holding(SECRET) == []
    for path in (str(secret), urllib.parse.quote(str(secret))):
        served = request(f"{ui_server.url}/gradio_api/file={path}")
        assert served.status in (403, 404) and SECRET.encode() not in served.body


def test_an_upload_made_the_normal_way_is_imported(ui_server):
    boundary = "wanboundary"
    content = json.dumps({"prompts": {"0": UPLOADED}, "max_frames": 33})
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="mine.json"\r\n'
        f"Content-Type: application/json\r\n\r\n{content}\r\n--{boundary}--\r\n"
    ).encode()
    uploaded = request(
        f"{ui_server.url}/gradio_api/upload",
        "POST",
        raw=form,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert uploaded.status == 200, uploaded.body
    (path,) = uploaded.json()
    value = {"path": path, "orig_name": "mine.json", "meta": {"_type": "gradio.FileData"}}
    event, data = call(ui_server, import_endpoint(ui_server), value)
    assert event == "complete", data
    outputs = json.loads(data)
    assert outputs[-1] == "Imported mine.json." and UPLOADED in json.dumps(outputs)
