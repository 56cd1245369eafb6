import numpy as np
import pytest
from scipy.stats import ttest_rel

from ray_semiqc.evaluate.agreement import agreement
from ray_semiqc.evaluate.statistics import paired_t_test_p, significance_mark


def test_paired_t_test_matches_the_textbook_statistic():
    reference = np.array([90.0, 85.0, 88.0, 92.0, 80.0])
    scores = reference - np.array([1.0, 2.0, 1.5, 3.0, 2.5])
    # d̄ = 2, s_d = 0.7906, t = d̄ / (s_d/√5) = 5.657 with 4 dof
    assert paired_t_test_p(scores, reference) == pytest.approx(ttest_rel(scores, reference).pvalue)
    assert paired_t_test_p(scores, reference) == pytest.approx(0.00482, abs=1e-4)


def test_constant_difference_has_no_p_value():
    assert np.isnan(paired_t_test_p(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0])))


def test_seed_marks_only_below_one_in_a_thousand():
    assert significance_mark(0.0009, (0.001,)) == "*"
    assert significance_mark(0.0011, (0.001,)) == ""
    assert significance_mark(float("nan"), (0.001,)) == ""
    assert significance_mark(0.001, (0.05, 0.001)) == "*"


def test_agreement_mae_and_bland_altman_bias_by_hand():
    automated = np.array([110.0, 95.0, 130.0, np.nan])
    manual = np.array([100.0, 100.0, 120.0, 90.0])
    stats = agreement(automated, manual)
    assert stats["n"] == 3  # the NaN pair is left out
    assert stats["mean"] == pytest.approx(335 / 3)
    assert stats["mae"] == pytest.approx((10 + 5 + 10) / 3)
    assert stats["bias"] == pytest.approx((10 - 5 + 10) / 3)
    assert stats["sd"] == pytest.approx(np.std([110, 95, 130], ddof=1))
