"""The short-axis cine: LV, myocardium and RV crescent over Z slices (base → apex) and T frames.

Every slice and frame is drawn as star-shaped contours whose size is solved so the label
holds exactly the pixel count of the volume curve (`count_threshold`): the generating
volumes are what the masks measure (voxels × pixdim x·y·z). Myocardial area per slice is
constant over the cycle, so the wall thickens as the cavity empties and its volume is
conserved. The image is the same contours rendered supersampled (partial volume).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ray_semiqc.cohort.phantom.anatomy import (
    Contrast,
    Thorax,
    block_average,
    count_threshold,
    grid_mm,
    render_thorax,
)
from ray_semiqc.cohort.phantom.physiology import Physiology, snap_to_frame, ventricular_filling
from ray_semiqc.config import PhantomConfig

ADULT_SAX_STACK_MM = 100.0  # a UK Biobank SAX stack spans ~10 slices × 10 mm from base to apex
LV_APEX_TAPER = 0.9  # cavity area at the apex relative to the base: 1 − this (a truncated ellipsoid)
RV_APICAL_EXTENT = 0.85  # the RV ends this far down the LV's long axis
MISSING_BASE_SLICES = 1.5  # the stack starts this many slices below the base
ENDO_ELLIPTICITY = 0.06
MIN_WALL_MM = 3.0  # thinnest myocardium anywhere (adult size)
HYPOKINETIC_STRENGTH = 0.8  # the hypokinetic sector keeps this share of its end-diastolic radius loss
RV_OFFSET_OF_EPI_RADIUS = 0.45  # RV contour centre, toward the septum, in LV epicardial radii
RV_SEMI_AXES = (0.8, 1.35)  # across and along the septum: a crescent wrapping the LV
RV_WALL_MM = 3.0
EPICARDIAL_FAT_MM = 3.5
PAPILLARY_RADIUS_OF_ENDO = 0.12
MYOCARDIAL_DENSITY_G_PER_ML = 1.05


@dataclass(frozen=True)
class SaxPhantom:
    contrast: np.ndarray  # X×Y×Z×T float, blood = 1, before acquisition
    label: np.ndarray  # X×Y×Z×T uint8: 0 bg, 1 LV, 2 Myo, 3 RV
    es_frame: int
    parameters: dict[str, float]


def slice_profiles(n_slices: int, base_offset_slices: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative LV cavity, myocardium and RV cavity areas of each slice, base → apex."""
    h = (np.arange(n_slices) + 0.5 + base_offset_slices) / n_slices  # 0 base … 1 apex
    inside = h < 1.0
    lv = np.where(inside, 1.0 - LV_APEX_TAPER * h**2, 0.0)
    myo = np.where(inside, 0.3 + np.sqrt(np.clip(lv, 0.0, None)), 0.0)
    rv = np.where(h < RV_APICAL_EXTENT, 1.0 - (h / RV_APICAL_EXTENT) ** 2, 0.0)
    return lv, myo, rv


@dataclass(frozen=True)
class HeartPose:
    centre_mm: tuple[float, float]
    free_wall_angle_rad: float  # direction from the LV centre to its free wall; the RV lies opposite
    slice_shift_mm: np.ndarray  # Z×2 breath-hold misalignment
    hypokinetic_angle_rad: float
    fat_angle_rad: float


def draw_pose(thorax: Thorax, n_slices: int, config: PhantomConfig, rng: np.random.Generator) -> HeartPose:
    cx, cy = thorax.heart_centre_mm
    jitter = 8.0 * config.anatomy_scale
    return HeartPose(
        centre_mm=(cx + rng.normal(0.0, jitter), cy + rng.normal(0.0, jitter)),
        free_wall_angle_rad=float(np.deg2rad(rng.normal(30.0, 12.0))),
        slice_shift_mm=rng.normal(0.0, config.slice_misalignment_mm, size=(n_slices, 2)),
        hypokinetic_angle_rad=float(rng.uniform(0.0, 2.0 * np.pi)),
        fat_angle_rad=float(rng.uniform(0.0, 2.0 * np.pi)),
    )


