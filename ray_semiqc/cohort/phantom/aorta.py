"""The aortic cine: one transverse slice through the ascending aorta, over one cycle.

Beside the labelled ascending aorta lie distractors a segmenter must ignore: the pulmonary
trunk (larger, also pulsatile), the superior vena cava, and the descending aorta by the
spine. The ascending aorta's area rises from its end-diastolic minimum to a peak in early
systole whose size is set by the subject's distensibility and central pulse pressure; its
label is solved to the exact pixel count of that curve, as the SAX masks are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ray_semiqc.cohort.phantom.anatomy import (
    Contrast,
    Thorax,
    block_average,
    count_threshold,
    ellipse,
    grid_mm,
    render_thorax,
)
from ray_semiqc.cohort.phantom.physiology import Physiology, aortic_distension, snap_to_frame
from ray_semiqc.config import PhantomConfig

AORTA_ELLIPTICITY = 0.05
PULMONARY_TRUNK_AREA_OF_AORTA = 1.2
SUPERIOR_VENA_CAVA_AREA_OF_AORTA = 0.3
DESCENDING_AREA_OF_ASCENDING = 0.6
DESCENDING_DELAY_FRACTION = 0.05  # the pulse wave reaches the descending aorta later
VESSEL_GAP_MM = 4.0
VENOUS_SIGNAL = 0.85  # slower venous flow is a little darker on bSSFP


@dataclass(frozen=True)
class AortaPhantom:
    contrast: np.ndarray  # X×Y×1×T float, blood = 1
    label: np.ndarray  # X×Y×1×T uint8: 0 bg, 1 ascending aorta
    parameters: dict[str, float]


def render_aorta(
    physiology: Physiology, config: PhantomConfig, thorax: Thorax, contrast: Contrast, rng: np.random.Generator
) -> AortaPhantom:
    n_x, n_y = config.aorta_matrix
    n_t, px, ss, s = config.aorta_frames, config.pixel_mm, config.supersample, config.anatomy_scale
    es_frame = snap_to_frame(physiology.es_fraction, n_t)
    peak_frame = min(snap_to_frame(physiology.aorta_peak_fraction, n_t), max(es_frame - 1, 1))
    distension = aortic_distension(peak_frame, es_frame, n_t)
    min_mm2 = physiology.aorta_min_area_mm2 * s**2
    max_mm2 = physiology.aorta_max_area_mm2 * s**2
    area_mm2 = min_mm2 + (max_mm2 - min_mm2) * distension
    area_count = np.rint(area_mm2 / (px * px)).astype(int)

    body_x, body_y = thorax.body_centre_mm
    semi_x, semi_y = thorax.body_semi_axes_mm
    jitter = 6.0 * s
    aorta_centre = (body_x - 0.05 * semi_x + rng.normal(0.0, jitter), body_y - 0.35 * semi_y + rng.normal(0.0, jitter))
    orientation = rng.uniform(0.0, np.pi)
    aorta_radius = np.sqrt(max_mm2 / np.pi)
    trunk_radius = np.sqrt(PULMONARY_TRUNK_AREA_OF_AORTA * max_mm2 / np.pi)
    trunk_angle = np.deg2rad(rng.normal(-15.0, 12.0))  # to the patient's left, slightly anterior
    trunk_distance = aorta_radius + trunk_radius + VESSEL_GAP_MM * s
    trunk_centre = (
        aorta_centre[0] + trunk_distance * np.cos(trunk_angle),
        aorta_centre[1] + trunk_distance * np.sin(trunk_angle),
    )
    cava_radius = np.sqrt(SUPERIOR_VENA_CAVA_AREA_OF_AORTA * min_mm2 / np.pi)
    cava_centre = (
        aorta_centre[0] - aorta_radius - cava_radius - VESSEL_GAP_MM * s,
        aorta_centre[1] + 0.3 * aorta_radius,
    )
    spine_x, spine_y = thorax.spine_centre_mm
    descending_centre = (spine_x + 24.0 * s, spine_y - 22.0 * s)
    descending_shift = int(round(DESCENDING_DELAY_FRACTION * n_t))
    descending_mm2 = DESCENDING_AREA_OF_ASCENDING * np.roll(area_mm2, descending_shift)

    x_label, y_label = grid_mm(n_x, px, 1)[:, None], grid_mm(n_y, px, 1)[None, :]
    x_fine, y_fine = grid_mm(n_x, px, ss)[:, None], grid_mm(n_y, px, ss)[None, :]
    background = render_thorax(x_fine, y_fine, thorax, contrast, with_liver=False, with_descending_aorta=False)
    aorta_distance_label = _aorta_distance(x_label, y_label, aorta_centre, orientation)
    aorta_distance_fine = _aorta_distance(x_fine, y_fine, aorta_centre, orientation)

    contrast_volume = np.empty((n_x, n_y, 1, n_t), dtype=np.float32)
    label_volume = np.zeros((n_x, n_y, 1, n_t), dtype=np.uint8)
    for t in range(n_t):
        level = count_threshold(aorta_distance_label, int(area_count[t]))
        label_volume[:, :, 0, t] = aorta_distance_label < level
        image = background.copy()
        image[ellipse(x_fine, y_fine, cava_centre, (cava_radius, cava_radius))] = VENOUS_SIGNAL * contrast.blood
        trunk_now = np.sqrt(PULMONARY_TRUNK_AREA_OF_AORTA * area_mm2[t] / np.pi)
        image[ellipse(x_fine, y_fine, trunk_centre, (trunk_now, trunk_now))] = contrast.blood
        descending_now = np.sqrt(descending_mm2[t] / np.pi)
        image[ellipse(x_fine, y_fine, descending_centre, (descending_now, descending_now))] = contrast.blood
        image[aorta_distance_fine < level] = contrast.blood
        contrast_volume[:, :, 0, t] = block_average(image, ss)

    parameters = {
        "aorta_min_area_mm2": float(area_mm2.min()),
        "aorta_max_area_mm2": float(area_mm2.max()),
        "aorta_distensibility_1e3_per_mmhg": physiology.aorta_distensibility_1e3_per_mmhg,
        "aorta_peak_fraction": peak_frame / n_t,
        "aorta_frame_interval_ms": physiology.rr_interval_ms / n_t,
    }
    return AortaPhantom(contrast=contrast_volume, label=label_volume, parameters=parameters)


def _aorta_distance(x: np.ndarray, y: np.ndarray, centre: tuple[float, float], orientation: float) -> np.ndarray:
    dx, dy = x - centre[0], y - centre[1]
    theta = np.arctan2(dy, dx)
    return np.hypot(dx, dy) / (1.0 + AORTA_ELLIPTICITY * np.cos(2.0 * (theta - orientation)))
