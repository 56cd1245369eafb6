import numpy as np
import pytest

from ray_semiqc.qc.features import curve_features, stack_features
from ray_semiqc.tasks import AORTA, SAX

SCALE = {"lv_volume_ml": 150.0, "myo_volume_ml": 120.0, "rv_volume_ml": 160.0, "aorta_area_mm2": 700.0}


def _sax(n_frames=10):
    phase = np.arange(n_frames) / n_frames
    lv = 150.0 - 90.0 * 0.5 * (1 - np.cos(2 * np.pi * phase))
    return {"lv_volume_ml": lv, "myo_volume_ml": np.full(n_frames, 120.0), "rv_volume_ml": 1.6 * lv}


def test_shape_channel_is_the_curve_over_its_peak_and_size_channel_its_log_ratio_to_the_reference():
    features = curve_features(SAX, _sax(), 10, SCALE)
    assert features.shape == (10, 6)
    np.testing.assert_allclose(features[:, 0], _sax()["lv_volume_ml"] / 150.0, rtol=1e-6)
    np.testing.assert_allclose(features[:, 1], 0.0, atol=1e-7)  # LV peak 150 = reference
    np.testing.assert_allclose(features[:, 5], np.log(240.0 / 160.0), rtol=1e-6)


def test_cycles_of_any_frame_count_resample_to_the_same_curve():
    coarse = curve_features(SAX, _sax(20), 16, SCALE)
    fine = curve_features(SAX, _sax(50), 16, SCALE)
    np.testing.assert_allclose(coarse, fine, atol=0.02)


def test_a_one_frame_spike_survives_resampling_to_more_steps():
    area = np.full(30, 500.0)
    area[7] = 900.0
    features = curve_features(AORTA, {"aorta_area_mm2": area}, 60, SCALE)
    assert features[:, 0].max() == pytest.approx(1.0)
    assert features[:, 0].min() == pytest.approx(500 / 900, rel=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c.update(lv_volume_ml=np.where(np.arange(10) == 3, np.nan, c["lv_volume_ml"])),
            r"lv_volume_ml has NaN or inf at frame\(s\) \[3\]",
        ),
        (lambda c: c.update(rv_volume_ml=np.zeros(10)), "rv_volume_ml is zero in every frame"),
        (lambda c: c.update(myo_volume_ml=np.ones(9)), "of one length"),
        (lambda c: c.pop("myo_volume_ml"), r"needs curve\(s\) \['myo_volume_ml'\]"),
        (lambda c: c.update(lv_volume_ml=-c["lv_volume_ml"]), "lv_volume_ml is negative"),
    ],
)
def test_bad_curves_are_refused_saying_why(change, message):
    curves = _sax()
    change(curves)
    with pytest.raises(ValueError, match=message):
        curve_features(SAX, curves, 16, SCALE)


def test_too_short_a_cycle_is_refused_and_the_bad_case_is_named():
    short = {name: c[:2] for name, c in _sax().items()}
    with pytest.raises(ValueError, match=r"case 1: curves have 2 frame\(s\)"):
        stack_features(SAX, [_sax(), short], 16, SCALE)
