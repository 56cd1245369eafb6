import math

import numpy as np
import pytest

from ray_semiqc.measures import end_systolic_frame, task_curves, task_metrics
from ray_semiqc.tasks import AORTA, SAX

SPACING_MM = (1.5, 2.0, 8.0)  # one voxel = 24 mm³ = 0.024 mL


def _sax_labels() -> np.ndarray:
    """3 frames; LV 100/40/60 voxels, myo 50 voxels, RV 80/50/60 voxels."""
    labels = np.zeros((20, 20, 2, 3), np.uint8)
    for frame, (lv, rv) in enumerate([(100, 80), (40, 50), (60, 60)]):
        flat = labels[..., frame].reshape(-1)
        flat[:lv] = 1
        flat[lv : lv + 50] = 2
        flat[lv + 50 : lv + 50 + rv] = 3
        labels[..., frame] = flat.reshape(20, 20, 2)
    return labels


def test_volumes_are_voxel_counts_times_voxel_volume_in_ml():
    curves = task_curves(SAX, _sax_labels(), SPACING_MM)
    np.testing.assert_allclose(curves["lv_volume_ml"], [2.4, 0.96, 1.44])
    np.testing.assert_allclose(curves["myo_volume_ml"], [1.2, 1.2, 1.2])
    np.testing.assert_allclose(curves["rv_volume_ml"], [1.92, 1.2, 1.44])


def test_sax_metrics_read_ed_and_the_lv_minimum_frame():
    metrics = task_metrics(SAX, task_curves(SAX, _sax_labels(), SPACING_MM), ed_frame=0)
    assert metrics["lvedv_ml"] == pytest.approx(2.4)
    assert metrics["lvesv_ml"] == pytest.approx(0.96)
    assert metrics["lvsv_ml"] == pytest.approx(1.44)
    assert metrics["lvef_pct"] == pytest.approx(60.0)
    assert metrics["lvm_g"] == pytest.approx(1.2 * 1.05)
    # RV read at the LV's ES frame (1): 1.92 → 1.2 mL
    assert metrics["rvedv_ml"] == pytest.approx(1.92)
    assert metrics["rvesv_ml"] == pytest.approx(1.2)
    assert metrics["rvef_pct"] == pytest.approx(37.5)
    assert metrics.notes == {}


def test_end_diastole_follows_the_manifest_frame():
    curves = task_curves(SAX, _sax_labels(), SPACING_MM)
    assert end_systolic_frame(curves) == 1
    metrics = task_metrics(SAX, curves, ed_frame=2)
    assert metrics["lvedv_ml"] == pytest.approx(1.44)
    assert metrics["lvef_pct"] == pytest.approx(100 * (1.44 - 0.96) / 1.44)


def test_empty_ventricle_gives_nan_ejection_fraction_with_a_reason():
    labels = _sax_labels()
    labels[labels == 3] = 0
    metrics = task_metrics(SAX, task_curves(SAX, labels, SPACING_MM))
    assert math.isnan(metrics["rvef_pct"])
    assert "RV volume at end-diastole" in metrics.notes["rvef_pct"]
    assert not math.isnan(metrics["lvef_pct"])


def _aorta_labels() -> np.ndarray:
    labels = np.zeros((10, 10, 1, 4), np.uint8)
    for frame, pixels in enumerate([20, 30, 25, 20]):
        labels[..., frame].reshape(-1)[:pixels] = 1
    return labels


def test_aortic_area_and_distensibility_by_hand():
    curves = task_curves(AORTA, _aorta_labels(), (1.5, 2.0, 8.0))  # 3 mm² per pixel; z plays no part
    np.testing.assert_allclose(curves["aorta_area_mm2"], [60, 90, 75, 60])
    metrics = task_metrics(AORTA, curves, central_pulse_pressure_mmhg=50.0)
    assert metrics["aorta_max_area_mm2"] == 90
    assert metrics["aorta_min_area_mm2"] == 60
    assert metrics["aorta_distensibility_1e3_per_mmhg"] == pytest.approx((90 - 60) / (60 * 50) * 1e3)


@pytest.mark.parametrize(
    ("pulse_pressure_mmhg", "reason"),
    [(None, "central pulse pressure unknown"), (8.0, "8 mmHg is below 10 mmHg")],
)
def test_distensibility_without_a_usable_pulse_pressure_is_nan_with_its_reason(pulse_pressure_mmhg, reason):
    metrics = task_metrics(AORTA, task_curves(AORTA, _aorta_labels(), (1.0, 1.0, 1.0)), 0, pulse_pressure_mmhg)
    assert math.isnan(metrics["aorta_distensibility_1e3_per_mmhg"])
    assert reason in metrics.notes["aorta_distensibility_1e3_per_mmhg"]


def test_bad_inputs_are_refused_with_their_reason():
    with pytest.raises(ValueError, match="X×Y×Z×T"):
        task_curves(SAX, np.zeros((4, 4, 3)), SPACING_MM)
    with pytest.raises(ValueError, match="spacing must be positive"):
        task_curves(SAX, np.zeros((4, 4, 1, 3)), (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="ED frame 5 outside the 3-frame cycle"):
        task_metrics(SAX, task_curves(SAX, _sax_labels(), SPACING_MM), ed_frame=5)
    with pytest.raises(ValueError, match="need curve"):
        task_metrics(SAX, {"lv_volume_ml": np.ones(3)})


PHANTOM_PARAMETER = {  # our metric → the phantom's generating parameter
    "lvedv_ml": "lv_edv_ml",
    "lvesv_ml": "lv_esv_ml",
    "lvm_g": "lv_mass_g",
    "rvedv_ml": "rv_edv_ml",
    "rvesv_ml": "rv_esv_ml",
    "aorta_max_area_mm2": "aorta_max_area_mm2",
    "aorta_min_area_mm2": "aorta_min_area_mm2",
}


def test_metrics_of_the_truth_match_the_phantom_generating_parameters(smoke_cohort):
    """Measuring each qc_train subject's rendered truth gives back the volumes it was built with."""
    from ray_semiqc.cohort.manifest import read_manifest
    from ray_semiqc.cohort.nifti import read_volume
    from ray_semiqc.cohort.truth import load_truth

    manifest = read_manifest(smoke_cohort)
    records = manifest.split("qc_train")
    assert records
    for record in records:
        for task in (SAX, AORTA):
            image = read_volume(manifest.resolve(record, record.image_path(task)), record.subject_id)
            truth = load_truth(smoke_cohort, record, task, image.data.shape)
            curves = task_curves(task, truth, image.spacing_mm)
            metrics = task_metrics(task, curves, record.ed_frame, record.central_pulse_pressure_mmhg)
            for name, parameter in PHANTOM_PARAMETER.items():
                # partial-volume rendering: a voxel count is within 3% (a distensibility, a small
                # difference of two areas counted in 6.25 mm² pixels, is not compared)
                if name in metrics:
                    assert metrics[name] == pytest.approx(record.phantom[parameter], rel=0.03), (
                        record.subject_id,
                        name,
                    )
            if task is SAX:
                assert end_systolic_frame(curves) == record.es_frame
