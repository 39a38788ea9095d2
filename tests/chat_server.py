"""A small OpenAI-compatible chat server on 127.0.0.1 for tests: it records every request (path,
headers, body) and answers as each test sets it (reply, key, delay, held answers, other statuses)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "A misty pine forest at dawn; the camera slowly moves forward between the trunks."
# how long a held answer waits for release() at most (a guard against a hang, not a timing)
HOLD_LIMIT_SECONDS = 120.0


class ChatServer(ThreadingHTTPServer):
    """Answers /v1/chat/completions like an OpenAI server; behaviour set per test:

    - `reply(body)`: the JSON answer; `key`: the Bearer key it wants (401 otherwise);
    - `delay`: seconds before answering; `hold()`: answers wait until `release()`;
    - `respond(body)`: (status, headers, payload) instead of a 200 answer (errors, redirects).
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.key = ""
        self.delay = 0.0
        self.reply: Callable[[Any], Any] = lambda body: {
            "choices": [{"message": {"role": "assistant", "content": ANSWER}}]
        }
        self.respond: Callable[[Any], tuple[int, dict[str, str], Any]] | None = None
        self.released = threading.Event()
        self.released.set()
        self.arrived = threading.Semaphore(0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def hold(self) -> None:
        """Keep every answer until release()."""
        self.released.clear()

    def release(self) -> None:
        """Answer the held requests (and every later one at once)."""
        self.released.set()

    def wait_for_requests(self, count: int, timeout: float = 60.0) -> None:
        """Block until `count` more requests have arrived (AssertionError after `timeout`)."""
        for _ in range(count):
            if not self.arrived.acquire(timeout=timeout):
                raise AssertionError(f"the chat server got fewer than {count} requests")

    def headers_seen(self, name: str) -> list[str]:
        """Every value of header `name` in the requests so far."""
        return [headers[name] for _, headers, _ in self.requests if name in headers]


class ChatHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        server: ChatServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.requests.append((self.path, dict(self.headers), body))
        server.arrived.release()
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": "not found"}})
        if server.key and self.headers.get("Authorization") != f"Bearer {server.key}":
            return self._send(401, {"error": {"message": "invalid api key"}})
        server.released.wait(HOLD_LIMIT_SECONDS)
        time.sleep(server.delay)
        if server.respond is not None:
            status, headers, payload = server.respond(body)
            return self._send(status, payload, headers)
        self._send(200, server.reply(body))


@contextmanager
def chat_server() -> Iterator[ChatServer]:
    """A ChatServer serving in a thread for the block."""
    chat = ChatServer()
    thread = threading.Thread(target=chat.serve_forever, daemon=True)
    thread.start()
    try:
        yield chat
    finally:
        chat.release()
        chat.shutdown()
        chat.server_close()