def sector_weight(theta: np.ndarray, centre_rad: float) -> np.ndarray:
    """Smooth 1 → 0 window over ±90° around `centre_rad` (a coronary territory)."""
    return np.clip(np.cos(theta - centre_rad), 0.0, None) ** 4


def render_sax(
    physiology: Physiology,
    config: PhantomConfig,
    thorax: Thorax,
    contrast: Contrast,
    artefact: str,
    rng: np.random.Generator,
) -> SaxPhantom:
    n_x, n_y = config.sax_matrix
    n_z, n_t, px, ss = config.sax_slices, config.sax_frames, config.pixel_mm, config.supersample
    scale = config.anatomy_scale
    pose = draw_pose(thorax, n_z, config, rng)

    es_frame = snap_to_frame(physiology.es_fraction, n_t)
    rv_es_frame = snap_to_frame(es_frame / n_t + physiology.rv_es_delay_fraction, n_t)
    volume_scale = scale**2 * n_z * config.slice_spacing_mm / ADULT_SAX_STACK_MM
    lv_ml = physiology.lv_esv_ml + (physiology.lv_edv_ml - physiology.lv_esv_ml) * ventricular_filling(es_frame, n_t)
    rv_ml = physiology.rv_esv_ml + (physiology.rv_edv_ml - physiology.rv_esv_ml) * ventricular_filling(rv_es_frame, n_t)
    base_offset = MISSING_BASE_SLICES if artefact == "missing_base" else 0.0
    lv_w, myo_w, rv_w = slice_profiles(n_z, base_offset)
    full_lv_w, full_myo_w, full_rv_w = slice_profiles(n_z, 0.0)
    # mm² per slice and frame: the ventricle's volume spread over its slices by the profile
    to_area = 1000.0 * volume_scale / config.slice_spacing_mm
    lv_mm2 = to_area * lv_ml[None, :] * (lv_w / full_lv_w.sum())[:, None]
    rv_mm2 = to_area * rv_ml[None, :] * (rv_w / full_rv_w.sum())[:, None]
    myo_mm2 = to_area * physiology.myo_volume_ml * myo_w / full_myo_w.sum()

    pixel_mm2 = px * px
    lv_count = np.rint(lv_mm2 / pixel_mm2).astype(int)
    myo_count = np.rint(myo_mm2 / pixel_mm2).astype(int)
    rv_count = np.rint(rv_mm2 / pixel_mm2).astype(int)

    x_label, y_label = grid_mm(n_x, px, 1), grid_mm(n_y, px, 1)
    x_fine, y_fine = grid_mm(n_x, px, ss), grid_mm(n_y, px, ss)
    epi_radius_max = np.sqrt((lv_mm2[:, 0] + myo_mm2).max() / np.pi)
    rv_reach = 1.6 * np.sqrt(rv_mm2.max() / np.pi)
    crop_half_mm = 1.3 * epi_radius_max + rv_reach + 10.0 * scale

    contrast_volume = np.empty((n_x, n_y, n_z, n_t), dtype=np.float32)
    label_volume = np.zeros((n_x, n_y, n_z, n_t), dtype=np.uint8)
    for z in range(n_z):
        centre = (pose.centre_mm[0] + pose.slice_shift_mm[z, 0], pose.centre_mm[1] + pose.slice_shift_mm[z, 1])
        background = render_thorax(
            x_fine[:, None],
            y_fine[None, :],
            thorax,
            contrast,
            with_liver=z >= n_z // 2,
            with_descending_aorta=True,
        )
        i0, i1 = _crop(x_label, centre[0], crop_half_mm)
        j0, j1 = _crop(y_label, centre[1], crop_half_mm)
        coarse = _HeartFrame(x_label[i0:i1], y_label[j0:j1], centre, pose)
        fine = _HeartFrame(x_fine[i0 * ss : i1 * ss], y_fine[j0 * ss : j1 * ss], centre, pose)
        background_crop = background[i0 * ss : i1 * ss, j0 * ss : j1 * ss]
        contrast_volume[:, :, z, :] = block_average(background, ss)[:, :, None]
        has_papillary = lv_w[z] > 0.4
        for t in range(n_t):
            shape = _slice_shape(physiology, lv_mm2[z, 0], lv_mm2[z, t], scale)
            levels = shape.solve(coarse, lv_count[z, t], myo_count[z], rv_count[z, t])
            label_volume[i0:i1, j0:j1, z, t] = shape.labels(coarse, levels)
            painted = shape.paint(fine, levels, background_crop, contrast, has_papillary)
            contrast_volume[i0:i1, j0:j1, z, t] = block_average(painted, ss)

    voxel_ml = pixel_mm2 * config.slice_spacing_mm / 1000.0
    lv_curve_ml = lv_mm2.sum(axis=0) * config.slice_spacing_mm / 1000.0
    rv_curve_ml = rv_mm2.sum(axis=0) * config.slice_spacing_mm / 1000.0
    lv_edv, lv_esv = float(lv_curve_ml[0]), float(lv_curve_ml[es_frame])
    rv_edv, rv_esv = float(rv_curve_ml[0]), float(rv_curve_ml.min())
    parameters = {
        "lv_edv_ml": lv_edv,
        "lv_esv_ml": lv_esv,
        "lv_sv_ml": lv_edv - lv_esv,
        "lv_ef_pct": 100.0 * (lv_edv - lv_esv) / lv_edv,
        "rv_edv_ml": rv_edv,
        "rv_esv_ml": rv_esv,
        "rv_sv_ml": rv_edv - rv_esv,
        "rv_ef_pct": 100.0 * (rv_edv - rv_esv) / rv_edv,
        "myo_volume_ml": float(myo_mm2.sum() * config.slice_spacing_mm / 1000.0),
        "lv_mass_g": float(myo_mm2.sum() * config.slice_spacing_mm / 1000.0 * MYOCARDIAL_DENSITY_G_PER_ML),
        "heart_rate_bpm": physiology.heart_rate_bpm,
        "es_fraction": es_frame / n_t,
        "rv_es_fraction": rv_es_frame / n_t,
        "sax_frame_interval_ms": physiology.rr_interval_ms / n_t,
        "voxel_ml": voxel_ml,
    }
    return SaxPhantom(contrast=contrast_volume, label=label_volume, es_frame=es_frame, parameters=parameters)


