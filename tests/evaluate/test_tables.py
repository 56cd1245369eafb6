import numpy as np
import pandas as pd
import pytest

from ray_semiqc.evaluate.agreement import TABLE3_METRICS, manual_column
from ray_semiqc.evaluate.tables import (
    QC_COLUMNS,
    QC_CROSS_VALIDATION_COLUMNS,
    QC_SOURCE_COLUMNS,
    TABLE1_COLUMNS,
    TABLE2_COLUMNS,
    TABLE3_COLUMNS,
    dice_by_cohort_group,
    qc_cross_validation_table,
    qc_source_table,
    qc_table,
    selection_by_cohort_group,
    table1,
    table2,
    table3,
)
from ray_semiqc.qc.assessment import QCAssessment, pool_folds
from ray_semiqc.qc.threshold import operating_point_at

SCENARIOS = ("full", "half", "semiqcseg")


def per_case_rows() -> pd.DataFrame:
    """Four SAX test subjects (2 healthy, 2 DCM), one seed; semiqcseg beats half by 2–5 points."""
    half = [80.0, 70.0, 85.0, 60.0]
    gains = {"full": [3.0, 4.0, 1.0, 6.0], "half": [0.0] * 4, "semiqcseg": [2.0, 5.0, 3.0, 4.0]}
    rows = []
    for scenario in SCENARIOS:
        for i, (dice, gain) in enumerate(zip(half, gains[scenario])):
            row = {
                "task": "sax",
                "seed": 0,
                "scenario": scenario,
                "subject_id": f"s{i}",
                "group": "healthy" if i < 2 else "DCM",
                "status": "ok",
                "error": None,
                "dice_pct": dice + gain,
            }
            for metric in TABLE3_METRICS:
                row[manual_column(metric)] = 100.0 + i
                row[metric] = 100.0 + i + (5.0 if scenario == "half" else 1.0)
            rows.append(row)
    rows.append(
        {
            "task": "sax",
            "seed": 0,
            "scenario": "half",
            "subject_id": "bad",
            "group": "DCM",
            "status": "error",
            "error": "subject bad: sa.nii.gz: file is missing",
            "dice_pct": np.nan,
        }
    )
    return pd.DataFrame(rows)


def test_table2_has_the_exact_columns_and_pairs_cases_for_the_t_test():
    table = table2(per_case_rows(), SCENARIOS)
    assert tuple(table.columns) == TABLE2_COLUMNS
    half = table.set_index("scenario").loc["half"]
    assert half["dice_mean"] == pytest.approx(np.mean([80, 70, 85, 60]))
    assert half["n"] == 4  # the error row is not a case
    # semiqcseg − half differences 2, 5, 3, 4: t = 3.5 / (1.291/2) = 5.42, 3 dof → p = 0.0123
    assert half["p_value"] == pytest.approx(0.01228, abs=2e-4)
    assert np.isnan(table.set_index("scenario").loc["semiqcseg", "p_value"])


def test_table3_reports_bias_and_mae_against_manual_and_manual_rows():
    table = table3(per_case_rows(), SCENARIOS)
    assert tuple(table.columns) == TABLE3_COLUMNS
    half_lvedv = table[(table["scenario"] == "half") & (table["metric"] == "lvedv_ml")].iloc[0]
    assert half_lvedv["bias"] == pytest.approx(5.0)
    assert half_lvedv["mae"] == pytest.approx(5.0)
    manual = table[table["scenario"] == "manual"]
    assert len(manual) == len(TABLE3_METRICS)
    assert manual["bias"].eq(0).all()
    assert manual.iloc[0]["mean"] == pytest.approx(101.5)


def test_table1_keeps_the_first_seed_with_the_exact_columns():
    sizes = pd.DataFrame(
        [("sax", "half", 1, 3, 6), ("sax", "half", 0, 3, 6), ("sax", "semiqcseg", 0, 6, 66)],
        columns=["task", "scenario", "seed", "subjects", "images"],
    )
    table = table1(sizes)
    assert tuple(table.columns) == TABLE1_COLUMNS
    assert table.to_dict("records")[1] == {"task": "sax", "scenario": "semiqcseg", "subjects": 6, "images": 66}


def test_qc_table_columns():
    row = {**{name: 0.5 for name in QC_COLUMNS}, "task": "sax", "extra": 1}
    assert tuple(qc_table([row]).columns) == QC_COLUMNS
    assert tuple(qc_table([]).columns) == QC_COLUMNS
    source = {"task": "sax", "source": "injected: empty_frame", "erroneous": 4, "caught": 4, "good": 0, "passed": 0}
    assert qc_source_table([source]).to_dict("records") == [source]
    assert tuple(qc_source_table([]).columns) == QC_SOURCE_COLUMNS


def test_qc_cross_validation_table_pools_the_folds_and_spans_their_auc():
    def fold(erroneous, p_erroneous, threshold, auc):
        erroneous, p_erroneous = np.array(erroneous), np.array(p_erroneous)
        point = operating_point_at(erroneous, p_erroneous, threshold, sensitivity_weight=0.8)
        assert point.auc == auc
        return QCAssessment("sax", erroneous, p_erroneous, ("m",) * len(erroneous), point)

    # fold 1 catches 1 of 2 errors and passes both good cases; fold 2 catches its error and passes 1 of 2
    folds = [
        fold([True, True, False, False], [0.9, 0.4, 0.2, 0.1], 0.5, 1.0),
        fold([True, False, False], [0.5, 0.6, 0.3], 0.45, 0.5),
    ]
    table = qc_cross_validation_table([pool_folds("sax", folds, target_sensitivity=0.95)])
    assert tuple(table.columns) == QC_CROSS_VALIDATION_COLUMNS
    row = table.to_dict("records")[0]
    assert (row["folds"], row["n"], row["n_erroneous"]) == (2, 7, 3)
    assert row["sensitivity"] == pytest.approx(2 / 3) and row["specificity"] == pytest.approx(3 / 4)
    assert (row["auc_mean"], row["auc_min"], row["auc_max"]) == (0.75, 0.5, 1.0)
    assert tuple(qc_cross_validation_table([]).columns) == QC_CROSS_VALIDATION_COLUMNS


def test_dice_split_by_healthy_and_disease():
    table = dice_by_cohort_group(per_case_rows(), SCENARIOS)
    half = table[table["scenario"] == "half"].set_index("cohort_group")
    assert half.loc["healthy", "dice_mean"] == pytest.approx(75.0)
    assert half.loc["disease", "dice_mean"] == pytest.approx(72.5)
    assert half.loc["disease", "n"] == 2


def test_selection_counts_by_group():
    selection = pd.DataFrame({"task": ["sax"] * 3, "scenario": ["semiqcseg"] * 3, "group": ["healthy", "HCM", "DCM"]})
    counts = selection_by_cohort_group(selection).set_index("cohort_group")["subjects"]
    assert counts.to_dict() == {"disease": 2, "healthy": 1}
