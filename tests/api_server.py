"""Helpers for the REST API tests: a real uvicorn server on 127.0.0.1 in a thread, and plain
urllib requests (no test client: these are real HTTP round trips)."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    method: str = "GET",
    data: Any = None,
    *,
    raw: bytes | None = None,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    """One HTTP request; any status comes back as a Reply (no exception for 4xx/5xx)."""
    payload = raw if raw is not None else (json.dumps(data).encode() if data is not None else None)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if auth:
        all_headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    req = urllib.request.Request(url, payload, all_headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Reply(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read(), dict(error.headers))


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wait_for(predicate: Any, timeout: float = 60, interval: float = 0.05) -> Any:
    """Poll until `predicate()` returns something truthy; returns it (AssertionError on timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s")


ROOT = Path(__file__).resolve().parent.parent


def wan_environment(**extra: str) -> dict[str, str]:
    """The environment for `python -m wan` in another folder: this checkout's package first (an
    installed copy elsewhere, or a relative PYTHONPATH, must not stand in for it)."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


def serve_command(folder: Path, port: int) -> list[str]:
    """`python -m wan serve` on 127.0.0.1:`port` with its output folder `folder` (the queue is
    `folder/jobs`) and models in `folder/models`."""
    command = [sys.executable, "-m", "wan", "serve", "--port", str(port), "--output-dir", str(folder)]
    return [*command, "--models-dir", str(folder / "models")]


def start_serve(folder: Path, port: int, log: Path, *, cwd: Path | None = None) -> subprocess.Popen:
    """`python -m wan serve` (serve_command) with output to `log` (a pipe nobody reads would block
    it once full); returns once the API answers (AssertionError, with the log, if the process dies
    first)."""
    process = subprocess.Popen(
        serve_command(folder, port),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=cwd or folder,
        env=wan_environment(),
    )

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped:\n{log.read_text()}")
        try:
            return request(f"http://127.0.0.1:{port}/wan/v1/version", timeout=2).status == 200
        except OSError:
            return False

    wait_for(up, timeout=90, interval=0.2)
    return process


def stop_serve(process: subprocess.Popen) -> None:
    """Stop a server started by start_serve (Ctrl-C, then kill if it lingers)."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
