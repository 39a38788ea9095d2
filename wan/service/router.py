"""The REST API, versioned under /wan/v1, as a FastAPI router (the WebUI's app or our server).

Bodies are plain JSON validated by wan.config, not pydantic models, so one router works on
pydantic 1 (A1111's fastapi 0.94) and pydantic 2 (Forge, standalone); the OpenAPI document
still describes every body (wan.service.schema). Errors: 400 malformed JSON, 401 bad or missing
credentials, 404 unknown id or file, 409 a state change the job does not allow (or the GPU is
busy), 413 a body over MAX_BODY_BYTES, 422 invalid settings with every bad field, its value and
what is allowed, 503 jobs refused because this environment cannot generate (the reason says
which packages are missing and how to install them). Job ids are checked against their shape
before any lookup, and files are served only from inside the job's own run folder.
"""

# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations
# (Request), which are imported inside create_router and must be real objects, not strings.
import json
from collections.abc import Callable
from typing import Any

from .. import __version__
from ..config import SettingsError, config_from_dict
from .jobs import STATES, IllegalTransition, JobNotFound, valid_job_id
from .schema import ENHANCE_REQUEST, body, responses, settings_schema
from .service import GenerationUnavailable, JobService

PREFIX = "/wan/v1"
MAX_BODY_BYTES = 2_000_000
DRAIN_LIMIT_BYTES = 8 * MAX_BODY_BYTES
MAX_LIST = 1000


