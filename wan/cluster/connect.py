"""Joining the Ray cluster a `--ray` value names (auto, local, HOST:PORT), with one-line errors."""

from __future__ import annotations

import re
import socket
from typing import Any

from ..errors import WanError

INSTALL = "pip install -e '.[cluster]'"
ALLOWED = "auto (the running cluster), local (a cluster started here) or HOST:PORT / ray://HOST:PORT"
CONNECT_SECONDS = 10.0


class RayClusterError(WanError, RuntimeError):
    """--ray cannot be used: Ray is missing, the value is malformed, or the cluster cannot be reached."""


def parse_ray_address(value: str) -> str | None:
    """The address ray.init gets for a --ray value (None: start a local cluster)."""
    text = str(value).strip()
    if text == "local":
        return None
    if text == "auto" or re.fullmatch(r"(ray://)?[A-Za-z0-9.\-]{1,253}:[0-9]{1,5}", text):
        return text
    raise RayClusterError(f"--ray: {str(value)[:60]!r} is not {ALLOWED}")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayClusterError(f"--ray: Ray is not installed; {INSTALL}") from None
    return ray


def connect(value: str, **local: Any) -> Any:
    """Join the cluster a --ray value names (ray.init); `local`: ray.init options of a local one."""
    address = parse_ray_address(value)
    ray = _ray()
    if ray.is_initialized():
        return ray
    if address not in (None, "auto"):
        _reachable(value, address)
    try:
        if address is None:
            ray.init(**({"include_dashboard": True} | local))
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayClusterError(
            f"--ray {value}: no Ray cluster could be joined ({first}); start one with `ray start --head` "
            f"or use --ray local; allowed: {ALLOWED}"
        ) from None
    return ray


def _reachable(value: str, address: str, timeout: float = CONNECT_SECONDS) -> None:
    """Fail at once, in one line, when nothing listens at HOST:PORT (ray.init would retry for
    minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise RayClusterError(
            f"--ray {value}: no Ray cluster could be joined (nothing answers at {host}:{port}: {exc}); "
            f"start one with `ray start --head` or use --ray local; allowed: {ALLOWED}"
        ) from None
