"""Cardiac-cycle curves and clinical metrics from a segmentation (pure numpy).

A curve is one number per frame: SAX blood-pool and myocardial volumes in mL (voxel count ×
pixdim x·y·z / 1000, z being the slice *spacing*, as ukbb_cardiac measures them) and the
ascending aortic area in mm² (pixel count × pixdim x·y). The clinical metrics are read off
the curves at end-diastole (the manifest's ED frame, 0 by default) and end-systole (the
frame of minimum LV volume).
"""

from __future__ import annotations

import math

import numpy as np

from ray_semiqc.tasks import Task

MYOCARDIAL_DENSITY_G_PER_ML = 1.05  # the conventional myocardial tissue density used for LV mass
MIN_PULSE_PRESSURE_MMHG = 10.0  # below this a distensibility is physiologically meaningless

# Which label each curve counts; the unit suffix says whether it is a volume or an area.
CURVE_CLASS = {
    "lv_volume_ml": "lv",
    "myo_volume_ml": "myo",
    "rv_volume_ml": "rv",
    "aorta_area_mm2": "ascending_aorta",
}


class Metrics(dict):
    """Clinical metrics by name (floats); `notes` gives the reason for each metric that is NaN.

    A metric that cannot be computed (no pulse pressure, an empty ventricle) is NaN so tables
    keep one float column per metric; the reason travels beside it and ends up in the
    `metric_notes` column of curves.parquet.
    """

    def __init__(self, values: dict[str, float], notes: dict[str, str] | None = None):
        super().__init__(values)
        self.notes = dict(notes or {})


def task_curves(task: Task, labels_4d: np.ndarray, spacing_mm: tuple[float, float, float]) -> dict[str, np.ndarray]:
    """Per-frame curves (float64, one value per frame) of an X×Y×Z×T label volume."""
    labels_4d = np.asarray(labels_4d)
    if labels_4d.ndim != 4:
        raise ValueError(f"expected X×Y×Z×T labels, got shape {labels_4d.shape}")
    x_mm, y_mm, z_mm = (float(s) for s in spacing_mm)
    if min(x_mm, y_mm, z_mm) <= 0:
        raise ValueError(f"voxel spacing must be positive, got {spacing_mm}")
    curves = {}
    for name in task.curve_names:
        label_value = task.class_names.index(CURVE_CLASS[name])
        voxels_per_frame = (labels_4d == label_value).sum(axis=(0, 1, 2)).astype(np.float64)
        if name.endswith("_ml"):
            curves[name] = voxels_per_frame * (x_mm * y_mm * z_mm) / 1000.0
        else:
            curves[name] = voxels_per_frame * (x_mm * y_mm)
    return curves


def end_systolic_frame(curves: dict[str, np.ndarray]) -> int:
    """ES is the frame of minimum LV blood-pool volume (the first, if several tie)."""
    return int(np.argmin(curves["lv_volume_ml"]))


def task_metrics(
    task: Task,
    curves: dict[str, np.ndarray],
    ed_frame: int = 0,
    central_pulse_pressure_mmhg: float | None = None,
) -> Metrics:
    """Clinical metrics of one subject's curves; see `Metrics` for how NaNs carry a reason."""
    missing = [name for name in task.curve_names if name not in curves]
    if missing:
        raise ValueError(f"{task.name} metrics need curve(s) {missing}")
    return _METRIC_FAMILIES[task.metric_family](curves, ed_frame, central_pulse_pressure_mmhg)


def _ejection(
    prefix: str, volume_ml: np.ndarray, ed_frame: int, es_frame: int, notes: dict[str, str]
) -> dict[str, float]:
    edv, esv = float(volume_ml[ed_frame]), float(volume_ml[es_frame])
    if edv > 0:
        ef = 100.0 * (edv - esv) / edv
    else:
        ef = math.nan
        notes[f"{prefix}ef_pct"] = f"{prefix.upper()} volume at end-diastole (frame {ed_frame}) is zero"
    return {f"{prefix}edv_ml": edv, f"{prefix}esv_ml": esv, f"{prefix}sv_ml": edv - esv, f"{prefix}ef_pct": ef}


def _ventricular_metrics(curves: dict[str, np.ndarray], ed_frame: int, pulse_pressure_mmhg: float | None) -> Metrics:
    n_frames = len(curves["lv_volume_ml"])
    if not 0 <= ed_frame < n_frames:
        raise ValueError(f"ED frame {ed_frame} outside the {n_frames}-frame cycle")
    # RV volumes are read at the LV's ES frame: one ES per cycle, as in the UK Biobank analyses.
    es_frame = end_systolic_frame(curves)
    notes: dict[str, str] = {}
    values = _ejection("lv", curves["lv_volume_ml"], ed_frame, es_frame, notes)
    values["lvm_g"] = float(curves["myo_volume_ml"][ed_frame]) * MYOCARDIAL_DENSITY_G_PER_ML
    values.update(_ejection("rv", curves["rv_volume_ml"], ed_frame, es_frame, notes))
    return Metrics(values, notes)


def _aortic_metrics(curves: dict[str, np.ndarray], ed_frame: int, pulse_pressure_mmhg: float | None) -> Metrics:
    area_mm2 = curves["aorta_area_mm2"]
    max_area, min_area = float(np.max(area_mm2)), float(np.min(area_mm2))
    notes: dict[str, str] = {}
    distensibility = math.nan
    if pulse_pressure_mmhg is None or not math.isfinite(pulse_pressure_mmhg):
        notes["aorta_distensibility_1e3_per_mmhg"] = "central pulse pressure unknown"
    elif pulse_pressure_mmhg < MIN_PULSE_PRESSURE_MMHG:
        notes["aorta_distensibility_1e3_per_mmhg"] = (
            f"central pulse pressure {pulse_pressure_mmhg:g} mmHg is below {MIN_PULSE_PRESSURE_MMHG:g} mmHg"
        )
    elif min_area <= 0:
        notes["aorta_distensibility_1e3_per_mmhg"] = "minimum aortic area is zero"
    else:
        distensibility = (max_area - min_area) / (min_area * pulse_pressure_mmhg) * 1e3
    return Metrics(
        {
            "aorta_max_area_mm2": max_area,
            "aorta_min_area_mm2": min_area,
            "aorta_distensibility_1e3_per_mmhg": distensibility,
        },
        notes,
    )


# `Task.metric_family` → the function that reads that family's metrics off the curves
_METRIC_FAMILIES = {"ventricular": _ventricular_metrics, "aortic": _aortic_metrics}