class ApiError(Exception):
    """An error answer: status, message and optional field errors."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []


def _settings_error(exc: SettingsError) -> ApiError:
    return ApiError(422, str(exc).splitlines()[0], [e.to_dict() for e in exc.errors])


async def _json(request: Any) -> Any:
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit():
        raise ApiError(400, "Content-Length must be a whole number")
    too_big = ApiError(413, f"the body must be at most {MAX_BODY_BYTES} bytes")
    if int(declared) > DRAIN_LIMIT_BYTES:
        raise too_big
    # Read (and drop) a moderately oversized body before answering: a client still sending
    # would otherwise see a broken connection instead of the 413.
    received, chunks = 0, []
    async for chunk in request.stream():
        received += len(chunk)
        if received <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif received > DRAIN_LIMIT_BYTES:
            break
    if received > MAX_BODY_BYTES:
        raise too_big
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None


def _object(data: Any, what: str = "settings") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise invalid("body", None, f"must be a JSON object of {what}")
    return data


def _config(data: Any) -> Any:
    try:
        return config_from_dict(_object(data))[0]
    except SettingsError as exc:
        raise _settings_error(exc) from None


def invalid(field: str, value: Any, allowed: str) -> ApiError:
    """A 422 for one bad field: `field` must be `allowed` (the value is shown cut to 40 characters)."""
    shown = value[:40] if isinstance(value, str) else value
    return ApiError(422, f"{field}: {allowed}", [{"field": field, "value": shown, "message": allowed}])


def _job_id(job_id: str) -> str:
    if not valid_job_id(job_id):
        raise ApiError(404, "no such job (a job id is 32 lowercase hex digits)")
    return job_id


def _query_int(request: Any, name: str, default: int, lowest: int, highest: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    digits = text.strip().removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or not lowest <= int(text) <= highest:
        raise invalid(name, text, f"a whole number from {lowest} to {highest}")
    return int(text)


def create_router(
    service: JobService, *, credentials: dict[str, str] | None = None, gpu_wait_seconds: float = 1.0
) -> Any:
    """The /wan/v1 routes over a JobService; `credentials` {user: password} turns on HTTP Basic."""
    from fastapi import APIRouter, Depends, HTTPException, Request
    from fastapi.responses import FileResponse, JSONResponse, Response
    from starlette.concurrency import run_in_threadpool

    from .auth import check_basic

    def authorised(request: Request) -> None:
        if not check_basic(request.headers.get("authorization"), credentials or {}):
            raise HTTPException(
                401, "missing or wrong credentials", headers={"WWW-Authenticate": 'Basic realm="wan"'}
            )

    router = APIRouter(prefix=PREFIX, tags=["wan"], dependencies=[Depends(authorised)])

    def answer(handler: Callable[..., Any]) -> Callable[..., Any]:
        """Turn ApiError and the service's errors into JSON answers."""
        import functools

        @functools.wraps(handler)
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except ApiError as exc:
                content: dict[str, Any] = {"detail": exc.detail}
                if exc.errors:
                    content["errors"] = exc.errors
                return JSONResponse(content, status_code=exc.status)
            except JobNotFound:
                return JSONResponse({"detail": "no such job"}, status_code=404)
            except IllegalTransition as exc:
                return JSONResponse({"detail": str(exc)}, status_code=409)
            except GenerationUnavailable as exc:
                return JSONResponse({"detail": str(exc)}, status_code=503)
            except SettingsError as exc:
                error = _settings_error(exc)
                return JSONResponse({"detail": error.detail, "errors": error.errors}, status_code=422)

        return wrapped

    settings_body = body(settings_schema())
    common = responses(400, 401, 413, 422)

    @router.post("/plan", openapi_extra=settings_body, responses=common, summary="Plan a video (no GPU)")
    @answer
    async def plan(request: Request) -> Any:
        config = _config(await _json(request))
        seed = _query_int(request, "seed", -1, -1, 2**32 - 1)
        result = service.api.create_generation_plan(config, seed=None if seed < 0 else seed)
        return JSONResponse({"plan": result.to_dict()})

    @router.post(
        "/movement", openapi_extra=settings_body, responses=common, summary="Camera movement in words"
    )
    @answer
    async def movement(request: Request) -> Any:
        config = _config(await _json(request))
        segments = service.api.analyze_movement(config)
        return JSONResponse({"segments": [segment.to_dict() for segment in segments]})

    @router.post(
        "/enhance",
        openapi_extra=body(ENHANCE_REQUEST),
        responses=responses(400, 401, 409, 413, 422),
        summary="Enhance prompts with Qwen or a chat server",
    )
    @answer
    async def enhance(request: Request) -> Any:
        from ..prompts import EnhancementConfig, PromptContext

        data = _object(await _json(request), "prompts")
        prompts = data.get("prompts")
        if (
            not isinstance(prompts, list)
            or not all(isinstance(p, str) for p in prompts)
            or len(prompts) > MAX_LIST
        ):
            raise invalid("prompts", None, f"a list of at most {MAX_LIST} texts")
        contexts_data = data.get("contexts") or [{}] * len(prompts)
        if (
            not isinstance(contexts_data, list)
            or len(contexts_data) != len(prompts)
            or not all(
                isinstance(c, dict) and all(isinstance(c.get(k, ""), str) for k in ("movement", "style"))
                for c in contexts_data
            )
        ):
            raise invalid("contexts", None, "one {movement, style} object per prompt")
        settings_data = data.get("settings") or {}
        config = _config(settings_data)
        try:
            settings = EnhancementConfig.from_options(
                config.enhancement, style_strength=config.style.strength
            )
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        contexts = [PromptContext(c.get("movement", ""), c.get("style", "")) for c in contexts_data]

        def run() -> list[Any]:
            if settings.backend == "openai":
                return service.api.enhance_prompts(prompts, contexts, settings)
            lock = service.worker.gpu_lock
            if not lock.acquire(timeout=gpu_wait_seconds):
                raise ApiError(
                    409,
                    "the GPU is busy with a generation; try later, or submit a job with enhance_enabled",
                )
            try:
                return service.api.enhance_prompts(prompts, contexts, settings)
            finally:
                lock.release()

        results = await run_in_threadpool(run)
        return JSONResponse({"results": [r.to_dict() for r in results]})

    @router.post(
        "/jobs",
        openapi_extra=body(
            {"oneOf": [settings_schema(), {"type": "array", "items": settings_schema(), "maxItems": 100}]}
        ),
        responses=responses(400, 401, 413, 422, 503),
        status_code=202,
        summary="Queue one generation, or a batch",
    )
    @answer
    async def submit(request: Request) -> Any:
        data = await _json(request)
        if not isinstance(data, (dict, list)):
            raise ApiError(422, "the body must be a settings object or a list of them")
        batch_id, ids = await run_in_threadpool(service.submit, data)
        return JSONResponse({"batch_id": batch_id, "job_ids": ids}, status_code=202)

    @router.get("/jobs", responses=responses(401, 422), summary="List jobs, newest first")
    @answer
    async def list_jobs(request: Request) -> Any:
        state = request.query_params.get("state")
        if state is not None and state not in STATES:
            raise invalid("state", state, f"one of {', '.join(STATES)}")
        batch = request.query_params.get("batch_id")
        if batch is not None and not valid_job_id(batch):
            raise invalid("batch_id", batch, "32 lowercase hex digits")
        limit = _query_int(request, "limit", 100, 1, MAX_LIST)
        jobs = await run_in_threadpool(lambda: service.list(state=state, batch_id=batch, limit=limit))
        counts = await run_in_threadpool(service.store.counts)
        return JSONResponse({"jobs": [job.to_dict() for job in jobs], "counts": counts})

    @router.get("/jobs/{job_id}", responses=responses(401, 404), summary="One job: state, progress, result")
    @answer
    async def get_job(job_id: str) -> Any:
        job = await run_in_threadpool(service.get, _job_id(job_id))
        return JSONResponse(job.to_dict(settings=True))

    def action(name: str, method: Callable[[str], Any]) -> None:
        @router.post(
            f"/jobs/{{job_id}}/{name}",
            responses=responses(401, 404, 409),
            summary=f"{name.capitalize()} a job",
            name=f"{name}_job",
        )
        @answer
        async def act(job_id: str) -> Any:
            job = await run_in_threadpool(method, _job_id(job_id))
            return JSONResponse(job.to_dict())

    action("pause", service.pause)
    action("resume", service.resume)
    action("cancel", service.cancel)

    @router.delete("/jobs/{job_id}", responses=responses(401, 404, 409), summary="Forget a job (files stay)")
    @answer
    async def delete_job(job_id: str) -> Any:
        await run_in_threadpool(service.delete, _job_id(job_id))
        return JSONResponse({"deleted": job_id})

    def serve_file(relative: str, media_type: str, missing: str) -> Callable[..., Any]:
        async def handler(job_id: str) -> Any:
            path = await run_in_threadpool(service.file, _job_id(job_id), relative)
            if path is None:
                raise ApiError(404, missing)
            return FileResponse(path, media_type=media_type)

        return handler

    preview = serve_file("previews/latest.png", "image/png", "no preview yet")
    video = serve_file("video.mp4", "video/mp4", "no video yet")
    router.add_api_route(
        "/jobs/{job_id}/preview",
        answer(preview),
        methods=["GET"],
        responses={200: {"content": {"image/png": {}}}, **responses(401, 404)},
        response_class=Response,
        summary="Latest preview (PNG)",
    )
    router.add_api_route(
        "/jobs/{job_id}/video",
        answer(video),
        methods=["GET"],
        responses={200: {"content": {"video/mp4": {}}}, **responses(401, 404)},
        response_class=Response,
        summary="The finished video (MP4)",
    )

    @router.get("/models", responses=responses(401), summary="Known models and which are here")
    @answer
    async def models() -> Any:
        return JSONResponse(await run_in_threadpool(service.api.list_models))

    @router.get("/system", responses=responses(401), summary="GPU, memory, versions, suggested preset")
    @answer
    async def system() -> Any:
        return JSONResponse(await run_in_threadpool(service.api.system_info))

    @router.get("/version", responses=responses(401), summary="Version of Wan Video and of this API")
    @answer
    async def version() -> Any:
        return JSONResponse({"version": __version__, "api": "v1"})

    return router
