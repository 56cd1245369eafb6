"""The QC operating point: scikit-learn's ROC, then the threshold maximising a weighted Youden index.

J_w = 2[w·Se + (1−w)·Sp] − 1 with w > 0.5 favours sensitivity — catching erroneous
segmentations matters more than passing good ones (the seed's choice). The threshold is
chosen on calibration cases (`choose_operating_point`) and then judged, unchanged, on test
cases the choice never saw (`operating_point_at`): a threshold chosen and scored on the same
cases reports the sensitivity it was chosen to have. Test sets are small, so a sensitivity
comes with its Wilson 95% interval; and the specificity the ROC allows at a target
sensitivity (the seed's 95%) is read off it, to show what that bar would cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve
from statsmodels.stats.proportion import proportion_confint

INTERVAL_CONFIDENCE = 0.95  # the convention for a reported interval


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float  # a case is called erroneous when P(erroneous) ≥ threshold
    sensitivity: float  # of erroneous cases, the fraction caught
    specificity: float  # of good cases, the fraction passed
    auc: float
    n: int  # cases it was chosen on (calibration) or judged on (test)
    n_erroneous: int
    sensitivity_weight: float

    def as_dict(self) -> dict:
        return asdict(self)


def weighted_youden(sensitivity: np.ndarray, specificity: np.ndarray, sensitivity_weight: float) -> np.ndarray:
    return 2.0 * (sensitivity_weight * sensitivity + (1.0 - sensitivity_weight) * specificity) - 1.0


def choose_operating_point(erroneous: np.ndarray, p_erroneous: np.ndarray, sensitivity_weight: float) -> OperatingPoint:
    """The ROC point of maximal J_w (the highest threshold among ties: fewest good cases lost), its
    threshold placed halfway to the next lower score: the same calls on these cases, with a margin.

    Without the margin the threshold is the lowest erroneous score seen, and an erroneous test case
    scored a hair below it is missed even when the classes are perfectly separated (a saturated
    classifier put every calibration error at 0.9995 and missed test errors at 0.9993).
    """
    erroneous, p_erroneous = _checked(erroneous, p_erroneous)
    _check_fraction("sensitivity weight", sensitivity_weight)
    false_positive_rate, true_positive_rate, thresholds = roc_curve(erroneous, p_erroneous, drop_intermediate=False)
    j_w = weighted_youden(true_positive_rate, 1.0 - false_positive_rate, sensitivity_weight)
    best = int(np.argmax(j_w))  # roc_curve orders thresholds high → low, so argmax takes the highest tie
    threshold = float(thresholds[best])  # +inf (roc_curve's first point) would mean "call nothing erroneous"
    if np.isfinite(threshold) and best + 1 < len(thresholds):
        threshold = 0.5 * (threshold + float(thresholds[best + 1]))
    return operating_point_at(erroneous, p_erroneous, threshold, sensitivity_weight)


def operating_point_at(
    erroneous: np.ndarray, p_erroneous: np.ndarray, threshold: float, sensitivity_weight: float
) -> OperatingPoint:
    """Sensitivity, specificity and AUC of cases at a given threshold (P(erroneous) ≥ threshold: erroneous)."""
    erroneous, p_erroneous = _checked(erroneous, p_erroneous)
    _check_fraction("sensitivity weight", sensitivity_weight)
    called = p_erroneous >= threshold
    return OperatingPoint(
        threshold=float(threshold),
        sensitivity=float(called[erroneous].mean()),
        specificity=float((~called[~erroneous]).mean()),
        auc=float(roc_auc_score(erroneous, p_erroneous)),
        n=len(erroneous),
        n_erroneous=int(erroneous.sum()),
        sensitivity_weight=float(sensitivity_weight),
    )


def specificity_at_sensitivity(erroneous: np.ndarray, p_erroneous: np.ndarray, target_sensitivity: float) -> float:
    """The best specificity of any threshold that catches at least `target_sensitivity` of the
    erroneous cases: a point read off these cases' ROC, not an operating point chosen elsewhere."""
    erroneous, p_erroneous = _checked(erroneous, p_erroneous)
    _check_fraction("target sensitivity", target_sensitivity)
    false_positive_rate, true_positive_rate, _ = roc_curve(erroneous, p_erroneous, drop_intermediate=False)
    return float((1.0 - false_positive_rate[true_positive_rate >= target_sensitivity]).max())


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson 95% interval of a proportion `successes / n`."""
    low, high = proportion_confint(successes, n, alpha=1.0 - INTERVAL_CONFIDENCE, method="wilson")
    return float(low), float(high)


def sensitivity_interval(point: OperatingPoint) -> tuple[float, float]:
    """Wilson 95% interval of a point's sensitivity (it was measured on `point.n_erroneous` cases)."""
    return wilson_interval(round(point.sensitivity * point.n_erroneous), point.n_erroneous)


def tally_by_source(erroneous: np.ndarray, called: np.ndarray, sources: list[str]) -> list[dict]:
    """Per source (sorted): erroneous cases and how many were caught, good cases and how many passed."""
    erroneous, called = np.asarray(erroneous, dtype=bool), np.asarray(called, dtype=bool)
    if not len(erroneous) == len(called) == len(sources):
        raise ValueError(f"{len(erroneous)} labels, {len(called)} calls and {len(sources)} sources must match")
    source_of = np.asarray(sources, dtype=object)
    rows = []
    for source in sorted(set(sources)):
        mine = source_of == source
        rows.append(
            {
                "source": source,
                "erroneous": int((erroneous & mine).sum()),
                "caught": int((called & erroneous & mine).sum()),
                "good": int((~erroneous & mine).sum()),
                "passed": int((~called & ~erroneous & mine).sum()),
            }
        )
    return rows


def _checked(erroneous, p_erroneous) -> tuple[np.ndarray, np.ndarray]:
    erroneous = np.asarray(erroneous, dtype=bool)
    p_erroneous = np.asarray(p_erroneous, dtype=np.float64)
    if erroneous.shape != p_erroneous.shape or erroneous.ndim != 1:
        raise ValueError(f"labels {erroneous.shape} and probabilities {p_erroneous.shape} must be 1-D and match")
    n_erroneous = int(erroneous.sum())
    if n_erroneous in (0, len(erroneous)):
        raise ValueError(f"an ROC needs both good and erroneous cases; got {n_erroneous} erroneous of {len(erroneous)}")
    return erroneous, p_erroneous


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
