import base64

import matplotlib.pyplot as plt
import pandas as pd

from ray_semiqc.evaluate.report import ReportContent, table2_beside_seed, write_report
from ray_semiqc.evaluate.tables import (
    QC_COLUMNS,
    QC_CROSS_VALIDATION_COLUMNS,
    QC_SOURCE_COLUMNS,
    TABLE1_COLUMNS,
    TABLE3_COLUMNS,
)


def small_tables() -> dict[str, pd.DataFrame]:
    table2 = pd.DataFrame(
        [("sax", "half", 81.234, 5.0, 0.0004, 10), ("sax", "semiqcseg", 85.0, 4.0, float("nan"), 10)],
        columns=["task", "scenario", "dice_mean", "dice_sd", "p_value", "n"],
    )
    return {
        "table1": pd.DataFrame([("sax", "half", 3, 6)], columns=list(TABLE1_COLUMNS)),
        "table2": table2,
        "table3": pd.DataFrame([("sax", "half", "lvedv_ml", 150.0, 30.0, 5.0, 2.0)], columns=list(TABLE3_COLUMNS)),
        "qc": pd.DataFrame([("sax", 0.95, 0.83, 0.99, 0.6, 0.9, 0.3, 40, 20, 0.95, 0.6)], columns=list(QC_COLUMNS)),
        "qc_by_source": pd.DataFrame(
            [("sax", "injected: temporal_spike", 3, 3, 0, 0)], columns=list(QC_SOURCE_COLUMNS)
        ),
        "dice_by_group": pd.DataFrame(columns=["task", "scenario", "cohort_group", "dice_mean", "dice_sd", "n"]),
        "selection_by_group": pd.DataFrame(columns=["task", "scenario", "cohort_group", "subjects"]),
    }


def test_table2_sits_beside_the_seed_with_its_significance_mark():
    beside = table2_beside_seed(small_tables()["table2"], (0.001,))
    half = beside.iloc[0]
    assert half["ours: Dice % mean (SD)"] == "81.23 (5.00)*"
    assert half["seed paper: Dice % mean (SD)"] == "82.57 (10.79)*"
    assert beside.iloc[1]["seed paper: Dice % mean (SD)"] == "89.44 (4.01)"


def test_report_is_self_contained_html_with_tables_and_embedded_figures(tmp_path):
    figure, axis = plt.subplots()
    axis.plot([0, 1], [0, 1])
    png = tmp_path / "line.png"
    figure.savefig(png)
    plt.close(figure)
    path = write_report(
        tmp_path / "run" / "report.html",
        ReportContent("smoke", small_tables(), [(png, "a line")], (0.001,), {"evaluate": 1.5}, ["a note"]),
    )
    text = path.read_text()
    assert "81.23 (5.00)*" in text and "89.44 (4.01)" in text  # ours beside the seed's Table 2
    assert "lvedv_ml" in text and "a note" in text and "evaluate" in text
    assert "specificity_at_target" in text and "injected: temporal_spike" in text
    assert f"data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}" in text
    assert 'src="http' not in text and "<script" not in text  # readable offline


def test_report_shows_the_cross_validated_qc_where_the_run_made_it(tmp_path):
    without = write_report(tmp_path / "a.html", ReportContent("smoke", small_tables(), [], (0.001,))).read_text()
    assert "cross-validated by subject" in without and "Not made by this run" in without
    tables = {
        **small_tables(),
        "qc_cross_validation": pd.DataFrame(
            [("sax", 5, 0.861, 0.807, 0.901, 0.678, 0.887, 0.861, 0.922, 0.95, 0.361, 360, 208)],
            columns=list(QC_CROSS_VALIDATION_COLUMNS),
        ),
        "qc_cross_validation_by_source": pd.DataFrame(
            [("sax", "injected: rv_leak_into_atrium", 26, 14, 1, 0)], columns=list(QC_SOURCE_COLUMNS)
        ),
    }
    text = write_report(tmp_path / "b.html", ReportContent("demo", tables, [], (0.001,))).read_text()
    assert "Not made by this run" not in text
    assert "0.861" in text and "0.922" in text and "injected: rv_leak_into_atrium" in text