def _crop(axis_mm: np.ndarray, centre_mm: float, half_mm: float) -> tuple[int, int]:
    inside = np.flatnonzero(np.abs(axis_mm - centre_mm) <= half_mm)
    return int(inside[0]), int(inside[-1]) + 1


class _HeartFrame:
    """Polar coordinates of a pixel grid around the LV centre, 0 rad toward the free wall."""

    def __init__(self, x_mm: np.ndarray, y_mm: np.ndarray, centre_mm: tuple[float, float], pose: HeartPose):
        self.pixel_mm = float(x_mm[1] - x_mm[0])
        dx, dy = x_mm[:, None] - centre_mm[0], y_mm[None, :] - centre_mm[1]
        cos_a, sin_a = np.cos(pose.free_wall_angle_rad), np.sin(pose.free_wall_angle_rad)
        self.u = dx * cos_a + dy * sin_a  # + free wall, − septum and RV
        self.v = -dx * sin_a + dy * cos_a
        self.radius = np.hypot(self.u, self.v)
        theta = np.arctan2(self.v, self.u)
        self.epi_shape = 1.0 + ENDO_ELLIPTICITY * np.cos(2.0 * theta)
        self.epi_distance = self.radius / self.epi_shape
        self.hypokinetic_sector = sector_weight(theta, pose.hypokinetic_angle_rad)
        self.fat_patch = np.cos(theta - pose.fat_angle_rad) > -0.3  # fat lines most, not all, of the epicardium
        self.rv_v_term = (self.v / RV_SEMI_AXES[1]) ** 2


@dataclass(frozen=True)
class _Levels:
    endo: float
    epi: float
    rv: float
    rv_centre_u_mm: float


