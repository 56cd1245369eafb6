import json

import numpy as np
import pytest

from ray_semiqc.qc.assessment import QCAssessment, pool_folds, split_subjects, subject_folds
from ray_semiqc.qc.threshold import operating_point_at


def _cases(n_subjects: int = 60, models: int = 2) -> list[dict]:
    """Every third subject erroneous; each subject segmented by `models` models (its cases stay together)."""
    return [
        {"subject_id": f"{i:03d}", "erroneous": i % 3 == 0, "model": f"model {m}"}
        for m in range(models)
        for i in range(n_subjects)
    ]


def test_split_is_by_subject_and_stratified():
    split = split_subjects(_cases(), 0.2, 0.2, seed=0)
    parts = [set(split.train), set(split.calibration), set(split.test)]
    assert sum(map(len, parts)) == len(set.union(*parts)) == 60  # each subject in exactly one part
    assert [len(part) for part in parts] == [36, 12, 12]
    assert [sum(int(s) % 3 == 0 for s in part) for part in parts] == [12, 4, 4]  # a third erroneous in each
    with pytest.raises(
        ValueError, match=r"subjects \(12 of 60\) have only good cases; the set has 4 erroneous cases of 120"
    ):
        split_subjects([{**c, "erroneous": c["subject_id"] in ("000", "003")} for c in _cases()], 0.2, 0.2, seed=0)


def test_folds_test_every_subject_once_and_keep_a_fifth_for_calibration():
    folds = subject_folds(_cases(), 5, 0.2, seed=0)
    tested = [s for split in folds for s in split.test]
    assert sorted(tested) == sorted({c["subject_id"] for c in _cases()})
    for split in folds:
        assert [len(split.train), len(split.calibration), len(split.test)] == [36, 12, 12]
        assert set(split.train).isdisjoint(split.calibration) and set(split.test).isdisjoint(
            split.train + split.calibration
        )
        assert sum(int(s) % 3 == 0 for s in split.test) == 4  # stratified: a third erroneous
    with pytest.raises(ValueError, match="cross-validation needs 2 to 60 folds"):
        subject_folds(_cases(), 1, 0.2, seed=0)


def _fold(erroneous, p_erroneous, threshold, sources) -> QCAssessment:
    erroneous, p_erroneous = np.array(erroneous), np.array(p_erroneous)
    point = operating_point_at(erroneous, p_erroneous, threshold, sensitivity_weight=0.8)
    return QCAssessment("sax", erroneous, p_erroneous, tuple(sources), point)


def test_pooled_folds_count_each_case_at_its_own_folds_threshold():
    first = _fold(
        erroneous=[True, True, False, False],
        p_erroneous=[0.9, 0.4, 0.3, 0.6],
        threshold=0.5,  # catches 0.9, misses 0.4; passes 0.3, flags 0.6
        sources=["a", "b", "a", "b"],
    )
    second = _fold(
        erroneous=[True, False, False],
        p_erroneous=[0.35, 0.2, 0.1],
        threshold=0.3,  # a lower threshold of its own: catches 0.35, passes both good cases
        sources=["a", "a", "b"],
    )
    pooled = pool_folds("sax", [first, second], target_sensitivity=0.95)
    assert (pooled["n"], pooled["n_erroneous"], pooled["folds"]) == (7, 3, 2)
    assert pooled["sensitivity"] == pytest.approx(2 / 3) and pooled["specificity"] == pytest.approx(3 / 4)
    assert pooled["sensitivity_ci95_low"] < 2 / 3 < pooled["sensitivity_ci95_high"]
    assert pooled["auc_mean"] == pytest.approx(0.875) and pooled["thresholds"] == [0.5, 0.3]
    # catching every error: threshold 0.4 in the first fold flags 0.6 (Sp 1/2); 0.35 in the second passes both (Sp 1)
    assert pooled["specificity_at_target_per_fold"] == pytest.approx([0.5, 1.0])
    assert pooled["by_source"] == [
        {"task": "sax", "source": "a", "erroneous": 2, "caught": 2, "good": 2, "passed": 2},
        {"task": "sax", "source": "b", "erroneous": 1, "caught": 0, "good": 2, "passed": 1},
    ]


def test_an_assessment_reports_its_test_cases_and_survives_a_json_round_trip():
    assessment = _fold(
        erroneous=[True, True, True, True, False, False],
        p_erroneous=[0.9, 0.8, 0.7, 0.2, 0.1, 0.6],
        threshold=0.5,  # catches 3 of 4 errors, passes 1 of 2 good cases
        sources=["m1", "m1", "injected: empty_frame", "m2", "m2", "m1"],
    )
    row = assessment.results_row(target_sensitivity=0.95)
    assert (row["sensitivity"], row["specificity"], row["n"], row["n_erroneous"]) == (0.75, 0.5, 6, 4)
    assert row["threshold"] == 0.5 and row["auc"] == pytest.approx(
        7 / 8
    )  # of 8 (error, good) pairs only 0.2 < 0.6 is misordered
    # catching all 4 errors needs a threshold ≤ 0.2: it flags the good case at 0.6, passes the one at 0.1
    assert row["specificity_at_target"] == 0.5
    assert assessment.results_by_source() == [
        {"task": "sax", "source": "injected: empty_frame", "erroneous": 1, "caught": 1, "good": 0, "passed": 0},
        {"task": "sax", "source": "m1", "erroneous": 2, "caught": 2, "good": 1, "passed": 0},
        {"task": "sax", "source": "m2", "erroneous": 1, "caught": 0, "good": 1, "passed": 1},
    ]
    again = QCAssessment.from_dict(json.loads(json.dumps(assessment.as_dict())))
    assert again.results_row(0.95) == row and again.results_by_source() == assessment.results_by_source()
