import copy
import dataclasses

import numpy as np
import pytest
import torch

from ray_semiqc.qc.assessment import assess
from ray_semiqc.qc.classifier import QCClassifier


def test_learns_to_separate_dropped_frame_cycles_from_smooth_ones(fitted_sax_qc, toy_qc_set):
    curves, erroneous = toy_qc_set(1)
    p_erroneous = fitted_sax_qc.predict_proba(curves)[:, 1]
    assert p_erroneous[erroneous].min() > p_erroneous[~erroneous].max()


def test_a_cases_probability_does_not_depend_on_the_batch_it_is_scored_in(fitted_sax_qc, toy_qc_set):
    curves = toy_qc_set(2, n=9)[0]
    together = fitted_sax_qc.predict_proba(curves)[:, 1]
    one_by_one = np.array([fitted_sax_qc.predict_proba([case])[0, 1] for case in curves])
    np.testing.assert_allclose(one_by_one, together, rtol=1e-5)
    assert together.std() > 0.05  # the cases are told apart, not all scored alike


def test_parameters_come_from_the_config_and_survive_save_and_load(smoke_config, fitted_sax_qc, tmp_path):
    qc = dataclasses.replace(smoke_config.qc, lstm_hidden=8, epochs=2)
    classifier = QCClassifier.from_config("aorta", qc, seed=3)
    params = classifier.get_params()
    assert params == {name: getattr(qc, name) for name in params if name not in ("task", "seed")} | {
        "task": "aorta",
        "seed": 3,
    }
    assert set(params) == set(QCClassifier.parameter_names())
    loaded = QCClassifier.load(fitted_sax_qc.save(tmp_path / "qc.pt"))
    assert loaded.get_params() == fitted_sax_qc.get_params()


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


def test_save_load_round_trip_keeps_predictions_and_threshold(fitted_sax_qc, tmp_path, toy_qc_set):
    curves, erroneous = toy_qc_set(3, n=12)
    calibrated = copy.deepcopy(fitted_sax_qc).calibrate(curves, erroneous, sensitivity_weight=0.8)
    loaded = QCClassifier.load(calibrated.save(tmp_path / "qc.pt"), expect_task="sax")
    np.testing.assert_allclose(loaded.predict_proba(curves), calibrated.predict_proba(curves), rtol=1e-6)
    assert loaded.operating_point_ == calibrated.operating_point_ and loaded.version_ == calibrated.version_
    np.testing.assert_array_equal(loaded.predict(curves), calibrated.predict(curves))


def test_assessment_is_a_value_judged_at_the_calibrated_threshold(fitted_sax_qc, toy_qc_set):
    classifier = copy.deepcopy(fitted_sax_qc)
    with pytest.raises(ValueError, match="no operating threshold"):
        assess(classifier, *toy_qc_set(6, n=10))
    classifier.calibrate(*toy_qc_set(3, n=12), sensitivity_weight=0.8)
    curves, erroneous = toy_qc_set(7, n=12)  # cases 0, 3, 6, 9 erroneous
    sources = ["injected: empty_frame" if i % 2 == 0 else "res_unet/sax/smoke/seed0/step60" for i in range(12)]
    with pytest.raises(ValueError, match="12 test cases but 2 sources"):
        assess(classifier, curves, erroneous, sources[:2])
    assessment = assess(classifier, curves, erroneous, sources)
    assert not hasattr(classifier, "test_point_")  # the estimator holds what it learned, not how it was judged
    assert assessment.point.threshold == classifier.operating_point_.threshold  # chosen on calibration cases
    rows = assessment.results_by_source()
    assert [(r["source"], r["erroneous"], r["good"]) for r in rows] == [
        ("injected: empty_frame", 2, 4),  # cases 0, 6 of the even ones
        ("res_unet/sax/smoke/seed0/step60", 2, 4),  # cases 3, 9
    ]
    assert sum(r["caught"] for r in rows) == round(assessment.point.sensitivity * 4)
    assert sum(r["passed"] for r in rows) == round(assessment.point.specificity * 8)
    row = assessment.results_row(0.95)
    assert (row["n"], row["n_erroneous"]) == (12, 4) and row["specificity_at_target"] >= 0
    assert assess(classifier, curves, erroneous).results_by_source() == []


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
