"""The result tables of the experiment, built from per-case rows (pandas).

Column sets are the run folder's contract (docs/ARCHITECTURE.md); each builder returns
exactly those columns, in that order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ray_semiqc.evaluate.agreement import TABLE3_METRICS, agreement, manual_column
from ray_semiqc.evaluate.statistics import paired_t_test_p

TABLE1_COLUMNS = ("task", "scenario", "subjects", "images")
TABLE2_COLUMNS = ("task", "scenario", "dice_mean", "dice_sd", "p_value", "n")
TABLE3_COLUMNS = ("task", "scenario", "metric", "mean", "sd", "mae", "bias")
QC_COLUMNS = (
    "task",
    "sensitivity",
    "sensitivity_ci95_low",
    "sensitivity_ci95_high",
    "specificity",
    "auc",
    "threshold",
    "n",
    "n_erroneous",
    "target_sensitivity",
    "specificity_at_target",
)
QC_SOURCE_COLUMNS = ("task", "source", "erroneous", "caught", "good", "passed")
QC_CROSS_VALIDATION_COLUMNS = (
    "task",
    "folds",
    "sensitivity",
    "sensitivity_ci95_low",
    "sensitivity_ci95_high",
    "specificity",
    "auc_mean",
    "auc_min",
    "auc_max",
    "target_sensitivity",
    "specificity_at_target_mean",
    "n",
    "n_erroneous",
)
GROUP_DICE_COLUMNS = ("task", "scenario", "cohort_group", "dice_mean", "dice_sd", "n")
SELECTION_GROUP_COLUMNS = ("task", "scenario", "cohort_group", "subjects")
MANUAL_SCENARIO = "manual"
HEALTHY_GROUP = "healthy"


def cohort_group(group: str) -> str:
    """The seed's test set is half healthy, half cardiomyopathy: every non-healthy group is 'disease'."""
    if group == HEALTHY_GROUP:
        return HEALTHY_GROUP
    return "unknown" if group in (None, "", "unknown") else "disease"


def _ok_cases(per_case: pd.DataFrame) -> pd.DataFrame:
    return per_case[per_case["status"] == "ok"]


def table1(training_sets: pd.DataFrame) -> pd.DataFrame:
    """Subjects and labelled images (annotated frames) per training set; seeds have equal sizes, the first is shown."""
    first_seed = training_sets.sort_values("seed", kind="stable").drop_duplicates(["task", "scenario"], keep="first")
    return first_seed.loc[:, list(TABLE1_COLUMNS)].reset_index(drop=True)


def table2(per_case: pd.DataFrame, scenarios: tuple[str, ...], reference: str = "semiqcseg") -> pd.DataFrame:
    """Mean (SD) Dice in % per task × scenario, seeds pooled; paired t-test vs `reference` by (seed, subject)."""
    cases = _ok_cases(per_case)
    rows = []
    for task, task_cases in cases.groupby("task", sort=False):
        by_case = task_cases.pivot_table(index=["seed", "subject_id"], columns="scenario", values="dice_pct")
        for scenario in scenarios:
            if scenario not in by_case:
                continue
            dice = by_case[scenario].dropna()
            p_value = np.nan
            if scenario != reference and reference in by_case:
                paired = by_case[[scenario, reference]].dropna()
                p_value = paired_t_test_p(paired[scenario].to_numpy(), paired[reference].to_numpy())
            rows.append(
                {
                    "task": task,
                    "scenario": scenario,
                    "dice_mean": float(dice.mean()),
                    "dice_sd": float(dice.std(ddof=1)) if len(dice) > 1 else np.nan,
                    "p_value": p_value,
                    "n": int(len(dice)),
                }
            )
    return pd.DataFrame(rows, columns=list(TABLE2_COLUMNS))


def table3(per_case: pd.DataFrame, scenarios: tuple[str, ...], task: str = "sax") -> pd.DataFrame:
    """Clinical metrics (mean, SD) per scenario and the manual segmentation; MAE and bias vs manual."""
    cases = _ok_cases(per_case)
    cases = cases[cases["task"] == task]
    rows = []
    for scenario in (*scenarios, MANUAL_SCENARIO):
        # Manual values are the same truth for every scenario's row of a case: take them once per case.
        source = (
            cases.drop_duplicates(["seed", "subject_id"])
            if scenario == MANUAL_SCENARIO
            else cases[cases["scenario"] == scenario]
        )
        if source.empty:
            continue
        for metric in TABLE3_METRICS:
            manual = source[manual_column(metric)].to_numpy(dtype=np.float64)
            automated = manual if scenario == MANUAL_SCENARIO else source[metric].to_numpy(dtype=np.float64)
            stats = agreement(automated, manual)
            rows.append(
                {
                    "task": task,
                    "scenario": scenario,
                    "metric": metric,
                    **{k: stats[k] for k in ("mean", "sd", "mae", "bias")},
                }
            )
    return pd.DataFrame(rows, columns=list(TABLE3_COLUMNS))


def qc_table(qc_rows: list[dict]) -> pd.DataFrame:
    """One row per task (and seed, in order) with the QC classifier's operating point on its test subjects."""
    return pd.DataFrame(qc_rows).loc[:, list(QC_COLUMNS)] if qc_rows else pd.DataFrame(columns=list(QC_COLUMNS))


def qc_cross_validation_table(reports: list[dict]) -> pd.DataFrame:
    """One row per task (and seed, in order) of the cross-validated QC assessment (`qc.assessment.pool_folds`):
    the pooled operating point, and AUC and specificity at the target sensitivity over the folds."""
    rows = [
        {**report, "auc_min": min(report["auc_per_fold"]), "auc_max": max(report["auc_per_fold"])} for report in reports
    ]
    return pd.DataFrame(rows, columns=list(QC_CROSS_VALIDATION_COLUMNS))


def qc_source_table(source_rows: list[dict]) -> pd.DataFrame:
    """Test cases caught (erroneous) and passed (good) at the QC threshold, per task and source."""
    return pd.DataFrame(source_rows, columns=list(QC_SOURCE_COLUMNS))


def dice_by_cohort_group(per_case: pd.DataFrame, scenarios: tuple[str, ...]) -> pd.DataFrame:
    """Dice split healthy vs disease: does a scenario help only the easy (healthy) cases?"""
    cases = _ok_cases(per_case).assign(cohort_group=lambda frame: frame["group"].map(cohort_group))
    rows = []
    for (task, scenario, group), dice in cases.groupby(["task", "scenario", "cohort_group"], sort=False)["dice_pct"]:
        if scenario in scenarios:
            rows.append(
                {
                    "task": task,
                    "scenario": scenario,
                    "cohort_group": group,
                    "dice_mean": float(dice.mean()),
                    "dice_sd": float(dice.std(ddof=1)) if len(dice) > 1 else np.nan,
                    "n": int(len(dice)),
                }
            )
    order = {name: i for i, name in enumerate(scenarios)}
    table = pd.DataFrame(rows, columns=list(GROUP_DICE_COLUMNS))
    return table.sort_values(
        ["task", "scenario", "cohort_group"], key=lambda c: c.map(order) if c.name == "scenario" else c, kind="stable"
    ).reset_index(drop=True)


def selection_by_cohort_group(selection: pd.DataFrame) -> pd.DataFrame:
    """How many healthy vs disease subjects each augmented set took from the unlabelled pool."""
    counted = selection.assign(cohort_group=selection["group"].map(cohort_group))
    table = counted.groupby(["task", "scenario", "cohort_group"], sort=True).size().rename("subjects").reset_index()
    return table.loc[:, list(SELECTION_GROUP_COLUMNS)]
