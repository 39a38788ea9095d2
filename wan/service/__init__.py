"""The service layer: WanAPI (the Python API), the persistent job queue and its GPU worker, and
the REST router. Importing it needs neither torch nor fastapi; the router imports fastapi."""

from .api import VideoResult, WanAPI
from .jobs import STATES, IllegalTransition, Job, JobNotFound, JobStore
from .service import JobService

__all__ = [
    "STATES",
    "IllegalTransition",
    "Job",
    "JobNotFound",
    "JobService",
    "JobStore",
    "VideoResult",
    "WanAPI",
]
