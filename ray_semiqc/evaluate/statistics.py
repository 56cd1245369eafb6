"""Paired comparisons of scenarios, as the seed reports them (paired t-test, `*` for p < .001)."""

from __future__ import annotations

import numpy as np
from scipy.stats import ttest_rel


def paired_t_test_p(scores: np.ndarray, reference_scores: np.ndarray) -> float:
    """Two-sided paired t-test p-value of per-case scores against the same cases' reference scores.

    NaN when there are fewer than two pairs or the differences are all equal (no variance).
    """
    scores, reference_scores = np.asarray(scores, dtype=np.float64), np.asarray(reference_scores, dtype=np.float64)
    if scores.shape != reference_scores.shape:
        raise ValueError(f"scores {scores.shape} and reference {reference_scores.shape} must pair up case by case")
    difference = scores - reference_scores
    if difference.size < 2 or np.allclose(difference, difference[0]):
        return float("nan")
    return float(ttest_rel(scores, reference_scores).pvalue)


def significance_mark(p_value: float, levels: tuple[float, ...]) -> str:
    """One `*` per significance level the p-value is below; '' when none (or NaN)."""
    if not np.isfinite(p_value):
        return ""
    return "*" * sum(p_value < level for level in levels)
