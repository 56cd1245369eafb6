"""Realistic segmentation failures, injected into QC training cases.

The QC classifier must see the ways real networks fail, not only the mild errors of the
models at hand: a missed basal slice, the RV leaking into the right atrium at systole,
LV/RV labels swapped on a slice, a frame with an empty mask, a one-frame spike. The aorta
has its analogues: under-segmentation (a thinned lumen), a leak into a neighbouring
vessel, an empty frame, a spike. Each takes and returns an X×Y×Z×T label volume (a copy)
and draws its severity (1..config.qc.failure_max_px pixels) and place from `rng`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ray_semiqc.tasks import Task

LV, MYO, RV = 1, 2, 3  # SAX label values (tasks.SAX.class_names)
AORTA = 1


def basal_slice(labels: np.ndarray) -> int:
    """The basal end of the ventricles: of the two outermost slices holding LV, the larger at ED."""
    foreground = (labels > 0).sum(axis=(0, 1))  # Z×T
    with_lv = np.flatnonzero((labels == LV).any(axis=(0, 1, 3)))
    if len(with_lv) == 0:
        raise ValueError("no slice holds an LV label; there is no base to miss")
    first, last = int(with_lv[0]), int(with_lv[-1])
    return first if foreground[first].max() >= foreground[last].max() else last


def missed_basal_slice(labels: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
    failed = labels.copy()
    failed[:, :, basal_slice(labels)] = 0
    return failed


def rv_leak_into_atrium(labels: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
    """RV grown into the background on the basal slice in systolic frames, where the atrium shows."""
    failed = labels.copy()
    base = basal_slice(labels)
    lv_volume = (labels == LV).sum(axis=(0, 1, 2))
    systolic = np.flatnonzero(lv_volume <= np.median(lv_volume))
    grow_px = 2 * int(rng.integers(1, max_px + 1))  # an atrium is larger than a mask's edge error
    for frame in systolic:
        plane = failed[:, :, base, frame]
        leak = ndimage.binary_dilation(plane == RV, iterations=grow_px) & (plane == 0)
        plane[leak] = RV
    return failed


def swapped_labels_on_slice(labels: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
    failed = labels.copy()
    both = np.flatnonzero(((labels == LV).any(axis=(0, 1, 3))) & ((labels == RV).any(axis=(0, 1, 3))))
    candidates = both if len(both) else np.arange(labels.shape[2])
    slab = failed[:, :, int(rng.choice(candidates))]
    lv, rv = slab == LV, slab == RV
    slab[lv], slab[rv] = RV, LV
    return failed


def empty_frame(labels: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
    failed = labels.copy()
    failed[..., int(rng.integers(labels.shape[3]))] = 0
    return failed


def temporal_spike(labels: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
    """One frame's masks all grown (or shrunk) by a few pixels: a jump in the curves."""
    failed = labels.copy()
    frame = int(rng.integers(labels.shape[3]))
    pixels = int(rng.integers(1, max_px + 1))
    grow = bool(rng.random() < 0.5)
    return _resize_masks(failed, frame_mask(labels, frame), pixels, grow)


def aorta_under_segmented(labels: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
    """The lumen's wall pixels missed in every frame (a too-conservative network)."""
    return _resize_masks(labels.copy(), np.ones(labels.shape[3], bool), int(rng.integers(1, max_px + 1)), grow=False)


def aorta_leak(labels: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
    """The aorta spills into a neighbouring vessel: a blob beside it labelled aorta in every frame."""
    failed = labels.copy()
    radius_px = 2 * int(rng.integers(1, max_px + 1))
    lumen = labels[:, :, 0] == AORTA  # X×Y×T
    if not lumen.any():
        raise ValueError("no aorta label to leak from")
    xs, ys, _ = np.nonzero(lumen)
    angle = rng.uniform(0, 2 * np.pi)
    reach = (xs.max() - xs.min()) / 2 + radius_px
    centre = (
        np.clip(xs.mean() + reach * np.cos(angle), 0, labels.shape[0] - 1),
        np.clip(ys.mean() + reach * np.sin(angle), 0, labels.shape[1] - 1),
    )
    grid_x, grid_y = np.meshgrid(np.arange(labels.shape[0]), np.arange(labels.shape[1]), indexing="ij")
    blob = (grid_x - centre[0]) ** 2 + (grid_y - centre[1]) ** 2 <= radius_px**2
    failed[:, :, 0][blob] = AORTA
    return failed


def frame_mask(labels: np.ndarray, frame: int) -> np.ndarray:
    mask = np.zeros(labels.shape[3], bool)
    mask[frame] = True
    return mask


def _resize_masks(labels: np.ndarray, frames: np.ndarray, pixels: int, grow: bool) -> np.ndarray:
    # In-plane only: through-plane dilation would invent slices no network would segment.
    structure = np.zeros((3, 3, 1), bool)
    structure[:, :, 0] = ndimage.generate_binary_structure(2, 1)
    for frame in np.flatnonzero(frames):
        volume = labels[..., frame]
        original = volume.copy()
        for value in np.unique(original[original > 0]):
            mask = original == value
            if grow:
                volume[ndimage.binary_dilation(mask, structure, iterations=pixels) & (volume == 0)] = value
            else:
                volume[mask & ~ndimage.binary_erosion(mask, structure, iterations=pixels)] = 0
    return labels


FAILURES: dict[str, dict[str, Callable]] = {
    "sax": {
        "missed_basal_slice": missed_basal_slice,
        "rv_leak_into_atrium": rv_leak_into_atrium,
        "swapped_labels_on_slice": swapped_labels_on_slice,
        "empty_frame": empty_frame,
        "temporal_spike": temporal_spike,
    },
    "aorta": {
        "aorta_under_segmented": aorta_under_segmented,
        "aorta_leak": aorta_leak,
        "empty_frame": empty_frame,
        "temporal_spike": temporal_spike,
    },
}


def inject_failure(task: Task, labels: np.ndarray, rng: np.random.Generator, max_px: int) -> tuple[np.ndarray, str]:
    """One failure of the task's kinds, chosen uniformly: `(failed labels, failure name)`."""
    name = str(rng.choice(sorted(FAILURES[task.name])))
    return FAILURES[task.name][name](labels, rng, max_px), name
