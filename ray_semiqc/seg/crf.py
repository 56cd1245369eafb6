"""Dense-CRF refinement of pseudo-labels (Bai et al. 2017, the seed's `ssl_crf` baseline).

Mean-field inference (Krähenbühl & Koltun 2011) of a fully connected CRF on each 2-D slice:
unary = −log of the network's softmax, Potts pairwise term with a Gaussian spatial
(smoothness) kernel and a bilateral (position + intensity: appearance) kernel. Written here
in torch because the maintained CRF packages (pydensecrf2) ship only as C++ sources that
need a compiler to install.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ray_semiqc.config import CRFConfig
from ray_semiqc.seg.predict import predict_probabilities
from ray_semiqc.seg.preprocess import prepare_slices, restore_labels
from ray_semiqc.tasks import Task

_KERNEL_RADIUS_SIGMAS = 2.0  # Gaussian kernels are cut at 2σ (weights < e^-2 beyond)
_INTENSITY_BINS_PER_SIGMA = 1  # bilateral-grid bins spaced σ apart, the sampling Durand & Dorsey found sufficient
_PROBABILITY_FLOOR = 1e-6  # keeps log(0) finite for classes the network rules out entirely


def _radius(sigma_px: float) -> int:
    return max(1, math.ceil(_KERNEL_RADIUS_SIGMAS * sigma_px))


def _blur_matrix(length: int, sigma_px: float, dtype: torch.dtype) -> torch.Tensor:
    """Banded Gaussian matrix (cut at 2σ, zero beyond the image edge), centre weight 1."""
    position = torch.arange(length, dtype=dtype)
    distance = position[:, None] - position[None, :]
    weights = torch.exp(-(distance**2) / (2 * sigma_px**2))
    return weights * (distance.abs() <= _radius(sigma_px))


def _gaussian_blur(channels: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Separable Gaussian blur of every H×W plane, as two matrix products (CPU depthwise convs are slow)."""
    height, width = channels.shape[-2:]
    along_rows = _blur_matrix(height, sigma_px, channels.dtype)
    along_columns = _blur_matrix(width, sigma_px, channels.dtype)
    return along_rows @ channels @ along_columns


@dataclass(frozen=True)
class _BilateralGrid:
    """Piecewise-linear bilateral filtering (Durand & Dorsey 2002): the range kernel
    exp(−(I_i − I_j)²/2σ²) ≈ Σ_b α_b(I_i)·exp(−(I_j − c_b)²/2σ²) over intensity bins c_b, so
    the dense bilateral message becomes one Gaussian blur per bin instead of an N² sum."""

    range_weights: torch.Tensor  # N×B×H×W: exp(−(I_j − c_b)²/2σ²)
    interpolation: torch.Tensor  # N×B×H×W: hat weights α_b(I_i), summing to 1 over b

    @classmethod
    def build(cls, images: torch.Tensor, sigma_intensity: float) -> _BilateralGrid:
        # Intensities in units of each slice's range, so one σ serves both tasks' normalisations.
        low = images.amin(dim=(2, 3), keepdim=True)
        span = (images.amax(dim=(2, 3), keepdim=True) - low).clamp_min(1e-6)
        intensity = (images - low) / span
        spacing = sigma_intensity / _INTENSITY_BINS_PER_SIGMA
        centres = torch.arange(0.0, 1.0 + spacing, spacing, dtype=images.dtype).view(1, -1, 1, 1)
        distance = intensity - centres
        return cls(
            range_weights=torch.exp(-(distance**2) / (2 * sigma_intensity**2)),
            interpolation=(1.0 - distance.abs() / spacing).clamp_min(0.0),
        )

    def message(self, q: torch.Tensor, sigma_px: float) -> torch.Tensor:
        """Σ_j≠i k_bilateral(i, j) Q_j for every class channel of Q (N×C×H×W)."""
        n, n_classes, height, width = q.shape
        n_bins = self.range_weights.shape[1]
        weighted = (self.range_weights[:, :, None] * q[:, None]).reshape(n, n_bins * n_classes, height, width)
        blurred = _gaussian_blur(weighted, sigma_px).reshape(n, n_bins, n_classes, height, width)
        # each blurred bin includes the pixel's own term (centre weight 1); remove it: no self-message
        blurred = blurred - self.range_weights[:, :, None] * q[:, None]
        return (self.interpolation[:, :, None] * blurred).sum(dim=1)


@torch.no_grad()
def refine_probabilities(probabilities: torch.Tensor, images: torch.Tensor, crf: CRFConfig) -> torch.Tensor:
    """Mean-field posterior Q (N×C×H×W) of the dense CRF given softmax `probabilities` and images N×1×H×W."""
    if probabilities.ndim != 4 or images.shape != (probabilities.shape[0], 1, *probabilities.shape[2:]):
        raise ValueError(f"probabilities {tuple(probabilities.shape)} need images N×1×H×W, got {tuple(images.shape)}")
    probabilities, images = probabilities.float(), images.float()
    unary = torch.log(probabilities.clamp_min(_PROBABILITY_FLOOR))
    grid = _BilateralGrid.build(images, crf.bilateral_sigma_intensity)
    q = probabilities
    for _ in range(crf.iterations):
        message = crf.spatial_weight * (_gaussian_blur(q, crf.spatial_sigma_px) - q)
        message += crf.bilateral_weight * grid.message(q, crf.bilateral_sigma_px)
        # Potts compatibility: a label gains the support its neighbours give it (the constant
        # Σ_l' message cancels in the softmax).
        q = torch.softmax(unary + message, dim=1)
    return q


def refine_labels(probabilities: np.ndarray, images: np.ndarray, crf: CRFConfig) -> np.ndarray:
    """CRF-refined labels N×H×W (uint8), computed `crf.slices_per_pass` slices at a time to bound memory."""
    labels = np.empty((probabilities.shape[0], *probabilities.shape[2:]), dtype=np.uint8)
    for start in range(0, probabilities.shape[0], crf.slices_per_pass):
        stop = start + crf.slices_per_pass
        q = refine_probabilities(torch.as_tensor(probabilities[start:stop]), torch.as_tensor(images[start:stop]), crf)
        labels[start:stop] = q.argmax(dim=1).numpy().astype(np.uint8)
    return labels


def crf_pseudo_label(
    model: torch.nn.Module,
    image_4d: np.ndarray,
    task: Task,
    *,
    crop_size: int,
    batch_size: int,
    crf: CRFConfig,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """A full-cycle pseudo-label X×Y×Z×T: the model's softmax, refined slice by slice by the dense CRF."""
    slices, layout = prepare_slices(image_4d, task, crop_size)
    probabilities = predict_probabilities(model, slices, device, batch_size)
    return restore_labels(refine_labels(probabilities, slices, crf), layout)
