"""Training-time augmentation of a batch on its device: rotation, scaling, flips, intensity jitter.

Written as one batched affine warp (torch `affine_grid`/`grid_sample`) because MONAI's random
transforms draw from their own per-transform NumPy state and work per sample, while we want
every draw from one passed-in torch generator and the whole batch warped in one call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ray_semiqc.config import SegConfig
from ray_semiqc.tasks import Task


def _uniform(generator: torch.Generator, n: int, half_width: float) -> torch.Tensor:
    return (torch.rand(n, generator=generator) * 2 - 1) * half_width


def augment_batch(
    images: torch.Tensor, labels: torch.Tensor, task: Task, seg_config: SegConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """images B×1×H×W float, labels B×H×W integer → the same batch, randomly warped and jittered.

    Flips only where `task.allow_flips` (never for SAX, whose LV/RV sides carry meaning).
    Labels are warped with nearest-neighbour sampling, so they stay valid class indices.
    """
    n = images.shape[0]
    angle = _uniform(generator, n, math.radians(seg_config.rotation_deg))
    scale = 1 + _uniform(generator, n, seg_config.scale_range)
    flip_x = torch.ones(n)
    flip_y = torch.ones(n)
    if task.allow_flips:
        flip_x = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
        flip_y = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    gain = 1 + _uniform(generator, n, seg_config.intensity_jitter)
    offset = _uniform(generator, n, seg_config.intensity_jitter)

    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale  # grid maps output → input: inverse scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip_x, -sin * flip_y
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip_x, cos * flip_y
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    warped_images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    warped_labels = F.grid_sample(
        labels[:, None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False
    )
    jittered = (
        warped_images * gain.to(images.device)[:, None, None, None] + offset.to(images.device)[:, None, None, None]
    )
    return jittered, warped_labels[:, 0].to(labels.dtype)
