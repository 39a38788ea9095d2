"""The REST API, versioned under /wan/v1: one FastAPI router (the WebUI's app or our server).

`install(app, service, access)` puts it on an app: the service and the access rule live in the
app's state, and the handlers below get them through dependencies. Bodies are plain JSON
(wan.service.bodies) validated by the settings model itself (wan.config, in a worker thread so
a large body never stalls the server), not by pydantic, so one router works on pydantic 1
(A1111's fastapi 0.94) and pydantic 2 (Forge, standalone); the OpenAPI document still describes
every body (wan.service.schema).

Every answer is JSON, errors included (the route class turns them into answers itself, so a
host's own exception handlers do not change them): 400 malformed body, 401 missing or wrong
credentials (with WWW-Authenticate), 403 refused by the server's rule, 404 unknown id or file,
409 a state change the job does not allow or the GPU is busy, 413 too large, 415 not JSON, 422
invalid settings with every bad field, its value and what is allowed, 503 this server cannot
generate now (the reason says why), 500 for a bug (logged, no traceback in the answer). A PATCH
that would change a clip already rendered is a 409 that names the clip (`clip`) and the run to
re-render from (`from_run`). A
caller's own chat-server key comes in the X-Wan-Enhance-Key header and is never echoed.
"""

# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations
# (Request, JobService), which must be real objects, not strings.
import asyncio
import sys
import traceback
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..config import SettingsError
from ..errors import WanError
from .auth import ApiAccess, check_basic
from .bodies import ApiError, invalid, read_json
from .job_service import MAX_PROMPTS, Busy, ChangeRefused, GenerationUnavailable, JobService
from .jobs import STATES, IllegalTransition, JobNotFound, QueueUnavailable, valid_job_id
from .schema import ENHANCE_REQUEST, body, responses, settings_schema

PREFIX = "/wan/v1"
MAX_LIST = 1000
KEY_HEADER = "x-wan-enhance-key"
MAX_PROMPT_CHARACTERS = 10_000


