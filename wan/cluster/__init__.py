"""Workers on a Ray cluster: the server's queue and REST API stay on the head, jobs render in Ray
actors (one GPU each) anywhere in the cluster (`python -m wan serve --ray auto|local|ADDRESS`), or
in context-parallel groups of actors on one node each (`--group-size N`)."""

from .connect import RayClusterError, parse_ray_address
from .ray_workers import RayWorkers, start_ray_workers

__all__ = ["RayClusterError", "RayWorkers", "parse_ray_address", "start_ray_workers"]
