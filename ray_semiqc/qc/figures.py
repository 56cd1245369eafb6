"""QC pictures: one subject's cycle curves with its verdict, and the QC ROC with its operating point.

Figures are built as `matplotlib.figure.Figure` objects, not through pyplot, so no backend
or global state is touched: `savefig` renders with Agg, on headless workers too.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from ray_semiqc.qc.assessment import QCAssessment
from ray_semiqc.tasks import Task

CURVE_TITLES = {
    "lv_volume_ml": "LV blood pool (mL)",
    "myo_volume_ml": "Myocardium (mL)",
    "rv_volume_ml": "RV blood pool (mL)",
    "aorta_area_mm2": "Ascending aorta (mm²)",
}


def subject_curves_figure(
    task: Task,
    curves: dict[str, np.ndarray],
    subject_id: str,
    qc_probability_good: float | None = None,
    threshold_p_erroneous: float | None = None,
    truth_curves: dict[str, np.ndarray] | None = None,
) -> Figure:
    """One panel per curve over the cycle (truth dashed when given); the title carries the QC verdict."""
    names = task.curve_names
    figure = Figure(figsize=(3.6 * len(names), 3.0))
    axes = figure.subplots(1, len(names), squeeze=False)
    for axis, name in zip(axes[0], names):
        frames = np.arange(len(curves[name]))
        axis.plot(frames, curves[name], marker="o", markersize=3, color="tab:blue", label="segmentation")
        if truth_curves is not None:
            axis.plot(frames, truth_curves[name], linestyle="--", color="black", label="truth")
        axis.set_title(CURVE_TITLES.get(name, name), fontsize=10)
        axis.set_xlabel("frame")
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    if truth_curves is not None:
        axes[0][0].legend(fontsize=8)
    figure.suptitle(
        f"{task.name.upper()} {subject_id}: {_verdict(qc_probability_good, threshold_p_erroneous)}", fontsize=11
    )
    return figure


def _verdict(qc_probability_good: float | None, threshold_p_erroneous: float | None) -> str:
    if qc_probability_good is None:
        return "not scored by QC"
    text = f"P(accurate) = {qc_probability_good:.2f}"
    if threshold_p_erroneous is None:
        return text
    called = "erroneous" if 1.0 - qc_probability_good >= threshold_p_erroneous else "good"
    return f"{text} → QC: {called}"


def qc_roc_figure(assessment: QCAssessment) -> Figure:
    """ROC of a classifier on its test cases, with the operating point of the threshold chosen on calibration cases."""
    point = assessment.point
    false_positive_rate, true_positive_rate, _ = roc_curve(assessment.erroneous, assessment.p_erroneous)
    figure = Figure(figsize=(4.2, 4.0))
    axis = figure.subplots()
    axis.plot(false_positive_rate, true_positive_rate, color="tab:blue", label=f"AUC = {point.auc:.3f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.plot(
        1 - point.specificity,
        point.sensitivity,
        "o",
        color="tab:red",
        label=f"threshold {point.threshold:.2f}: Se {point.sensitivity:.2f}, Sp {point.specificity:.2f}",
    )
    axis.set_xlabel("1 − specificity (good cases flagged)")
    axis.set_ylabel("sensitivity (erroneous cases caught)")
    axis.set_title(
        f"{assessment.task.upper()} QC, test n = {point.n} ({point.n_erroneous} erroneous)\n"
        f"threshold from calibration cases, J_w (w = {point.sensitivity_weight:g})",
        fontsize=10,
    )
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    axis.legend(loc="lower right", fontsize=8)
    axis.grid(alpha=0.3)
    return figure
