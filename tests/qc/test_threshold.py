import numpy as np
import pytest

from ray_semiqc.qc.threshold import (
    choose_operating_point,
    operating_point_at,
    sensitivity_interval,
    specificity_at_sensitivity,
    weighted_youden,
)

# Hand-made scores: 4 erroneous (1), 6 good (0).
ERRONEOUS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
P_ERRONEOUS = np.array([0.9, 0.8, 0.6, 0.2, 0.7, 0.5, 0.3, 0.25, 0.1, 0.05])


def test_weighted_youden_by_hand():
    assert weighted_youden(np.array(1.0), np.array(0.5), 0.8) == pytest.approx(2 * (0.8 + 0.1) - 1)


def test_even_weights_pick_the_classic_youden_point():
    # calling from 0.6 down: Se 3/4, Sp 5/6 → J = 0.583, the best balanced point; the threshold sits
    # halfway to the next lower score (0.5), so the same cases are called with a margin
    point = choose_operating_point(ERRONEOUS, P_ERRONEOUS, 0.5)
    assert point.threshold == pytest.approx(0.55)
    assert (point.sensitivity, point.specificity) == pytest.approx((0.75, 5 / 6))


def test_sensitivity_weight_moves_the_point_to_catch_every_error():
    # threshold 0.2 catches all 4 (Se 1) but passes only 2/6 good: J_0.8 = 2(0.8 + 0.0667) − 1 = 0.733
    # against threshold 0.6: 2(0.6 + 0.1667) − 1 = 0.533
    point = choose_operating_point(ERRONEOUS, P_ERRONEOUS, 0.8)
    assert point.threshold == pytest.approx(0.15)  # halfway between 0.2 and the next score down, 0.1
    assert (point.sensitivity, point.specificity) == pytest.approx((1.0, 1 / 3))
    assert point.auc == pytest.approx(19 / 24)  # 6 + 6 + 5 + 2 = 19 of 24 (erroneous, good) pairs ordered right
    assert (point.n, point.n_erroneous) == (10, 4)


def test_a_threshold_at_the_lowest_score_has_no_lower_neighbour_to_move_toward():
    # w = 1: only sensitivity counts, the first point with Se 1 is the 0.2 threshold (the highest tie)
    assert choose_operating_point(ERRONEOUS, P_ERRONEOUS, 1.0).threshold == pytest.approx(0.15)
    point = choose_operating_point(np.array([True, False]), np.array([0.1, 0.9]), 1.0)  # catching it means calling all
    assert point.threshold == pytest.approx(0.1) and point.sensitivity == 1.0


def test_one_class_only_is_refused():
    with pytest.raises(ValueError, match="needs both good and erroneous cases; got 0 erroneous of 3"):
        choose_operating_point(np.zeros(3, bool), np.array([0.1, 0.2, 0.3]), 0.8)


def test_a_threshold_chosen_elsewhere_is_judged_unchanged_on_other_cases():
    # threshold 0.55 on the hand-made scores: catches 0.9, 0.8, 0.6 (Se 3/4); flags good 0.7 (Sp 5/6)
    point = operating_point_at(ERRONEOUS, P_ERRONEOUS, 0.55, 0.8)
    assert point.threshold == 0.55
    assert (point.sensitivity, point.specificity) == pytest.approx((0.75, 5 / 6))
    assert point.auc == pytest.approx(19 / 24) and (point.n, point.n_erroneous) == (10, 4)


def test_specificity_at_a_target_sensitivity_is_read_off_the_roc():
    # Se ≥ 0.75 first at threshold 0.6 (good 0.7 flagged: Sp 5/6); every error caught only at 0.2 (Sp 2/6);
    # half of them already at 0.8, above every good case (Sp 1)
    assert specificity_at_sensitivity(ERRONEOUS, P_ERRONEOUS, 0.75) == pytest.approx(5 / 6)
    assert specificity_at_sensitivity(ERRONEOUS, P_ERRONEOUS, 0.95) == pytest.approx(2 / 6)
    assert specificity_at_sensitivity(ERRONEOUS, P_ERRONEOUS, 0.5) == 1.0
    with pytest.raises(ValueError, match=r"target sensitivity must lie in \[0, 1\], got 95"):
        specificity_at_sensitivity(ERRONEOUS, P_ERRONEOUS, 95)


def test_sensitivity_interval_is_wilsons():
    point = operating_point_at(ERRONEOUS, P_ERRONEOUS, 0.55, 0.8)  # 3 of 4 caught
    z, n, p = 1.959964, 4, 0.75
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half_width = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert sensitivity_interval(point) == pytest.approx((centre - half_width, centre + half_width), abs=1e-6)
    assert sensitivity_interval(point) == pytest.approx((0.3006, 0.9544), abs=1e-4)
