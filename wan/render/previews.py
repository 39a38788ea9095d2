"""Cheap previews of a clip while it denoises: a linear latent -> RGB projection.

The projection is fitted to the model's own VAE when a preview is first asked for (our own fit,
not a published table): a few random colour fields are encoded, and least squares maps each
normalised 16-channel latent, plus a bias, to the mean colour of the pixels it covers. The fit
costs one small VAE encode. During denoising the latents are noisy, so the preview first
estimates the clean latent from the last two steps (flow matching: x0 = x_t - sigma * v).
"""

from __future__ import annotations

from typing import Any

import numpy as np

FIT_SAMPLES = 8
FIT_SIZE = 64


class LatentPreviewer:
    """Projects normalised Wan latents (the pipeline's) to RGB."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights  # (channels + 1, 3): RGB in [-1, 1] from [latent, 1]

    @classmethod
    def fit(cls, vae: Any, spatial_factor: int, *, seed: int = 0) -> LatentPreviewer:
        """Fit the projection to `vae` (AutoencoderKLWan) on random smooth colour fields."""
        import torch

        generator = torch.Generator().manual_seed(seed)
        coarse = torch.rand(FIT_SAMPLES, 3, 1, 4, 4, generator=generator) * 2 - 1
        fields = torch.nn.functional.interpolate(
            coarse, size=(1, FIT_SIZE, FIT_SIZE), mode="trilinear", align_corners=False
        )
        device = next(vae.parameters()).device
        with torch.no_grad():
            latents = vae.encode(fields.to(device, torch.float32)).latent_dist.mode().float().cpu()
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
        latents = (latents - mean) / std
        targets = torch.nn.functional.avg_pool3d(fields, (1, spatial_factor, spatial_factor))
        x = latents.permute(0, 2, 3, 4, 1).reshape(-1, latents.shape[1]).numpy()
        y = targets.permute(0, 2, 3, 4, 1).reshape(-1, 3).numpy()
        design = np.hstack([x, np.ones((len(x), 1))])
        weights, *_ = np.linalg.lstsq(design, y, rcond=None)
        return cls(weights)

    def project(self, latents: np.ndarray) -> np.ndarray:
        """Latents (channels, h, w) -> uint8 RGB (h, w, 3)."""
        channels = latents.shape[0]
        flat = latents.reshape(channels, -1).T
        rgb = np.hstack([flat, np.ones((len(flat), 1))]) @ self.weights
        image = np.rint((rgb + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
        return image.reshape(latents.shape[1], latents.shape[2], 3)

    def preview(
        self, latents: Any, previous: Any | None, sigma: float, previous_sigma: float | None
    ) -> np.ndarray:
        """RGB of the last latent frame, from the estimated clean latent when possible."""
        current = latents[0, :, -1].float().cpu().numpy()
        if previous is not None and previous_sigma is not None and previous_sigma != sigma:
            before = previous[0, :, -1].float().cpu().numpy()
            velocity = (current - before) / (sigma - previous_sigma)
            current = current - sigma * velocity
        return self.project(current)
