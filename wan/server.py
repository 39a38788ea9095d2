"""The standalone server: the REST API (wan.service.router) and, when gradio is installed, the
Wan Video UI (wan.ui) at /, on one port. `python -m wan serve` runs it with uvicorn.

It binds 127.0.0.1 unless told otherwise and says so at start: generation jobs read and write
files on this machine, so it should not listen on a network without --api-auth.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .service import JobService, WanAPI
from .service.auth import parse_credentials


def create_app(service: JobService, *, credentials: dict[str, str] | None = None, ui: bool = True) -> Any:
    """A FastAPI app serving the API of `service` under /wan/v1 (docs at /docs) and, with `ui`
    and gradio installed, the UI at / (behind the same credentials)."""
    from fastapi import FastAPI

    from . import __version__
    from .service.router import create_router

    app = FastAPI(title="Wan Video for WebUI", version=__version__)
    app.include_router(create_router(service, credentials=credentials))
    if ui and gradio_available():
        try:
            app = mount_ui(app, service, credentials=credentials)
        except Exception as exc:  # an incompatible gradio must not take the API down with it
            print(f"warning: the UI could not be loaded ({exc}); serving the REST API only", file=sys.stderr)
    return app


def gradio_available() -> bool:
    """Whether gradio can be imported."""
    import importlib.util

    return importlib.util.find_spec("gradio") is not None


def mount_ui(app: Any, service: JobService, *, credentials: dict[str, str] | None = None) -> Any:
    """The app with the UI mounted at / (the API routes, added first, keep precedence)."""
    import gradio as gr

    from .ui import build_ui
    from .ui.blocks import CSS_FILE, JS_FILE
    from .ui.compat import make, takes_css_in_blocks

    demo = build_ui(service)
    demo.queue()
    options: dict[str, Any] = {"app": app, "blocks": demo, "path": ""}
    if credentials:
        options["auth"] = list(credentials.items())
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
) -> None:
    """Run the server until interrupted."""
    import uvicorn

    credentials = parse_credentials(api_auth)
    api = WanAPI(output_dir=output_dir, models_dir=models_dir, allow_download=allow_download, device=device)
    service = JobService(api)
    if service.recovered:
        print(
            f"{len(service.recovered)} job(s) were interrupted by the last stop; "
            "resume them with POST /wan/v1/jobs/ID/resume"
        )
    if not gradio_available():
        print("gradio is not installed: serving the REST API only (pip install -e '.[ui]' for the UI)")
    where = (
        "only this machine" if host in ("127.0.0.1", "localhost", "::1") else "ALL machines that can reach it"
    )
    print(f"Wan Video on http://{host}:{port}/ (API: /wan/v1, docs: /docs), reachable from {where}.")
    if host not in ("127.0.0.1", "localhost", "::1") and not credentials:
        print(
            "warning: listening beyond this machine without --api-auth: "
            "anyone who can reach it can use the GPU"
        )
    print(f"jobs and videos: {service.store.folder}", flush=True)
    try:
        uvicorn.run(create_app(service, credentials=credentials), host=host, port=port, log_level="warning")
    finally:
        service.close()  # a running job becomes interrupted, resumable at the next start
