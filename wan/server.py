"""The standalone server: the REST API (wan.service.router) and, once the UI exists and gradio
is installed, the UI, on one port. `python -m wan serve` runs it with uvicorn.

It binds 127.0.0.1 unless told otherwise and says so at start: generation jobs read and write
files on this machine, so it should not listen on a network without --api-auth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .service import JobService, WanAPI
from .service.auth import parse_credentials


def create_app(service: JobService, *, credentials: dict[str, str] | None = None) -> Any:
    """A FastAPI app serving the API of `service` under /wan/v1 (docs at /docs)."""
    from fastapi import FastAPI

    from . import __version__
    from .service.router import create_router

    app = FastAPI(title="Wan Video for WebUI", version=__version__)
    app.include_router(create_router(service, credentials=credentials))
    return app


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
    where = (
        "only this machine" if host in ("127.0.0.1", "localhost", "::1") else "ALL machines that can reach it"
    )
    print(f"Wan Video API on http://{host}:{port}/wan/v1 (docs: /docs), reachable from {where}.")
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
