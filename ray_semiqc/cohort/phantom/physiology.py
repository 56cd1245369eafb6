"""Who a phantom subject is: group, heart rate, volumes, and the curves over one cardiac cycle.

Adult values follow UK Biobank CMR reference ranges (Petersen et al., JCMR 2017) and the
textbook shape of the cycle: ejection to end-systole at ~30–40% of the RR interval (end-systole
comes ~320 ms after the R wave whatever the heart rate), isovolumic relaxation, rapid filling,
diastasis, then the atrial kick. Frame 0 is end-diastole, as in UK Biobank cines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

HEALTHY = "healthy"
CARDIOMYOPATHY_GROUPS = ("DCM", "HCM", "hypokinesia", "RV_dilation")


@dataclass(frozen=True)
class GroupPhysiology:
    lv_edv_ml: tuple[float, float]  # adult mean, SD
    lv_ef_pct: tuple[float, float]
    myo_volume_ml: tuple[float, float]
    rv_edv_over_lv_edv: tuple[float, float]  # uniform range
    aorta_distensibility_1e3_per_mmhg: tuple[float, float]  # uniform range
    hypokinetic_sector: bool  # one wall sector barely moves


GROUPS: dict[str, GroupPhysiology] = {
    HEALTHY: GroupPhysiology((145.0, 25.0), (62.0, 4.0), (100.0, 15.0), (1.05, 1.15), (2.0, 6.0), False),
    "DCM": GroupPhysiology((250.0, 40.0), (30.0, 7.0), (150.0, 20.0), (1.10, 1.25), (1.0, 3.5), False),
    "HCM": GroupPhysiology((120.0, 20.0), (72.0, 4.0), (210.0, 30.0), (0.95, 1.10), (1.0, 3.5), False),
    "hypokinesia": GroupPhysiology((170.0, 25.0), (45.0, 5.0), (120.0, 15.0), (1.05, 1.15), (1.0, 3.5), True),
    "RV_dilation": GroupPhysiology((140.0, 20.0), (58.0, 5.0), (100.0, 15.0), (1.50, 1.90), (1.5, 4.5), False),
}

END_SYSTOLE_MS = (320.0, 20.0)  # time from the R wave to end-systole, mean and SD
HEART_RATE_BPM = (68.0, 10.0)
HEART_RATE_LIMITS_BPM = (48.0, 105.0)
ES_FRACTION_LIMITS = (0.28, 0.42)
CENTRAL_PULSE_PRESSURE_MMHG = (45.0, 10.0)
PULSE_PRESSURE_LIMITS_MMHG = (25.0, 80.0)
AORTA_MIN_AREA_MM2 = (620.0, 110.0)  # ascending aorta at end-diastole, ~28 mm diameter
RV_STROKE_VOLUME_MISMATCH = 0.04  # RV and LV eject nearly the same blood: ± this fraction
MIN_EF_PCT, MAX_EF_PCT = 12.0, 85.0


@dataclass(frozen=True)
class Physiology:
    group: str
    heart_rate_bpm: float
    es_fraction: float  # of the cycle, before snapping to a frame
    lv_edv_ml: float  # adult-size volumes of the whole ventricle
    lv_esv_ml: float
    myo_volume_ml: float
    rv_edv_ml: float
    rv_esv_ml: float
    rv_es_delay_fraction: float  # the RV empties a little after the LV
    central_pulse_pressure_mmhg: float
    aorta_distensibility_1e3_per_mmhg: float
    aorta_min_area_mm2: float
    aorta_peak_fraction: float  # of the cycle: the ascending aorta is largest in early systole

    @property
    def rr_interval_ms(self) -> float:
        return 60_000.0 / self.heart_rate_bpm

    @property
    def aorta_max_area_mm2(self) -> float:
        # Distensibility = (Amax − Amin) / (Amin · PP), so Amax follows from D and PP
        d_per_mmhg = self.aorta_distensibility_1e3_per_mmhg / 1000.0
        return self.aorta_min_area_mm2 * (1.0 + d_per_mmhg * self.central_pulse_pressure_mmhg)


def draw_physiology(group: str, rng: np.random.Generator) -> Physiology:
    table = GROUPS[group]
    heart_rate = float(np.clip(rng.normal(*HEART_RATE_BPM), *HEART_RATE_LIMITS_BPM))
    es_ms = rng.normal(*END_SYSTOLE_MS)
    es_fraction = float(np.clip(es_ms / (60_000.0 / heart_rate), *ES_FRACTION_LIMITS))
    lv_edv = float(max(rng.normal(*table.lv_edv_ml), 0.5 * table.lv_edv_ml[0]))
    lv_ef = float(np.clip(rng.normal(*table.lv_ef_pct), MIN_EF_PCT, MAX_EF_PCT))
    lv_esv = lv_edv * (1.0 - lv_ef / 100.0)
    myo = float(max(rng.normal(*table.myo_volume_ml), 0.5 * table.myo_volume_ml[0]))
    rv_edv = lv_edv * rng.uniform(*table.rv_edv_over_lv_edv)
    rv_stroke = (lv_edv - lv_esv) * (1.0 + rng.uniform(-RV_STROKE_VOLUME_MISMATCH, RV_STROKE_VOLUME_MISMATCH))
    rv_esv = max(rv_edv - rv_stroke, 0.15 * rv_edv)
    pulse_pressure = float(np.clip(rng.normal(*CENTRAL_PULSE_PRESSURE_MMHG), *PULSE_PRESSURE_LIMITS_MMHG))
    return Physiology(
        group=group,
        heart_rate_bpm=heart_rate,
        es_fraction=es_fraction,
        lv_edv_ml=lv_edv,
        lv_esv_ml=lv_esv,
        myo_volume_ml=myo,
        rv_edv_ml=rv_edv,
        rv_esv_ml=rv_esv,
        rv_es_delay_fraction=float(rng.uniform(0.0, 0.04)),
        central_pulse_pressure_mmhg=pulse_pressure,
        aorta_distensibility_1e3_per_mmhg=float(rng.uniform(*table.aorta_distensibility_1e3_per_mmhg)),
        aorta_min_area_mm2=float(max(rng.normal(*AORTA_MIN_AREA_MM2), 350.0)),
        aorta_peak_fraction=float(rng.uniform(0.12, 0.2)),
    )


def snap_to_frame(fraction: float, n_frames: int) -> int:
    """The frame nearest a point of the cycle, never frame 0 (end-diastole)."""
    return int(min(max(round(fraction * n_frames), 1), n_frames - 1))


def ventricular_filling(es_frame: int, n_frames: int) -> np.ndarray:
    """Per frame, the fraction of the stroke volume in the ventricle: 1 at ED, 0 at ES.

    Ejection is fast early; after isovolumic relaxation comes rapid filling (to ~70%),
    slow diastasis (to ~80%), then the atrial kick. ES lands exactly on `es_frame`.
    """
    t_es = es_frame / n_frames
    relaxed = t_es + 0.04
    rapid_end = relaxed + 0.35 * (1.0 - relaxed)
    atrial = max(0.85, rapid_end + 0.05)
    knots_t = [0.0, 0.45 * t_es, t_es, relaxed, rapid_end, atrial, 1.0]
    knots_fill = [1.0, 0.35, 0.0, 0.0, 0.7, 0.8, 1.0]
    fill = PchipInterpolator(knots_t, knots_fill)(np.arange(n_frames) / n_frames)
    fill[es_frame] = 0.0  # exact at the knot, written so floating error cannot move the minimum
    return np.clip(fill, 0.0, 1.0)


def aortic_distension(peak_frame: int, es_frame: int, n_frames: int) -> np.ndarray:
    """Per frame, the fraction of the systolic area increase: 0 at ED, 1 at the early-systolic peak.

    Upstroke after the pulse-wave foot, decline through late systole to the dicrotic notch,
    a small notch rebound, then diastolic run-off back to the end-diastolic area.
    """
    t_peak = peak_frame / n_frames
    t_es = max(es_frame / n_frames, t_peak + 0.08)
    knots_t = [0.0, 0.4 * t_peak, t_peak, t_es, t_es + 0.03, max(0.65, t_es + 0.15), 1.0]
    knots_area = [0.0, 0.04, 1.0, 0.55, 0.6, 0.25, 0.0]
    distension = PchipInterpolator(knots_t, knots_area)(np.arange(n_frames) / n_frames)
    distension[peak_frame] = 1.0
    distension[0] = 0.0
    return np.clip(distension, 0.0, 1.0)