@dataclass(frozen=True)
class _SliceShape:
    hypokinetic_gain: float
    min_wall_mm: float
    rv_wall_mm: float
    fat_mm: float

    def endo_shape(self, frame: _HeartFrame) -> np.ndarray:
        if self.hypokinetic_gain == 0.0:
            return frame.epi_shape
        return frame.epi_shape * (1.0 + self.hypokinetic_gain * frame.hypokinetic_sector)

    def _masks(self, frame: _HeartFrame, levels: _Levels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        endo_radius = levels.endo * self.endo_shape(frame)
        endo = frame.radius < endo_radius
        epi = (frame.radius < endo_radius + self.min_wall_mm) | (frame.epi_distance < levels.epi)
        epi &= levels.endo > 0
        rv_distance = self._rv_distance(frame, levels.rv_centre_u_mm)
        rv = ~epi & (rv_distance < levels.rv)
        return endo, epi, rv, rv_distance

    @staticmethod
    def _rv_distance(frame: _HeartFrame, centre_u_mm: float) -> np.ndarray:
        return np.sqrt(((frame.u - centre_u_mm) / RV_SEMI_AXES[0]) ** 2 + frame.rv_v_term)

    def solve(self, frame: _HeartFrame, lv_count: int, myo_count: int, rv_count: int) -> _Levels:
        """Contour levels that give exactly these pixel counts on this (label) grid."""
        endo_shape = self.endo_shape(frame)
        endo_level = count_threshold(frame.radius / endo_shape, lv_count)
        if lv_count <= 0:  # below the apex
            return _Levels(endo=-1.0, epi=-1.0, rv=-1.0, rv_centre_u_mm=0.0)
        forced = frame.radius < endo_level * endo_shape + self.min_wall_mm
        epi_level = count_threshold(frame.epi_distance[~forced], lv_count + myo_count - int(forced.sum()))
        epi = forced | (frame.epi_distance < epi_level)
        epi_radius = np.sqrt(epi.sum() / np.pi) * frame.pixel_mm
        rv_centre = -RV_OFFSET_OF_EPI_RADIUS * epi_radius
        rv_level = count_threshold(self._rv_distance(frame, rv_centre)[~epi], rv_count)
        return _Levels(endo=endo_level, epi=epi_level, rv=rv_level, rv_centre_u_mm=rv_centre)

    def labels(self, frame: _HeartFrame, levels: _Levels) -> np.ndarray:
        endo, epi, rv, _ = self._masks(frame, levels)
        label = np.zeros(frame.radius.shape, dtype=np.uint8)
        label[epi] = 2
        label[endo] = 1
        label[rv] = 3
        return label

    def paint(
        self, frame: _HeartFrame, levels: _Levels, image: np.ndarray, contrast: Contrast, has_papillary: bool
    ) -> np.ndarray:
        endo, epi, rv, rv_distance = self._masks(frame, levels)
        image = image.copy()
        if levels.endo > 0:
            fat = (frame.epi_distance < levels.epi + self.fat_mm) & frame.fat_patch
            image[fat] = contrast.fat
        if levels.rv > 0:
            image[rv_distance < levels.rv + self.rv_wall_mm / RV_SEMI_AXES[1]] = contrast.myocardium
        image[epi] = contrast.myocardium
        image[endo] = contrast.blood
        if has_papillary and levels.endo > 0:
            # papillary muscles: dark spots inside the blood pool that the LV label includes
            for angle in (np.deg2rad(55.0), np.deg2rad(-55.0)):
                spot_u, spot_v = 0.6 * levels.endo * np.cos(angle), 0.6 * levels.endo * np.sin(angle)
                spot = np.hypot(frame.u - spot_u, frame.v - spot_v) < PAPILLARY_RADIUS_OF_ENDO * levels.endo
                image[spot & endo] = contrast.myocardium
        image[rv] = contrast.blood
        return image


def _slice_shape(physiology: Physiology, ed_area_mm2: float, area_mm2: float, scale: float) -> _SliceShape:
    gain = 0.0
    if physiology.group == "hypokinesia" and area_mm2 > 0:
        # the sector keeps most of its ED radius while the rest contracts
        gain = HYPOKINETIC_STRENGTH * (np.sqrt(ed_area_mm2 / area_mm2) - 1.0)
    return _SliceShape(
        hypokinetic_gain=float(gain),
        min_wall_mm=MIN_WALL_MM * scale,
        rv_wall_mm=RV_WALL_MM * scale,
        fat_mm=EPICARDIAL_FAT_MM * scale,
    )
