"""Reading request bodies safely: JSON only, bounded in size and depth, no NaN or Infinity.

Every problem is an ApiError with a status and a message that names what is wrong; nothing a
caller sends gives a 500 or a traceback.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 2_000_000
# A client still sending a moderately oversized body gets the 413 after it is read (and
# dropped) instead of a broken connection; beyond this the connection is dropped.
DRAIN_LIMIT_BYTES = 8 * MAX_BODY_BYTES
# Settings are flat; a job list nests three levels. Far deeper is an attack on the parser.
MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 100


class ApiError(Exception):
    """An error answer: status, message and optional field errors (each field, value, message)."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def content(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {"detail": self.detail, **({"errors": self.errors} if self.errors else {})}


def invalid(field: str, value: Any, allowed: str) -> ApiError:
    """A 422 for one bad field: `field` must be `allowed` (the value is shown cut to 40 characters)."""
    shown = value[:40] if isinstance(value, str) else value
    return ApiError(422, f"{field}: {allowed}", [{"field": field, "value": shown, "message": allowed}])


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; give a finite number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number with more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 10:
        raise ValueError(f"a number with more than {MAX_NUMBER_DIGITS} digits")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is too large for a number")
    return value


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (strings skipped), in one pass."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json(raw: bytes) -> Any:
    """The JSON value of a request body (ApiError 400 with the reason otherwise)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8 text") from None
    if _depth(text) > MAX_DEPTH:
        raise ApiError(400, f"the body nests arrays or objects more than {MAX_DEPTH} deep")
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_bounded_float
        )
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    try:  # JSON's \ud800 escapes decode to lone surrogates, which no answer could encode back
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, "the body holds a lone UTF-16 surrogate escape (such as \\ud800); send text"
        ) from None
    return value


def check_json_type(content_type: str | None) -> None:
    """Bodies are JSON: a form or plain text (what a web page may post across sites without
    asking) is refused with 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise ApiError(415, "send the body as JSON with Content-Type: application/json")


async def read_json(request: Any) -> Any:
    """The JSON body of a request: its type, size and shape checked (see the module doc)."""
    check_json_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    too_big = ApiError(413, f"the body must be at most {MAX_BODY_BYTES} bytes")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ApiError(400, "Content-Length must be a whole number")
        if int(declared) > DRAIN_LIMIT_BYTES:
            raise too_big
    received, chunks = 0, []
    async for chunk in request.stream():
        received += len(chunk)
        if received <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif received > DRAIN_LIMIT_BYTES:
            break
    if received > MAX_BODY_BYTES:
        raise too_big
    if not chunks:
        raise ApiError(400, "the body is empty; send a JSON object")
    from starlette.concurrency import run_in_threadpool

    # parsing 2 MB (and measuring its depth) takes a while: not on the event loop, which must
    # keep answering other requests meanwhile
    return await run_in_threadpool(parse_json, b"".join(chunks))
