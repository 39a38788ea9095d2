"""How many Ray actors and groups the server starts, from --gpus, --workers, --group-size and the
cluster's resources (a group of actors stays on one node), with one-line errors naming the option."""

from __future__ import annotations

import re
from typing import Any

from ..service.gpus import GpuRequest, GpuSelectionError, parse_gpus
from .connect import RayClusterError

MAX_GROUP_SIZE = 64


def cluster_gpus(ray: Any) -> int:
    """How many GPUs the cluster has (all nodes)."""
    return int(ray.cluster_resources().get("GPU", 0))


def ray_gpu_request(gpus: str) -> GpuRequest:
    """A --gpus value for Ray actors: all or a count (Ray picks each node's GPUs), not indices."""
    request = parse_gpus(gpus)
    if request.indices:
        raise GpuSelectionError(
            f"--gpus {gpus}: with --ray give all or a number of GPUs; Ray picks the GPUs on each node"
        )
    return request


def group_bundle(gpus: bool) -> dict[str, float]:
    """What one rank of a group reserves: a GPU and the CPU Ray gives an actor that names a
    resource (ray.actor: one CPU for its lifetime), or a CPU."""
    return {"GPU": 1, "CPU": 1} if gpus else {"CPU": 1}


def groups_that_fit(ray: Any, size: int, gpus: bool) -> int:
    """How many groups of `size` ranks the cluster's nodes hold, each group on one node."""
    need = group_bundle(gpus)
    fits = 0
    for node in ray.nodes():
        if node.get("Alive", True):
            have = node.get("Resources", {})
            fits += min(int(have.get(key, 0) // (amount * size)) for key, amount in need.items())
    return fits


def check_group_size(value: object) -> int:
    """A --group-size value as a number of actors (RayClusterError names the option otherwise)."""
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_GROUP_SIZE:
        raise RayClusterError(
            f"--group-size must be a whole number from 1 to {MAX_GROUP_SIZE} actors per group, "
            f"not {str(value)[:40]!r}"
        )
    return int(text)


def check_group_gpus(gpus: str, size: int) -> None:
    """A --gpus count must divide into groups of `size` (RayClusterError naming both options)."""
    request = ray_gpu_request(gpus)
    if request.count is not None and request.count % size:
        raise RayClusterError(
            f"--group-size {size}: --gpus {gpus} does not divide into groups of {size} GPUs; give --gpus "
            f"a multiple of {size}"
        )


def group_count(ray: Any, gpus: str | None, workers: int | None, size: int) -> tuple[int, bool]:
    """(how many workers, whether each actor takes a GPU): with `size` > 1 each worker is a group
    of `size` actors: --gpus all or N divided by `size`, --workers M groups; every group must fit
    on one node."""
    count, with_gpu = actor_count(ray, gpus, workers)
    if size == 1:
        return count, with_gpu
    if with_gpu and workers is None:
        if count % size:
            asked = f"--gpus {gpus}" if gpus is not None else "--gpus all (the default)"
            raise RayClusterError(
                f"--group-size {size}: {asked} gives {count} GPU(s), which do not divide into groups of "
                f"{size}; give --gpus a multiple of {size}"
            )
        count //= size
    fits = groups_that_fit(ray, size, with_gpu)
    if count > fits:
        kind = "GPUs" if with_gpu else "CPUs"
        raise RayClusterError(
            f"--group-size {size}: the Ray cluster's nodes hold {fits} group(s) of {size} {kind} on one node "
            f"(a group stays on one node), not {count}; use fewer or smaller groups (--gpus, --workers)"
        )
    return count, with_gpu


def actor_count(ray: Any, gpus: str | None, workers: int | None) -> tuple[int, bool]:
    """(how many actors, whether each takes a GPU) from --gpus / --workers and the cluster."""
    present = cluster_gpus(ray)
    if gpus is not None:
        request = ray_gpu_request(gpus)
        if not present:
            raise GpuSelectionError(
                f"--gpus {gpus}: the Ray cluster has no GPU; use --workers N for CPU actors"
            )
        count = present if request.every else request.count or 0
        if count > present:
            raise GpuSelectionError(
                f"--gpus {gpus}: the Ray cluster has {present} GPU(s); ask for at most {present}"
            )
        return count, True
    if workers is not None:
        return workers, bool(present)
    return (present, True) if present else (1, False)
