"""The process group of one render across several devices, as torchrun sets it up: every
process knows MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE and LOCAL_RANK, and joins one
torch.distributed group (NCCL on GPUs, gloo on the CPU).

How the processes share the work of each transformer call (decided once per loaded model, the
same way on every rank, so every rank builds the same mesh):

- guidance on and an even process count: the conditional and unconditional passes run on the two
  halves of the group (CFG parallel), and each half splits its sequence over the rest;
- otherwise every process splits the sequence (context parallelism, wan.parallel.context).

Every rank runs the whole pipeline with the same plan and seeds, so all hold the same latents
after each step; only rank 0 writes the run folder (the others render into a scratch copy).
What a rank decides by itself and could decide differently (new settings between clips, the
quality gate's verdict, pause and cancel) is decided on rank 0 and broadcast (`from_rank_zero`),
so no rank leaves a collective the others wait in.
"""

from __future__ import annotations

import os
import pickle
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .context import context_split, enable_context_parallel
from .guidance import CfgSplit

ENVIRONMENT = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")
_CURRENT: ParallelGroup | None = None
T = TypeVar("T")


@dataclass
class ParallelGroup:
    """This process's place in the render's process group."""

    rank: int
    world_size: int
    local_rank: int
    device_type: str  # "cuda" or "cpu"
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def device(self) -> str:
        """The torch device of this rank."""
        return f"cuda:{self.local_rank}" if self.device_type == "cuda" else "cpu"

    @property
    def writes(self) -> bool:
        """Whether this rank writes the run folder and reports progress (rank 0)."""
        return self.rank == 0

    def layout(self, guidance: bool) -> tuple[int, int]:
        """(CFG groups, processes splitting each sequence) for a render with or without guidance."""
        cfg = 2 if guidance and self.world_size % 2 == 0 else 1
        return cfg, self.world_size // cfg

    def prepare(self, pipe: Any, *, tokens: int, guidance: bool, batcher: Any) -> Any:
        """Split the pipeline's transformer(s) over the group; returns the guidance batcher the
        render arms per clip (CFG parallel when the layout has two CFG groups, else `batcher`)."""
        from torch.distributed.device_mesh import init_device_mesh

        from ..models.guidance import GuidanceBatcher

        cfg, degree = self.layout(guidance)
        transformers = [t for t in (pipe.transformer, getattr(pipe, "transformer_2", None)) if t is not None]
        heads = transformers[0].config.num_attention_heads
        split = context_split(heads, tokens, degree, ring_available=self.device_type == "cuda")
        shape = (cfg, split.get("ring_degree", 1), split.get("ulysses_degree", 1))
        mesh = init_device_mesh(self.device_type, shape, mesh_dim_names=("cfg", "ring", "ulysses"))
        if split:
            for transformer in transformers:
                enable_context_parallel(transformer, split, mesh["ring", "ulysses"])
        self.decisions.append({"cfg_parallel": cfg, "context_parallel": degree, **split, "tokens": tokens})
        if cfg == 2:
            return GuidanceBatcher(pipe, pair=CfgSplit(mesh["cfg"].get_group(), mesh["cfg"].get_local_rank()))
        return batcher

    def to_dict(self) -> dict[str, Any]:
        """What metrics.json records of the group."""
        return {"processes": self.world_size, "device": self.device_type, "models": self.decisions}

    def from_rank_zero(self, make: Callable[[], T]) -> T:
        """What `make()` gives on rank 0, on every rank (only rank 0 calls it; an error it raises is
        raised on every rank). Every rank must call this at the same point of the render."""
        if self.world_size < 2:
            return make()
        import torch.distributed as dist

        box: list[Any] = [None]
        if self.rank == 0:
            try:
                answer: tuple[bool, Any] = (True, make())
            except Exception as exc:
                answer = (False, exc)
            box = [_sendable(answer)]  # rank 0 keeps its own error (its traceback) when it can be sent
        dist.broadcast_object_list(box, src=0)
        made, value = answer if self.rank == 0 and box[0] is answer else box[0]
        if not made:
            raise value
        return value

    def barrier(self) -> None:
        """Wait until every rank is here."""
        import torch.distributed as dist

        if self.world_size > 1:
            dist.barrier(device_ids=[self.local_rank] if self.device_type == "cuda" else None)


def _sendable(answer: tuple[bool, Any]) -> tuple[bool, Any]:
    """Rank 0's answer as the others can receive it: one that cannot be pickled (an error with
    unpicklable parts) becomes an error that can, so no rank waits for a broadcast never sent."""
    try:
        pickle.loads(pickle.dumps(answer))
    except Exception as exc:
        return False, RuntimeError(f"rank 0's answer could not be sent: {type(exc).__name__}: {exc}")
    return answer


def current_group() -> ParallelGroup | None:
    """The group this process renders in, or None (a render on one device)."""
    return _CURRENT


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port of `host` (an address of this machine) that was free a moment ago (for a group's
    rendezvous)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def rank_environment(rank: int, world_size: int, address: str, port: int, local_rank: int) -> dict[str, str]:
    """The torchrun-style environment of one rank: the group meets at `address`:`port` (rank 0's
    machine); `local_rank` is the index of the rank's GPU among the GPUs its process sees."""
    values = (address, port, rank, world_size, local_rank)
    return dict(zip(ENVIRONMENT, map(str, values), strict=True))


def join_group(device_type: str, environment: dict[str, str] | None = None) -> ParallelGroup:
    """Join the process group the torchrun-style environment describes (NCCL for cuda, gloo for
    cpu) and make it the current group. A given `environment` becomes this process's (torch's
    rendezvous reads MASTER_ADDR and MASTER_PORT there); the cuda device is LOCAL_RANK among the
    GPUs the process sees."""
    import torch
    import torch.distributed as dist

    global _CURRENT
    if environment is not None:
        os.environ.update({key: environment[key] for key in ENVIRONMENT if key in environment})
    env = environment if environment is not None else os.environ
    rank, world, local = int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", env["RANK"]))
    if device_type == "cuda":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo", rank=rank, world_size=world)
    _CURRENT = ParallelGroup(rank, world, local, device_type)
    return _CURRENT


def leave_group() -> None:
    """Leave the process group (after the render)."""
    import torch.distributed as dist

    global _CURRENT
    if dist.is_initialized():
        dist.destroy_process_group()
    _CURRENT = None
