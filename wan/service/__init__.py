"""The service layer: WanAPI (the Python API), the persistent job queue with its dispatcher and
workers (threads, or processes of the runtime environment), and the REST router. Importing it
needs neither torch nor fastapi; the router imports fastapi."""

from ..render.result import VideoResult
from .api import WanAPI
from .chat_servers import ChatServers
from .job_service import Busy, GenerationUnavailable, JobService
from .jobs import FINISHED, SETTLED, STATES, IllegalTransition, Job, JobNotFound, JobStore, QueueUnavailable
from .queue_lock import QueueBusy

__all__ = [
    "FINISHED",
    "SETTLED",
    "STATES",
    "Busy",
    "ChatServers",
    "GenerationUnavailable",
    "IllegalTransition",
    "Job",
    "JobNotFound",
    "JobService",
    "JobStore",
    "QueueBusy",
    "QueueUnavailable",
    "VideoResult",
    "WanAPI",
]
