"""A corpus of hostile requests against the standalone server (create_app of wan/server.py, jobs
that finish at once without a model) over real HTTP on 127.0.0.1. Each answer must be a JSON
4xx that names the field where there is one: never a 500, never a hang.

The server runs in a process of its own (tests/standin_server.py): a request that wedged it
(d1b0a49's `9**9**9` froze the whole process) fails its case, the server is started again, and
the rest of the corpus still runs. Every request has a timeout, which only guards against a hang.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from api_server import free_port, request, wait_for, wan_environment

REQUEST_TIMEOUT = 60.0
# wan/schedules reads a frame with Python's int(), which takes any script's digits: refusing them is
# that package's to do (the schedules hardening left them), not this branch's
UNICODE_FRAMES_XFAIL = pytest.mark.xfail(
    reason="wan/schedules still reads unicode digits in keyframe frames", strict=False
)
JSON = "application/json"


class StandIn:
    """tests/standin_server.py in its own process, started again when a case wedged it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log = folder / "server.log"

    def start(self) -> None:
        self.port = free_port()
        script = Path(__file__).with_name("standin_server.py")
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(self.folder), str(self.port)],
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            env=wan_environment(),
        )
        wait_for(self.answers, timeout=90, interval=0.2)

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the server stopped:\n{self.log.read_text()[-3000:]}")
        try:
            return request(f"http://127.0.0.1:{self.port}/wan/v1/version", timeout=10).status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(30)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    stand_in = StandIn(tmp_path_factory.mktemp("hostile"))
    stand_in.start()
    yield stand_in
    stand_in.stop()


