"""One render across several devices: the process group (group.py), context parallelism through
diffusers (context.py, with the plans diffusers lacks in plans.py) and CFG parallel (guidance.py)."""

from .context import ParallelUnavailable, check_parallel_speed, context_split
from .group import (
    ENVIRONMENT,
    ParallelGroup,
    current_group,
    free_port,
    join_group,
    leave_group,
    rank_environment,
)
from .plans import cp_plan_of, vace_cp_plan

__all__ = [
    "ENVIRONMENT",
    "ParallelGroup",
    "ParallelUnavailable",
    "check_parallel_speed",
    "context_split",
    "cp_plan_of",
    "current_group",
    "free_port",
    "join_group",
    "leave_group",
    "rank_environment",
    "vace_cp_plan",
]
