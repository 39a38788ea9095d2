"""The standalone server: the REST API (wan.service.router) and, when gradio is installed, the
Wan Video UI (wan.ui) at /, on one port. `python -m wan serve` runs it with uvicorn.

It binds 127.0.0.1 unless told otherwise and says so at start: generation jobs read and write
files on this machine, so it should not listen on a network without --api-auth. With
--api-auth the API, the UI and the API's documentation (/docs, /redoc, /openapi.json) all ask
for the credentials. Jobs are rendered by worker processes (wan.service.workers) with this
interpreter, or with `--runtime-dir`'s.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .service import ChatServers, JobService, WanAPI
from .service.auth import LOOPBACK, ApiAccess, check_basic, parse_credentials
from .service.gpus import choose_gpus


def create_app(service: JobService, *, access: ApiAccess | None = None, ui: bool = True) -> Any:
    """A FastAPI app serving the API of `service` under /wan/v1, its documentation at /docs and,
    with `ui` and gradio installed, the UI at / (all behind the same credentials)."""
    from fastapi import FastAPI

    from . import __version__
    from .service.router import install

    access = access or ApiAccess.open()
    app = FastAPI(
        title="Wan Video for WebUI", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    install(app, service, access)
    _documentation(app, access)
    if ui and gradio_available():
        try:
            app = mount_ui(app, service, access=access)
        except Exception as exc:  # an incompatible gradio must not take the API down with it
            print(f"warning: the UI could not be loaded ({exc}); serving the REST API only", file=sys.stderr)
    return app


def _documentation(app: Any, access: ApiAccess) -> None:
    """/openapi.json, /docs and /redoc, behind the API's credentials."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import JSONResponse

    def guard(request: Any) -> JSONResponse | None:
        if check_basic(request.headers.get("authorization"), access.credentials):
            return None
        return JSONResponse(
            {"detail": "missing or wrong credentials"},
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="wan"'},
        )

    async def openapi(request: Any) -> Any:
        return guard(request) or JSONResponse(app.openapi())

    async def docs(request: Any) -> Any:
        return guard(request) or get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

    async def redoc(request: Any) -> Any:
        return guard(request) or get_redoc_html(openapi_url="/openapi.json", title=app.title)

    # plain Starlette routes: the handlers take the request itself, no parameters to resolve
    for path, handler in (("/openapi.json", openapi), ("/docs", docs), ("/redoc", redoc)):
        app.add_route(path, handler, methods=["GET"], include_in_schema=False)


def gradio_available() -> bool:
    """Whether gradio can be imported."""
    import importlib.util

    return importlib.util.find_spec("gradio") is not None


def mount_ui(app: Any, service: JobService, *, access: ApiAccess | None = None) -> Any:
    """The app with the UI mounted at / (the API routes, added first, keep precedence)."""
    import gradio as gr

    from .ui import build_ui
    from .ui.blocks import CSS_FILE, JS_FILE
    from .ui.compat import make, mounted, takes_css_in_blocks, upload_folders

    service.access = service.default_access(*upload_folders())
    demo = build_ui(service)
    demo.queue()
    mounted(demo)
    options: dict[str, Any] = {"app": app, "blocks": demo, "path": ""}
    if access is not None and access.credentials:
        options["auth"] = list(access.credentials.items())
    if not takes_css_in_blocks() and CSS_FILE.is_file():
        options["css"] = CSS_FILE.read_text(encoding="utf-8")
    if JS_FILE.is_file():  # the WebUI loads javascript/ itself; standalone, the page gets it here
        options["head"] = f"<script>{JS_FILE.read_text(encoding='utf-8')}</script>"
    return make(gr.mount_gradio_app, **options)  # its arguments grow between versions


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 7861,
    api_auth: str | None = None,
    output_dir: str | Path | None = None,
    models_dir: str | Path | None = None,
    allow_download: bool = False,
    device: str | None = None,
    chat_servers: tuple[str, ...] = (),
    runtime_dir: str | Path | None = None,
    gpus: str | None = None,
    workers: int = 1,
    ray: str | None = None,
    ray_workers: int | None = None,
    ray_shared_output: bool = False,
    ray_group_size: int = 1,
    keep_model: float = 600.0,
) -> None:
    """Run the server until interrupted (see the module doc); `gpus` (all, a count, indices):
    one worker per GPU; `workers`: that many workers on the default device; `ray` (auto, local,
    an address): the workers are Ray actors instead (wan.cluster), each worker a context-parallel
    group of `ray_group_size` actors on one node, which keep their model loaded; `keep_model`:
    seconds a worker process keeps its last job's model loaded without a job."""
    import uvicorn

    from .runtime import RuntimeEnv

    access = ApiAccess(parse_credentials(api_auth))
    api = WanAPI(output_dir=output_dir, models_dir=models_dir, allow_download=allow_download, device=device)
    runtime = RuntimeEnv(runtime_dir) if runtime_dir else RuntimeEnv.current()
    pool = _ray_workers(api, ray, gpus, ray_workers, ray_shared_output, ray_group_size) if ray else None
    chosen, seen = ([], None) if pool is not None else choose_gpus(gpus, runtime)
    service = JobService(
        api,
        runtime=runtime,
        chat_servers=ChatServers.from_environment(*chat_servers),
        gpus=chosen,
        worker_count=workers,
        keep_model=keep_model,
        workers=pool,
    )
    service.probed_gpus = seen
    try:
        _announce(service, host, port, access)
        uvicorn.run(create_app(service, access=access), host=host, port=port, log_level="warning")
    finally:
        service.close()  # a running job becomes interrupted, resumable at the next start


def _ray_workers(
    api: WanAPI, address: str, gpus: str | None, workers: int | None, shared_output: bool, group_size: int
) -> Any:
    """The Ray actors that render this server's jobs (wan.cluster)."""
    from .cluster import start_ray_workers
    from .service import JobStore

    options = {
        "output_dir": str(api.output_dir),
        "models_dir": str(api.models_dir) if api.models_dir else None,
        "allow_download": api.allow_download,
        "device": api.device,
        "keep_models": True,  # an actor's GPU is its own: the next job of its model starts at once
    }
    return start_ray_workers(
        JobStore(api.output_dir / "jobs"),
        address,
        api_options=options,
        gpus=gpus,
        workers=workers,
        shared_output=api.output_dir if shared_output else None,
        group_size=group_size,
    )


def _announce(service: JobService, host: str, port: int, access: ApiAccess) -> None:
    if service.store.damaged is not None:
        print(
            f"WARNING: the job database could not be read ({service.store.damage_reason}); it was kept as "
            f"{service.store.damaged} and this server starts with an empty queue",
            file=sys.stderr,
        )
    if service.recovered:
        print(
            f"{len(service.recovered)} job(s) were interrupted by the last stop; "
            "resume them with POST /wan/v1/jobs/ID/resume"
        )
    if not gradio_available():
        print("gradio is not installed: serving the REST API only (pip install -e '.[ui]' for the UI)")
    local = host in LOOPBACK
    where = "only this machine" if local else "ALL machines that can reach it"
    print(f"Wan Video on http://{host}:{port}/ (API: /wan/v1, docs: /docs), reachable from {where}.")
    if not local and not access.credentials:
        print(
            "warning: listening beyond this machine without --api-auth: anyone who can reach it can use "
            "the GPU"
        )
    problem = service.problem()
    if problem:
        print(f"warning: jobs cannot run yet: {problem}", file=sys.stderr)
    print(f"jobs and videos: {service.store.folder}", flush=True)