def send(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request exactly as given (http.client adds nothing but Host and, for a body without
    one, Content-Length)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None and "Content-Length" not in headers:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def settings(**values: object) -> bytes:
    return json.dumps(values).encode()


def translation(expression: str) -> bytes:
    return settings(translation_x=f"0:({expression})")


def case(
    name, body, status, field=None, *, path="/plan", method="POST", content_type=JSON, headers=None, marks=()
):
    return pytest.param(
        method,
        path,
        body,
        {"Content-Type": content_type, **(headers or {})} if content_type else dict(headers or {}),
        status,
        field,
        id=name,
        marks=marks,
    )


CORPUS = [
    # numbers JSON does not have, or that are too long to be numbers
    case("nan", b'{"fps": NaN}', 400),
    case("infinity", b'{"fps": Infinity}', 400),
    case("minus-infinity-in-a-batch", b'[{"fps": -Infinity}]', 400, path="/jobs"),
    case("overflowing-float", b'{"fps": 1e999}', 400),
    case("5000-digit-integer", b'{"max_frames": ' + b"9" * 5000 + b"}", 400),
    case("5000-digit-fraction", b'{"fps": 1.' + b"9" * 5000 + b"}", 400),
    case("5000-digit-text", settings(max_frames="9" * 5000), 422, "max_frames"),
    case("unicode-digits", settings(max_frames="\u0663\u0660"), 422, "max_frames"),
    case("fullwidth-digits", settings(fps="\uff12\uff14"), 422, "fps"),
    case("underscored-digits", settings(steps="1_0"), 422, "steps"),
    case(
        "unicode-digit-keyframe",
        settings(translation_x="\u0663:(1)"),
        422,
        "translation_x",
        marks=UNICODE_FRAMES_XFAIL,
    ),
    case(
        "unicode-digit-prompt-frame",
        settings(prompts={"\u0663": "a fox"}),
        422,
        "prompts",
        marks=UNICODE_FRAMES_XFAIL,
    ),
    case("unicode-digit-query", b"{}", 422, "seed", path="/plan?seed=%D9%A3"),
    # nesting
    case("100000-brackets", b"[" * 100_000, 400),
    case("deep-object", b'{"a": ' * 40 + b"1" + b"}" * 40, 400),
    case("nested-prompt", b'{"prompts": ' + b'{"a": ' * 30 + b"1" + b"}" * 31, 422, "prompts"),
    case("group-not-an-object", settings(movement=[1, 2]), 422, "movement"),
    # expressions that freeze or recurse
    case("power-tower", translation("9**" * 2000 + "9"), 422, "translation_x"),
    case("6kb-sum", translation("+".join(["sin(t)"] * 1000)), 422, "translation_x"),
    case("6kb-parentheses", translation("(" * 3000 + "t" + ")" * 3000), 422, "translation_x"),
    case("power-in-a-prompt-frame", settings(prompts={"9**9**9": "a fox"}), 422, "prompts"),
    # bodies that are not JSON, or not text
    case("text-plain", b'{"max_frames": 17}', 415, content_type="text/plain"),
    case("form", b"max_frames=17", 415, content_type="application/x-www-form-urlencoded"),
    case("multipart", b"--x\r\n\r\n--x--\r\n", 415, content_type="multipart/form-data; boundary=x"),
    case("no-content-type", b'{"max_frames": 17}', 415, content_type=None),
    case("huge-content-length", b"{}", 413, headers={"Content-Length": str(10**12)}),
    case("empty", b"", 400),
    case("invalid-utf8", b'{"prompts": {"0": "caf\xe9"}}', 400),
    case("lone-surrogate", b'{"prompts": {"0": "a\\ud800"}}', 400),
    case("a-json-string", b'"text"', 422, "body"),
    # text that is not text, and paths that lead out
    case("nul-in-a-prompt", settings(prompts={"0": "a\x00fox"}), 422, "prompts"),
    case("nul-in-a-setting", settings(negative_prompts="bad\x00"), 422, "negative_prompts"),
    case("nul-in-a-key", settings(**{"max\x00frames": 17}), 422, "max\x00frames"),
    case("nul-in-a-path", settings(init_image="inputs/\x00.png"), 422, "init_image"),
    case("dot-dot-path", settings(init_image="../../../../../etc/passwd"), 422, "init_image"),
    case("absolute-image", settings(init_image="/etc/passwd"), 422, "init_image"),
    case("absolute-output-dir", settings(output_dir="/etc"), 422, "output_dir"),
    case("absolute-model", settings(model="/etc"), 422, "model"),
    case("absolute-lora", settings(speed_lora="/etc/passwd"), 422, "speed_lora"),
    case("absolute-weights", settings(interpolation_weights="/etc/passwd"), 422, "interpolation_weights"),
    case("absolute-enhancer", settings(enhance_model="/etc"), 422, "enhance_model"),
    case("url-as-image", settings(init_image="http://169.254.169.254/latest"), 422, "init_image"),
    case("home-path", settings(init_image="~root/.ssh/id_rsa"), 422, "init_image"),
    # sizes
    case("100000-character-key", settings(**{"a" * 100_000: 1}), 422, "a" * 197 + "..."),
    case("100000-keys", settings(**{f"k{i}": 1 for i in range(100_000)}), 422, "settings"),
    case("101-jobs", json.dumps([{}] * 101).encode(), 422, "jobs", path="/jobs"),
    case("a-job-that-is-not-an-object", b"[{}, 5]", 422, "[1].settings", path="/jobs"),
    case(
        "long-enhance-prompt",
        json.dumps({"prompts": ["a" * 10_001]}).encode(),
        422,
        "prompts",
        path="/enhance",
    ),
    case("unknown-enhance-field", json.dumps({"prompts": [], "x": 1}).encode(), 422, "x", path="/enhance"),
    # ids and routes
    case(
        "traversal-in-an-id",
        None,
        404,
        path="/jobs/..%2F..%2F..%2Fetc%2Fpasswd",
        method="GET",
        content_type=None,
    ),
    case(
        "huge-query-number",
        None,
        422,
        "limit",
        path="/jobs?limit=" + "9" * 5000,
        method="GET",
        content_type=None,
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "field"), CORPUS)
def test_hostile_requests_get_a_json_4xx_never_a_500_or_a_hang(
    server, method, path, body, headers, status, field
):
    """d1b0a49: NaN and Infinity reached the settings, `[`*100000 and the 6 KB expressions raised
    RecursionError (500), 9**9**9 froze the server, text/plain and form bodies were parsed as JSON
    (any web page could post them), a lone surrogate gave a 500 while the answer was written, and
    unicode digits, NUL characters and 100,000 keys were taken as settings."""
    try:
        status_seen, raw = send(server.port, method, "/wan/v1" + path, body, headers)
    except (TimeoutError, OSError) as exc:
        server.restart()  # the rest of the corpus gets a fresh server
        pytest.fail(f"no answer ({exc}); the server was started again")
    if not server.answers():
        server.restart()
        pytest.fail("the server stopped answering after this request; it was started again")
    answer = json.loads(raw)
    assert status_seen == status, answer
    assert isinstance(answer.get("detail"), str), answer
    if field is not None:
        assert field in [error["field"] for error in answer.get("errors", [])], answer
