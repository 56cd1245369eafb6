import dataclasses

import numpy as np
import pytest

from ray_semiqc.config import load_preset
from ray_semiqc.qc.failures import empty_frame, missed_basal_slice
from ray_semiqc.qc.reviewer import frame_dice, review_case
from ray_semiqc.tasks import AORTA, SAX


@pytest.fixture
def quiet_reviewer():
    """The clinical tolerances (10 % volume, 5 EF points, frame Dice 0.7) of the paper preset, no noise."""
    return dataclasses.replace(load_preset("paper").qc, reviewer_label_noise=0.0)


def test_the_truth_itself_is_reviewed_good(qc_truth, quiet_reviewer):
    for task in (SAX, AORTA):
        truth, spacing, record = qc_truth(task)
        verdict = review_case(task, truth, truth, spacing, record.ed_frame, quiet_reviewer, np.random.default_rng(0))
        assert not verdict.erroneous and verdict.reasons == ()
        assert verdict.min_frame_dice == verdict.mean_dice == 1.0


def test_a_missed_basal_slice_lowers_edv_and_is_flagged(qc_truth, quiet_reviewer):
    truth, spacing, record = qc_truth(SAX)
    failed = missed_basal_slice(truth, np.random.default_rng(0), 3)
    verdict = review_case(SAX, failed, truth, spacing, record.ed_frame, quiet_reviewer, np.random.default_rng(0))
    assert verdict.erroneous
    assert any(reason.startswith("lvedv_ml off by") for reason in verdict.reasons)


def test_an_empty_frame_has_dice_zero_there_and_is_flagged(qc_truth, quiet_reviewer):
    truth, spacing, record = qc_truth(AORTA)
    failed = empty_frame(truth, np.random.default_rng(3), 3)
    lost = int(np.flatnonzero(~failed.any(axis=(0, 1, 2)))[0])
    dice = frame_dice(AORTA, failed, truth)
    assert dice[lost, 0] == 0.0 and np.delete(dice[:, 0], lost).min() == 1.0
    verdict = review_case(AORTA, failed, truth, spacing, record.ed_frame, quiet_reviewer, np.random.default_rng(0))
    assert verdict.erroneous and f"Dice below 0.7 in frame(s) [{lost}]" in verdict.reasons


def test_reviewer_noise_flips_verdicts_at_its_rate(qc_truth, smoke_config):
    truth, spacing, record = qc_truth(AORTA)
    noisy = dataclasses.replace(smoke_config.qc, reviewer_label_noise=0.25)
    rng = np.random.default_rng(0)
    verdicts = [review_case(AORTA, truth, truth, spacing, record.ed_frame, noisy, rng) for _ in range(200)]
    flipped = [v for v in verdicts if v.erroneous]
    assert 0.15 < len(flipped) / len(verdicts) < 0.35
    assert all(not v.clinically_erroneous and "label noise" in v.reasons[-1] for v in flipped)


def test_dice_refuses_a_segmentation_of_another_shape(qc_truth):
    truth, _, _ = qc_truth(SAX)
    with pytest.raises(ValueError, match="differ in shape"):
        frame_dice(SAX, truth[..., :-1], truth)
