"""A scheduler that runs a fixed list of timesteps, for the step-distilled LoRAs.

diffusers' Wan pipelines call `scheduler.set_timesteps(num_inference_steps, device=...)` and take
no `timesteps` or `sigmas`, so a distilled model's published step list needs a scheduler that
knows it. FixedStepScheduler is diffusers' FlowMatchEulerDiscreteScheduler given that list: each
timestep t (of 1000) is the unshifted sigma t / 1000, shifted with the flow shift as usual
(lightx2v's WanStepDistillScheduler takes sigma_t = linspace(1, 0, 1001)[1000 - t], the same
value). With `stochastic_sampling` (the default, as lightx2v samples its Wan 2.1 distilled
models) each step predicts the clean latents and noises them afresh to the next sigma; the fresh
noise comes from the scheduler's own generator, seeded per clip (`seed_noise`), so a clip is
reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.configuration_utils import register_to_config


class FixedStepScheduler(FlowMatchEulerDiscreteScheduler):
    """Flow-matching Euler steps at a fixed list of timesteps (see the module doc)."""

    @register_to_config
    def __init__(
        self,
        fixed_timesteps: Sequence[int] = (1000, 750, 500, 250),
        num_train_timesteps: int = 1000,
        shift: float = 5.0,
        stochastic_sampling: bool = True,
    ) -> None:
        super().__init__(
            num_train_timesteps=num_train_timesteps, shift=shift, stochastic_sampling=stochastic_sampling
        )
        self.noise_generator: Any = None

    def set_timesteps(
        self, num_inference_steps: int | None = None, device: Any = None, **_ignored: Any
    ) -> None:
        """The fixed timesteps, whatever spacing is asked for; a different step count is a bug."""
        fixed = list(self.config.fixed_timesteps)
        if num_inference_steps is not None and num_inference_steps != len(fixed):
            raise ValueError(
                f"this scheduler runs its {len(fixed)} fixed steps {fixed}, not {num_inference_steps}"
            )
        sigmas = [t / self.config.num_train_timesteps for t in fixed]
        super().set_timesteps(sigmas=sigmas, device=device)

    def seed_noise(self, seed: int) -> None:
        """Seed the noise of stochastic sampling (once per clip)."""
        import torch

        self.noise_generator = torch.Generator(device="cpu").manual_seed(seed)

    def step(self, model_output: Any, timestep: Any, sample: Any, *args: Any, **kwargs: Any) -> Any:
        """diffusers' step, with this scheduler's generator for the fresh noise."""
        if kwargs.get("generator") is None and self.noise_generator is not None:
            kwargs["generator"] = self.noise_generator
        return super().step(model_output, timestep, sample, *args, **kwargs)


def use_fixed_steps(pipe: Any, timesteps: Sequence[int], shift: float) -> None:
    """Give the pipeline a FixedStepScheduler for `timesteps` with flow shift `shift`."""
    pipe.scheduler = FixedStepScheduler(
        fixed_timesteps=list(timesteps),
        num_train_timesteps=pipe.scheduler.config.get("num_train_timesteps", 1000),
        shift=shift,
    )


def seed_scheduler_noise(pipe: Any, seed: int) -> None:
    """Seed the scheduler's own noise where it has some (the fixed-step one); others need none."""
    seed_noise = getattr(pipe.scheduler, "seed_noise", None)
    if seed_noise is not None:
        seed_noise(seed)