def error_answer(exc: BaseException) -> JSONResponse:
    """The JSON answer of an error raised while handling a request."""
    if isinstance(exc, ApiError):
        return JSONResponse(exc.content(), status_code=exc.status, headers=exc.headers or None)
    if isinstance(exc, HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, ChangeRefused):
        return JSONResponse(
            {"detail": str(exc), "clip": exc.clip, "from_run": str(exc.run_dir)}, status_code=409
        )
    if isinstance(exc, SettingsError):
        first = str(exc).splitlines()[0]
        return JSONResponse({"detail": first, "errors": [e.to_dict() for e in exc.errors]}, status_code=422)
    statuses = {
        JobNotFound: 404,
        IllegalTransition: 409,
        Busy: 409,
        GenerationUnavailable: 503,
        QueueUnavailable: 503,
    }
    for kind, status in statuses.items():
        if isinstance(exc, kind):
            return JSONResponse({"detail": str(exc)}, status_code=status)
    if isinstance(exc, WanError):
        return JSONResponse({"detail": str(exc)}, status_code=400)
    if isinstance(exc, RecursionError):  # a parser recursing on a caller's deeply nested text
        return JSONResponse({"detail": "the input nests too deeply to be read"}, status_code=400)
    print("Wan Video: internal error in the API:", file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return JSONResponse({"detail": "internal error; the server's log has the details"}, status_code=500)


class WanRoute(APIRoute):
    """A route whose errors are always our JSON answers (see the module doc)."""

    def get_route_handler(self) -> Callable[..., Any]:
        """The handler, with every error turned into its answer."""
        handle = super().get_route_handler()

        async def answered(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:  # every error becomes an answer: see error_answer
                return error_answer(exc)

        return answered


# -- dependencies ----------------------------------------------------------------------------------
def service_of(request: Request) -> JobService:
    """The JobService of the app this request reached."""
    return request.app.state.wan_service


def access_of(request: Request) -> ApiAccess:
    """The access rule of the app this request reached."""
    return getattr(request.app.state, "wan_access", None) or ApiAccess.open()


def authorised(request: Request) -> None:
    """Credentials, when the server asks for them."""
    if not check_basic(request.headers.get("authorization"), access_of(request).credentials):
        raise ApiError(401, "missing or wrong credentials", headers={"WWW-Authenticate": 'Basic realm="wan"'})


def allowed_to_generate(request: Request) -> None:
    """The routes that generate or call out: refused where the server's rule says so."""
    refuse = access_of(request).refuse
    if refuse:
        raise ApiError(403, refuse)


async def json_body(request: Request) -> Any:
    """The request's JSON body (type, size, depth and numbers checked)."""
    return await read_json(request)


async def settings_body(data: Any = Depends(json_body)) -> dict[str, Any]:
    """A body that must be one settings object (validated by the service, in a thread)."""
    if not isinstance(data, dict):
        raise invalid("body", None, "must be a JSON object of settings")
    return data


def job_id_of(job_id: str) -> str:
    """A path's job id, checked for its shape before any lookup."""
    if not valid_job_id(job_id):
        raise ApiError(404, "no such job (a job id is 32 lowercase hex digits)")
    return job_id


def query_int(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
    """A whole-number query parameter in [lowest, highest]."""
    text = request.query_params.get(name)
    if text is None:
        return default
    digits = text.strip().removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) < 12) or not lowest <= int(text) <= highest:
        raise invalid(name, text, f"a whole number from {lowest} to {highest}")
    return int(text)


def caller_key(request: Request) -> str | None:
    """The caller's own chat-server key, if it sent one."""
    return request.headers.get(KEY_HEADER) or None


router = APIRouter(prefix=PREFIX, tags=["wan"], dependencies=[Depends(authorised)], route_class=WanRoute)
SETTINGS_BODY = body(settings_schema())


# -- planning (no GPU) -----------------------------------------------------------------------------
@router.post(
    "/plan",
    openapi_extra=SETTINGS_BODY,
    responses=responses(400, 401, 413, 415, 422),
    summary="Plan a video (no GPU)",
)
async def plan(
    request: Request, data: dict = Depends(settings_body), service: JobService = Depends(service_of)
) -> Any:
    seed = query_int(request, "seed", -1, -1, 2**32 - 1)
    result = await run_in_threadpool(service.plan, data, seed=None if seed < 0 else seed)
    return JSONResponse({"plan": result.to_dict()})


@router.post(
    "/movement",
    openapi_extra=SETTINGS_BODY,
    responses=responses(400, 401, 413, 415, 422),
    summary="Camera movement in words",
)
async def movement(data: dict = Depends(settings_body), service: JobService = Depends(service_of)) -> Any:
    segments = await run_in_threadpool(service.movement, data)
    return JSONResponse({"segments": [segment.to_dict() for segment in segments]})


@router.post(
    "/compare",
    openapi_extra=SETTINGS_BODY,
    responses=responses(400, 401, 413, 415, 422),
    summary="Which clips a re-render (from_run) reuses and which it renders (no GPU)",
)
async def compare(data: dict = Depends(settings_body), service: JobService = Depends(service_of)) -> Any:
    plan, clips = await run_in_threadpool(service.compare, data)
    rows = [row.to_dict() for row in clips]
    return JSONResponse(
        {
            "plan": plan.to_dict(),
            "clips": rows,
            "reused": sum(row["reused"] for row in rows),
            "rendered": sum(not row["reused"] for row in rows),
        }
    )


def enhance_request(data: Any) -> tuple[list[str], list[dict[str, str]], dict[str, Any]]:
    """(prompts, contexts, settings) of an /enhance body, every field checked."""
    if not isinstance(data, dict):
        raise invalid("body", None, "must be a JSON object with prompts, contexts and settings")
    unknown = sorted(set(data) - {"prompts", "contexts", "settings"})
    if unknown:
        raise invalid(unknown[0], None, "unknown field; the body has prompts, contexts and settings")
    prompts = data.get("prompts")
    if (
        not isinstance(prompts, list)
        or len(prompts) > MAX_PROMPTS
        or not all(isinstance(p, str) and len(p) <= MAX_PROMPT_CHARACTERS for p in prompts)
    ):
        allowed = f"a list of at most {MAX_PROMPTS} texts of at most {MAX_PROMPT_CHARACTERS} characters"
        raise invalid("prompts", None, allowed)
    contexts = data.get("contexts") or [{}] * len(prompts)
    if (
        not isinstance(contexts, list)
        or len(contexts) != len(prompts)
        or not all(
            isinstance(c, dict)
            and set(c) <= {"movement", "style"}
            and all(isinstance(v, str) and len(v) <= MAX_PROMPT_CHARACTERS for v in c.values())
            for c in contexts
        )
    ):
        raise invalid("contexts", None, "one {movement, style} object of texts per prompt")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise invalid("settings", None, "an object of enhance_* (and style_strength) settings")
    return prompts, contexts, settings


@router.post(
    "/enhance",
    openapi_extra=body(ENHANCE_REQUEST),
    responses=responses(400, 401, 403, 409, 413, 415, 422),
    summary="Enhance prompts with Qwen or a chat server",
    dependencies=[Depends(allowed_to_generate)],
)
async def enhance(
    request: Request, data: Any = Depends(json_body), service: JobService = Depends(service_of)
) -> Any:
    prompts, contexts, settings = enhance_request(data)
    future = await run_in_threadpool(
        service.enhance, prompts, contexts, settings, api_key=caller_key(request)
    )
    results = await asyncio.wrap_future(future)
    return JSONResponse({"results": results})


# -- jobs ------------------------------------------------------------------------------------------
@router.post(
    "/jobs",
    openapi_extra=body(
        {"oneOf": [settings_schema(), {"type": "array", "items": settings_schema(), "maxItems": 100}]}
    ),
    responses=responses(400, 401, 403, 413, 415, 422, 503),
    status_code=202,
    summary="Queue one generation, or a batch",
    dependencies=[Depends(allowed_to_generate)],
)
async def submit(
    request: Request, data: Any = Depends(json_body), service: JobService = Depends(service_of)
) -> Any:
    if not isinstance(data, (dict, list)):
        raise invalid("body", None, "must be a settings object or a list of them")
    batch_id, ids = await run_in_threadpool(service.submit, data, api_key=caller_key(request))
    return JSONResponse({"batch_id": batch_id, "job_ids": ids}, status_code=202)


@router.get("/jobs", responses=responses(401, 422), summary="List jobs, newest first")
async def list_jobs(request: Request, service: JobService = Depends(service_of)) -> Any:
    state = request.query_params.get("state")
    if state is not None and state not in STATES:
        raise invalid("state", state, f"one of {', '.join(STATES)}")
    batch = request.query_params.get("batch_id")
    if batch is not None and not valid_job_id(batch):
        raise invalid("batch_id", batch, "32 lowercase hex digits")
    limit = query_int(request, "limit", 100, 1, MAX_LIST)
    jobs = await run_in_threadpool(service.list, state=state, batch_id=batch, limit=limit)
    counts = await run_in_threadpool(service.counts)
    return JSONResponse({"jobs": [job.to_dict() for job in jobs], "counts": counts})


@router.get("/jobs/{job_id}", responses=responses(401, 404), summary="One job: state, progress, result")
async def get_job(job_id: str, service: JobService = Depends(service_of)) -> Any:
    job = await run_in_threadpool(service.get, job_id_of(job_id))
    return JSONResponse(job.to_dict(settings=True))


@router.patch(
    "/jobs/{job_id}",
    openapi_extra=SETTINGS_BODY,
    responses=responses(400, 401, 403, 404, 409, 413, 415, 422),
    summary="Change a queued or running job's settings (the clips not yet started)",
    dependencies=[Depends(allowed_to_generate)],
)
async def patch_job(
    job_id: str, data: dict = Depends(settings_body), service: JobService = Depends(service_of)
) -> Any:
    job = await run_in_threadpool(service.patch, job_id_of(job_id), data)
    return JSONResponse(job.to_dict(settings=True))


def _action(name: str, *, generates: bool = False) -> None:
    async def act(job_id: str, service: JobService = Depends(service_of)) -> Any:
        job = await run_in_threadpool(getattr(service, name), job_id_of(job_id))
        return JSONResponse(job.to_dict())

    router.add_api_route(
        f"/jobs/{{job_id}}/{name}",
        act,
        methods=["POST"],
        responses=responses(401, 403, 404, 409),
        summary=f"{name.capitalize()} a job",
        name=f"{name}_job",
        dependencies=[Depends(allowed_to_generate)] if generates else None,
    )


_action("pause")
_action("resume", generates=True)
_action("cancel")


@router.delete("/jobs/{job_id}", responses=responses(401, 404, 409), summary="Forget a job (files stay)")
async def delete_job(job_id: str, service: JobService = Depends(service_of)) -> Any:
    await run_in_threadpool(service.delete, job_id_of(job_id))
    return JSONResponse({"deleted": job_id})


@router.get(
    "/jobs/{job_id}/preview",
    responses={200: {"content": {"image/png": {}}}, **responses(401, 404)},
    response_class=Response,
    summary="Latest preview (PNG)",
)
async def preview(job_id: str, service: JobService = Depends(service_of)) -> Any:
    path = await run_in_threadpool(service.preview, job_id_of(job_id))
    if path is None:
        raise ApiError(404, "no preview yet")
    return FileResponse(path, media_type="image/png")


@router.get(
    "/jobs/{job_id}/video",
    responses={200: {"content": {"video/mp4": {}}}, **responses(401, 404)},
    response_class=Response,
    summary="The finished video (MP4)",
)
async def video(job_id: str, service: JobService = Depends(service_of)) -> Any:
    path = await run_in_threadpool(service.video, job_id_of(job_id))
    if path is None:
        raise ApiError(404, "no video yet")
    return FileResponse(path, media_type="video/mp4")


# -- the server --------------------------------------------------------------------------------------
@router.get("/models", responses=responses(401), summary="Known models and which are here")
async def models(service: JobService = Depends(service_of)) -> Any:
    return JSONResponse(await run_in_threadpool(service.api.list_models))


@router.get("/system", responses=responses(401), summary="GPUs, versions, suggested preset, workers")
async def system(service: JobService = Depends(service_of)) -> Any:
    return JSONResponse(await run_in_threadpool(service.system_info))


@router.get("/version", responses=responses(401), summary="Version of Wan Video and of this API")
async def version() -> Any:
    return JSONResponse({"version": __version__, "api": "v1"})


def install(app: Any, service: JobService, access: ApiAccess | None = None) -> None:
    """Serve the API on `app` with `service`, under `access` (default: open)."""
    app.state.wan_service = service
    app.state.wan_access = access or ApiAccess.open()
    app.include_router(router)
