"""CFG parallel: the conditional and unconditional transformer passes of a step on two processes.

It rides on the guidance-batching hook (wan.models.guidance): where that hook would run one batch
of 2, this runs the process's own half (the conditional pass on CFG rank 0, the unconditional on
CFG rank 1, with every other input the same) and gathers both halves, so every process returns
the conditional prediction to the pipeline and answers its unconditional call from the kept
half, exactly as the batched path does. The numbers are those of two batch-1 calls.
"""

from __future__ import annotations

from typing import Any


class CfgSplit:
    """The pair runner the guidance hook calls: (output, conditional, unconditional samples)."""

    def __init__(self, group: Any, index: int) -> None:
        self.group = group
        self.index = index  # 0: conditional pass, 1: unconditional pass

    def __call__(self, forward: Any, kwargs: dict[str, Any], negative: Any) -> tuple[Any, Any, Any]:
        import torch
        import torch.distributed as dist

        mine = dict(kwargs)
        if self.index == 1:
            mine["encoder_hidden_states"] = negative
        output = forward(**mine)
        sample = (output[0] if isinstance(output, tuple) else output.sample).contiguous()
        halves = [torch.empty_like(sample) for _ in range(2)]
        dist.all_gather(halves, sample, group=self.group)
        return output, halves[0], halves[1]
