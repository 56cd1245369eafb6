"""Agreement of automated clinical metrics with those of the manual segmentation (Table 3)."""

from __future__ import annotations

import numpy as np

# The downstream metrics the seed reports for SAX (Table 3), as named by `measures`.
TABLE3_METRICS = ("lvedv_ml", "lvef_pct", "rvedv_ml", "rvef_pct")


def manual_column(metric: str) -> str:
    """per_case column holding the metric measured on the ground-truth segmentation."""
    return f"manual_{metric}"


def agreement(automated: np.ndarray, manual: np.ndarray) -> dict[str, float]:
    """Mean (SD) of the automated values, mean absolute error and Bland–Altman bias vs manual.

    Pairs where either value is NaN (a metric that could not be measured) are left out; `n`
    says how many pairs remained.
    """
    automated, manual = np.asarray(automated, dtype=np.float64), np.asarray(manual, dtype=np.float64)
    if automated.shape != manual.shape:
        raise ValueError(f"automated {automated.shape} and manual {manual.shape} values must pair up")
    both = np.isfinite(automated) & np.isfinite(manual)
    automated, manual = automated[both], manual[both]
    if automated.size == 0:
        return {"mean": np.nan, "sd": np.nan, "mae": np.nan, "bias": np.nan, "n": 0}
    difference = automated - manual
    return {
        "mean": float(automated.mean()),
        "sd": float(automated.std(ddof=1)) if automated.size > 1 else np.nan,
        "mae": float(np.abs(difference).mean()),
        "bias": float(difference.mean()),  # Bland–Altman: mean of (automated − manual)
        "n": int(automated.size),
    }
