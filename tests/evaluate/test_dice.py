import numpy as np
import pytest

from ray_semiqc.evaluate.dice import dice_columns, subject_dice_pct
from ray_semiqc.tasks import AORTA, SAX


def test_aorta_dice_matches_hand_count_over_all_frames():
    truth = np.zeros((4, 4, 1, 2), np.uint8)
    truth[:2, :2] = 1  # 4 voxels per frame, 8 in all
    predicted = np.zeros_like(truth)
    predicted[:2, :1] = 1  # 2 per frame, all inside the truth: overlap 4
    scores = subject_dice_pct(AORTA, predicted, truth)
    assert scores["dice_pct"] == pytest.approx(100 * 2 * 4 / (4 + 8))
    assert list(scores) == list(dice_columns(AORTA))


def test_sax_dice_is_the_unweighted_mean_of_lv_myo_rv():
    truth = np.zeros((6, 6, 2, 3), np.uint8)
    truth[0:2, 0:2] = 1
    truth[2:4, 2:4] = 2
    truth[4:6, 4:6] = 3
    predicted = truth.copy()
    predicted[4:6, 4:6, :, 0] = 0  # RV missed in frame 0 only: RV Dice = 2·16/(16+24)
    scores = subject_dice_pct(SAX, predicted, truth)
    assert scores["dice_lv_pct"] == pytest.approx(100.0)
    assert scores["dice_myo_pct"] == pytest.approx(100.0)
    assert scores["dice_rv_pct"] == pytest.approx(100 * 2 * 16 / 40)
    assert scores["dice_pct"] == pytest.approx((200 + 80) / 3)


def test_class_absent_from_truth_and_prediction_scores_full_marks():
    truth = np.zeros((4, 4, 1, 1), np.uint8)
    truth[:2, :2] = 1
    assert subject_dice_pct(SAX, truth, truth)["dice_rv_pct"] == pytest.approx(100.0)


def test_frames_restrict_the_overlap_to_those_frames():
    truth = np.ones((3, 3, 1, 2), np.uint8)
    predicted = truth.copy()
    predicted[..., 1] = 0
    assert subject_dice_pct(AORTA, predicted, truth, frames=[0])["dice_pct"] == pytest.approx(100.0)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same X×Y×Z×T shape"):
        subject_dice_pct(AORTA, np.zeros((2, 2, 1, 1)), np.zeros((2, 2, 1, 2)))
