import copy

import numpy as np
import pytest
import torch

from ray_semiqc.qc.classifier import QCClassifier


def test_learns_to_separate_dropped_frame_cycles_from_smooth_ones(fitted_sax_qc, toy_qc_set):
    curves, erroneous = toy_qc_set(1)
    p_erroneous = fitted_sax_qc.predict_proba(curves)[:, 1]
    assert p_erroneous[erroneous].min() > p_erroneous[~erroneous].max()


def test_probabilities_are_a_distribution_over_good_and_erroneous(fitted_sax_qc, toy_qc_set):
    probabilities = fitted_sax_qc.predict_proba(toy_qc_set(2, n=6)[0])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_fit_is_deterministic_by_seed_and_leaves_global_rng_alone(smoke_config, toy_qc_set):
    curves, erroneous = toy_qc_set(0, n=12)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = QCClassifier.from_config("sax", smoke_config.qc.__class__(epochs=2, lstm_hidden=8), seed=5).fit(
        curves, erroneous
    )
    assert torch.rand(1) == before
    second = QCClassifier.from_config("sax", smoke_config.qc.__class__(epochs=2, lstm_hidden=8), seed=5).fit(
        curves, erroneous
    )
    assert first.version_ == second.version_


def test_save_load_round_trip_keeps_predictions_threshold_and_test_figures(fitted_sax_qc, tmp_path, toy_qc_set):
    curves, erroneous = toy_qc_set(3, n=12)
    calibrated = copy.deepcopy(fitted_sax_qc).calibrate(curves, erroneous, sensitivity_weight=0.8)
    with pytest.raises(ValueError, match="not assessed"):
        calibrated.results_row(0.95)  # the calibration cases' own sensitivity is not a result
    assessed = calibrated.assess(*toy_qc_set(6, n=10))
    path = assessed.save(tmp_path / "qc.pt")
    loaded = QCClassifier.load(path, expect_task="sax")
    np.testing.assert_allclose(loaded.predict_proba(curves), assessed.predict_proba(curves), rtol=1e-6)
    assert loaded.operating_point_ == assessed.operating_point_ and loaded.test_point_ == assessed.test_point_
    assert loaded.version_ == assessed.version_
    row = loaded.results_row(0.95)
    assert row["task"] == "sax" and (row["n"], row["n_erroneous"]) == (10, 4) and row["sensitivity"] == 1.0
    assert (
        row["sensitivity_ci95_low"] == pytest.approx(0.5101, abs=1e-4) and row["sensitivity_ci95_high"] == 1.0
    )  # Wilson, 4 of 4
    assert row["target_sensitivity"] == 0.95 and row["specificity_at_target"] >= row["specificity"]
    assert row["threshold"] == assessed.operating_point_.threshold  # chosen on calibration, not on the test cases


def test_assessment_is_broken_down_by_where_the_cases_came_from(fitted_sax_qc, toy_qc_set):
    classifier = copy.deepcopy(fitted_sax_qc).calibrate(*toy_qc_set(3, n=12), sensitivity_weight=0.8)
    curves, erroneous = toy_qc_set(7, n=12)  # cases 0, 3, 6, 9 erroneous
    sources = ["injected: empty_frame" if i % 2 == 0 else "res_unet/sax/smoke/seed0/step60" for i in range(12)]
    with pytest.raises(ValueError, match="12 test cases but 2 sources"):
        classifier.assess(curves, erroneous, sources[:2])
    point = classifier.assess(curves, erroneous, sources).test_point_
    rows = classifier.results_by_source()
    assert [(r["source"], r["erroneous"], r["good"]) for r in rows] == [
        ("injected: empty_frame", 2, 4),  # cases 0, 6 of the even ones
        ("res_unet/sax/smoke/seed0/step60", 2, 4),  # cases 3, 9
    ]
    assert sum(r["caught"] for r in rows) == round(point.sensitivity * 4)
    assert sum(r["passed"] for r in rows) == round(point.specificity * 8)
    assert classifier.assess(curves, erroneous).results_by_source() == []


def test_a_model_of_another_task_is_refused(fitted_sax_qc, tmp_path):
    path = fitted_sax_qc.save(tmp_path / "qc.pt")
    with pytest.raises(ValueError, match="QC model is for task 'sax', not 'aorta'"):
        QCClassifier.load(path, expect_task="aorta")


def test_a_file_that_is_no_qc_model_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a QC model"):
        QCClassifier.load(path)


def test_bad_training_input_is_refused(smoke_config, toy_qc_set):
    curves, erroneous = toy_qc_set(0, n=6)
    classifier = QCClassifier.from_config("sax", smoke_config.qc)
    with pytest.raises(ValueError, match="needs good and erroneous cases"):
        classifier.fit(curves, np.zeros(6, bool))
    curves[4]["lv_volume_ml"] = curves[4]["lv_volume_ml"] * np.nan
    with pytest.raises(ValueError, match="case 4: curve lv_volume_ml has NaN"):
        classifier.fit(curves, erroneous)
    with pytest.raises(ValueError, match="not fitted"):
        classifier.predict_proba(curves)
