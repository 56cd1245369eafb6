"""The static thorax around the heart (body, subcutaneous fat, lungs, liver, spine) and bSSFP contrast.

Intensities are relative to blood = 1 as they look on balanced SSFP cine: blood and fat
bright, myocardium and liver dark grey, lungs near black.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Contrast:
    blood: float
    myocardium: float
    fat: float
    soft_tissue: float
    lung: float
    liver: float
    marrow: float
    bone: float


def draw_contrast(rng: np.random.Generator) -> Contrast:
    return Contrast(
        blood=1.0,
        myocardium=float(rng.uniform(0.22, 0.32)),
        fat=float(rng.uniform(0.75, 0.9)),
        soft_tissue=float(rng.uniform(0.28, 0.36)),
        lung=float(rng.uniform(0.02, 0.06)),
        liver=float(rng.uniform(0.33, 0.42)),
        marrow=float(rng.uniform(0.45, 0.6)),
        bone=float(rng.uniform(0.05, 0.1)),
    )


@dataclass(frozen=True)
class Thorax:
    """Where the body and its organs lie in the image, in mm from the field-of-view centre."""

    body_centre_mm: tuple[float, float]
    body_semi_axes_mm: tuple[float, float]
    fat_mm: float
    lung_semi_axes_mm: tuple[float, float]
    scale: float  # anatomy_scale: sizes of organs relative to an adult

    @property
    def spine_centre_mm(self) -> tuple[float, float]:
        cx, cy = self.body_centre_mm
        return cx, cy + self.body_semi_axes_mm[1] - 38.0 * self.scale

    @property
    def heart_centre_mm(self) -> tuple[float, float]:
        """The heart sits anterior and to the patient's left of the body centre."""
        cx, cy = self.body_centre_mm
        return cx + 0.15 * self.body_semi_axes_mm[0], cy - 0.12 * self.body_semi_axes_mm[1]


def draw_thorax(fov_mm: tuple[float, float], scale: float, rng: np.random.Generator) -> Thorax:
    # y runs anterior → posterior; the body fills most of the field of view, as in UK Biobank
    semi_x = fov_mm[0] * rng.uniform(0.42, 0.47)
    semi_y = fov_mm[1] * rng.uniform(0.32, 0.38)
    centre = (float(rng.normal(0.0, 0.02 * fov_mm[0])), float(rng.normal(0.0, 0.02 * fov_mm[1])))
    return Thorax(
        body_centre_mm=centre,
        body_semi_axes_mm=(float(semi_x), float(semi_y)),
        fat_mm=float(rng.uniform(6.0, 16.0) * scale),
        lung_semi_axes_mm=(float(0.4 * semi_x), float(0.75 * semi_y)),
        scale=scale,
    )


def ellipse(x: np.ndarray, y: np.ndarray, centre: tuple[float, float], semi_axes: tuple[float, float]) -> np.ndarray:
    return ((x - centre[0]) / semi_axes[0]) ** 2 + ((y - centre[1]) / semi_axes[1]) ** 2 < 1.0


def render_thorax(
    x: np.ndarray, y: np.ndarray, thorax: Thorax, contrast: Contrast, *, with_liver: bool, with_descending_aorta: bool
) -> np.ndarray:
    """Contrast (blood = 1) of everything that does not move, on the grid (x, y) in mm."""
    image = np.zeros(np.broadcast_shapes(x.shape, y.shape), dtype=np.float32)
    cx, cy = thorax.body_centre_mm
    semi_x, semi_y = thorax.body_semi_axes_mm
    image[ellipse(x, y, (cx, cy), (semi_x, semi_y))] = contrast.fat
    image[ellipse(x, y, (cx, cy), (semi_x - thorax.fat_mm, semi_y - thorax.fat_mm))] = contrast.soft_tissue
    lung_offset_x = 0.45 * semi_x  # the lungs wrap the heart, which is drawn over the left one
    for side in (-1.0, 1.0):
        image[ellipse(x, y, (cx + side * lung_offset_x, cy + 0.05 * semi_y), thorax.lung_semi_axes_mm)] = contrast.lung
    if with_liver:  # inferior slices cut through the liver dome under the right lung
        image[ellipse(x, y, (cx - 0.45 * semi_x, cy + 0.15 * semi_y), (0.4 * semi_x, 0.6 * semi_y))] = contrast.liver
    s = thorax.scale
    spine = thorax.spine_centre_mm
    image[ellipse(x, y, spine, (16.0 * s, 16.0 * s))] = contrast.bone
    image[ellipse(x, y, spine, (12.5 * s, 12.5 * s))] = contrast.marrow
    if with_descending_aorta:
        aorta_centre = (spine[0] + 24.0 * s, spine[1] - 22.0 * s)
        image[ellipse(x, y, aorta_centre, (11.0 * s, 11.0 * s))] = contrast.blood
    return image


def grid_mm(n_pixels: int, pixel_mm: float, supersample: int) -> np.ndarray:
    """Centres of the (super-sampled) pixels along one axis, in mm from the field-of-view centre."""
    return ((np.arange(n_pixels * supersample) + 0.5) / supersample - n_pixels / 2.0) * pixel_mm


def block_average(fine: np.ndarray, supersample: int) -> np.ndarray:
    """Average each supersample×supersample block: the partial-volume effect of a real voxel."""
    nx, ny = fine.shape[0] // supersample, fine.shape[1] // supersample
    return fine.reshape(nx, supersample, ny, supersample, *fine.shape[2:]).mean(axis=(1, 3))


def count_threshold(normalised_distance: np.ndarray, count: int) -> float:
    """The level c such that exactly `count` values lie below it.

    A shape is {q < c} for a normalised distance q; choosing c this way makes the mask hold
    exactly the pixel count (hence area, hence volume) the physiology asks for.
    """
    values = normalised_distance.ravel()
    if count <= 0:
        return -1.0
    if count >= values.size:
        return float("inf")
    parted = np.partition(values, count)
    return float((parted[:count].max() + parted[count]) / 2.0)
