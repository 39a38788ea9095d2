"""`python tests/standin_server.py FOLDER PORT`: the standalone app of wan/server.py (API only) on
127.0.0.1:PORT over a JobService in FOLDER whose jobs finish at once without a model.

For tests whose input may wedge a server (hostile bodies): the server runs in a process of its
own, which the test can kill and start again, so a wedged one never takes the test run with it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def instant(job: Any, control: Any, report: Any) -> dict[str, Any]:
    """A job that is done at once (no model runs)."""
    return {}


def main(folder: Path, port: int) -> None:
    """Serve until interrupted."""
    import uvicorn

    from wan.server import create_app
    from wan.service import JobService, WanAPI

    service = JobService(WanAPI(output_dir=folder / "out", models_dir=folder / "models"), generate=instant)
    try:
        uvicorn.run(create_app(service, ui=False), host="127.0.0.1", port=port, log_level="warning")
    finally:
        service.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
