"""4-D cine volume ⇄ the network's 2-D slices: intensity normalisation and centre crop/pad.

Slice order: an X×Y×Z×T volume becomes N = Z·T slices in (z, t) C-order, i.e. slice
`n = z * T + t`; each slice is the X×Y plane (H = X, W = Y) cropped or padded about its
centre to crop_size × crop_size. `restore_labels` is the exact inverse onto the original grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ray_semiqc.tasks import Task

_FLAT_INTENSITY = 1e-6  # a constant image would divide by zero; it normalises to zeros instead


@dataclass(frozen=True)
class SliceLayout:
    shape_4d: tuple[int, int, int, int]  # original X, Y, Z, T
    crop_size: int

    @property
    def n_slices(self) -> int:
        return self.shape_4d[2] * self.shape_4d[3]

    def window(self, axis: int) -> tuple[slice, slice]:
        """(source, target) index ranges of the crop along in-plane axis 0 (X) or 1 (Y)."""
        length = self.shape_4d[axis]
        if length >= self.crop_size:
            start = (length - self.crop_size) // 2
            return slice(start, start + self.crop_size), slice(0, self.crop_size)
        start = (self.crop_size - length) // 2
        return slice(0, length), slice(start, start + length)


def normalise_intensity(image: np.ndarray, task: Task) -> np.ndarray:
    """As ukbb_cardiac: SAX 1st–99th percentile → [0, 1] (clipped); aorta z-score; over the whole volume."""
    image = image.astype(np.float32, copy=False)
    if task.normalisation == "percentile":
        low, high = np.percentile(image, (1, 99))
        return np.clip((image - low) / max(high - low, _FLAT_INTENSITY), 0.0, 1.0).astype(np.float32)
    if task.normalisation == "zscore":
        return ((image - image.mean()) / max(float(image.std()), _FLAT_INTENSITY)).astype(np.float32)
    raise ValueError(f"task {task.name}: unknown normalisation {task.normalisation!r}")


def to_slices(volume_4d: np.ndarray, crop_size: int, fill_value: float = 0.0) -> tuple[np.ndarray, SliceLayout]:
    """X×Y×Z×T → N×crop×crop in (z, t) order, centre-cropped/padded with `fill_value`."""
    if volume_4d.ndim != 4:
        raise ValueError(f"expected an X×Y×Z×T volume, got shape {volume_4d.shape}")
    layout = SliceLayout(shape_4d=tuple(int(s) for s in volume_4d.shape), crop_size=crop_size)
    x_source, x_target = layout.window(0)
    y_source, y_target = layout.window(1)
    planes = np.moveaxis(volume_4d, (2, 3), (0, 1)).reshape(layout.n_slices, *volume_4d.shape[:2])
    slices = np.full((layout.n_slices, crop_size, crop_size), fill_value, dtype=volume_4d.dtype)
    slices[:, x_target, y_target] = planes[:, x_source, y_source]
    return slices, layout


def prepare_slices(image_4d: np.ndarray, task: Task, crop_size: int) -> tuple[np.ndarray, SliceLayout]:
    """Normalised network input N×1×crop×crop float32 and the layout to put labels back."""
    normalised = normalise_intensity(image_4d, task)
    slices, layout = to_slices(normalised, crop_size, fill_value=float(normalised.min()))
    return slices[:, None], layout


def restore_labels(label_slices: np.ndarray, layout: SliceLayout) -> np.ndarray:
    """N×crop×crop labels → X×Y×Z×T uint8 on the original grid; voxels outside the crop are background."""
    expected = (layout.n_slices, layout.crop_size, layout.crop_size)
    if label_slices.shape != expected:
        raise ValueError(f"label slices of shape {label_slices.shape} do not fit layout {expected}")
    x, y, z, t = layout.shape_4d
    x_source, x_target = layout.window(0)
    y_source, y_target = layout.window(1)
    planes = np.zeros((z * t, x, y), dtype=np.uint8)
    planes[:, x_source, y_source] = label_slices[:, x_target, y_target]
    return np.moveaxis(planes.reshape(z, t, x, y), (0, 1), (2, 3)).copy()
