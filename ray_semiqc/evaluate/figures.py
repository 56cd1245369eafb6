"""The experiment's figures as PNG files.

Fig 2 of the seed: per-case Dice change of semiQCSeg vs half-data training; Fig 3: one
subject's segmentation across scenarios with ground-truth contours; one subject's cycle
curves per scenario against the manual curves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure  # no pyplot: no global backend or figure state, safe on headless workers

from ray_semiqc.evaluate.seed_tables import SCENARIO_TITLES
from ray_semiqc.evaluate.tables import cohort_group
from ray_semiqc.tasks import Task

_GROUP_COLOURS = {"healthy": "tab:green", "disease": "tab:red", "unknown": "tab:grey"}
_CLASS_COLOURS = ("none", "tab:red", "tab:green", "tab:blue")  # index = label value (SAX: LV, Myo, RV)


def dice_change_figure(per_case: pd.DataFrame, task: str, baseline: str = "half", target: str = "semiqcseg") -> Figure:
    """Fig 2: Dice(target) − Dice(baseline) per case against the baseline Dice, coloured healthy/disease."""
    cases = per_case[(per_case["task"] == task) & (per_case["status"] == "ok")]
    paired = cases.pivot_table(
        index=["seed", "subject_id", "group"], columns="scenario", values="dice_pct"
    ).reset_index()
    figure = Figure(figsize=(5, 4))
    axis = figure.subplots()
    if baseline in paired and target in paired:
        paired = paired.dropna(subset=[baseline, target])
        for group, cases_in_group in paired.groupby(paired["group"].map(cohort_group)):
            axis.scatter(
                cases_in_group[baseline],
                cases_in_group[target] - cases_in_group[baseline],
                s=18,
                color=_GROUP_COLOURS.get(group, "tab:grey"),
                label=f"{group} (n={len(cases_in_group)})",
            )
        axis.legend(fontsize=8)
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xlabel(f"Dice of {SCENARIO_TITLES.get(baseline, baseline)} (%)")
    axis.set_ylabel(f"Dice change with {SCENARIO_TITLES.get(target, target)} (points)")
    axis.set_title(f"{task}: per-case change in Dice vs {baseline}")
    return figure


def segmentation_panel_figure(
    image: np.ndarray, truth: np.ndarray, predictions: dict[str, np.ndarray], task: Task, subject_id: str
) -> Figure:
    """Fig 3: one slice per scenario (then the manual one), the prediction filled, the ground truth as contours."""
    panels = [*predictions.items(), ("manual", truth)]
    figure = Figure(figsize=(2.4 * len(panels), 2.8))
    axes = figure.subplots(1, len(panels))
    for axis, (scenario, labels) in zip(np.atleast_1d(axes), panels):
        axis.imshow(image.T, cmap="gray", origin="lower")
        overlay = np.ma.masked_equal(labels.T, 0)
        axis.imshow(
            overlay,
            cmap=ListedColormap(_CLASS_COLOURS[: task.n_classes]),
            vmin=0,
            vmax=task.n_classes - 1,
            alpha=0.45,
            origin="lower",
            interpolation="nearest",
        )
        for label_value in range(1, task.n_classes):
            if (truth == label_value).any():
                axis.contour((truth == label_value).T, levels=[0.5], colors="yellow", linewidths=0.7, origin="lower")
        axis.set_title(SCENARIO_TITLES.get(scenario, scenario), fontsize=8)
        axis.axis("off")
    figure.suptitle(f"{task.name}: subject {subject_id}, mid slice at end-diastole (yellow: ground truth)", fontsize=9)
    return figure


def cycle_curves_figure(
    truth_curves: dict[str, np.ndarray], predicted_curves: dict[str, dict[str, np.ndarray]], task: Task, subject_id: str
) -> Figure:
    """One subject's curves over the cardiac cycle: each scenario against the manual segmentation."""
    figure = Figure(figsize=(4.2 * len(task.curve_names), 3.2))
    axes = figure.subplots(1, len(task.curve_names), squeeze=False)
    for axis, curve in zip(axes[0], task.curve_names):
        axis.plot(truth_curves[curve], color="black", linewidth=2.2, label="manual")
        for scenario, curves in predicted_curves.items():
            axis.plot(curves[curve], linewidth=1.0, label=SCENARIO_TITLES.get(scenario, scenario))
        axis.set_xlabel("frame")
        axis.set_ylabel(curve)
    axes[0][-1].legend(fontsize=7)
    figure.suptitle(f"{task.name}: cycle curves of subject {subject_id}", fontsize=9)
    return figure
