"""Context-parallel plans diffusers lacks: where a transformer's sequence is split across the
processes of a group and where it is gathered again.

diffusers 0.42 ships a `_cp_plan` for WanTransformer3DModel and none for
WanVACETransformer3DModel (its `_cp_plan` is None), so VACE could not run split. The VACE model
runs its control branch (vace_blocks) on the same token grid as the main blocks and adds each
block's hint to the main stream, so both streams are split the same way, at their first block:

- `rope`: its two outputs (cos and sin per token) split along the sequence, as for Wan;
- `vace_blocks.0`: `hidden_states` (read by the first VACE block only, through its input
  projection) and `control_hidden_states` split along the sequence; later VACE blocks get the
  split control stream from the block before;
- `blocks.0`: `hidden_states` split; the hints the VACE blocks made are already split, and are
  added token for token;
- `proj_out`: its output gathered along the sequence.

The text embeddings are never split (every token attends to all of them). The timestep stays
whole: VACE has one timestep per sample, not per token.
"""

from __future__ import annotations

from typing import Any


def vace_cp_plan() -> dict[str, Any]:
    """The context-parallel plan of WanVACETransformer3DModel (see the module doc)."""
    from diffusers.models._modeling_parallel import ContextParallelInput, ContextParallelOutput

    def split(dims: int, *, output: bool = False) -> Any:
        return ContextParallelInput(split_dim=1, expected_dims=dims, split_output=output)

    return {
        "rope": {0: split(4, output=True), 1: split(4, output=True)},
        "vace_blocks.0": {"hidden_states": split(3), "control_hidden_states": split(3)},
        "blocks.0": {"hidden_states": split(3)},
        "proj_out": ContextParallelOutput(gather_dim=1, expected_dims=3),
    }


def cp_plan_of(transformer: Any) -> dict[str, Any]:
    """The plan for a transformer: its own (diffusers'), or ours for the VACE model."""
    if getattr(transformer, "_cp_plan", None) is not None:
        return transformer._cp_plan
    if type(transformer).__name__ == "WanVACETransformer3DModel":
        return vace_cp_plan()
    raise ValueError(f"{type(transformer).__name__} has no context-parallel plan")
