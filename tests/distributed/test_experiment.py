"""The whole smoke experiment end to end on Ray: both tasks, five scenarios, one seed; then resume."""

import json

import pandas as pd
import pytest

from ray_semiqc.distributed.experiment import evaluate_run, run_experiment
from ray_semiqc.evaluate.selection import SELECTION_COLUMNS, SELECTION_QUALITY_COLUMNS
from ray_semiqc.evaluate.tables import (
    QC_COLUMNS,
    QC_CROSS_VALIDATION_COLUMNS,
    QC_SOURCE_COLUMNS,
    TABLE1_COLUMNS,
    TABLE2_COLUMNS,
    TABLE3_COLUMNS,
)
from ray_semiqc.run_layout import RunLayout

SCENARIOS = ("full", "half", "ssl_noqc", "ssl_crf", "semiqcseg")


@pytest.fixture(scope="module")
def experiment_config(smoke_config):
    """The smoke preset as it is: its QC snapshots and lenient reviewer are what a 60-step model needs."""
    return smoke_config


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, ray_session, experiment_config, smoke_cohort):
    run = tmp_path_factory.mktemp("smoke_run")
    report = run_experiment(experiment_config, smoke_cohort, run)
    return run, report


def test_every_results_table_has_its_contract_columns(smoke_run):
    results = smoke_run[0] / "results"
    expected = {
        "table1": TABLE1_COLUMNS,
        "table2": TABLE2_COLUMNS,
        "table3": TABLE3_COLUMNS,
        "qc": QC_COLUMNS,
        "qc_by_source": QC_SOURCE_COLUMNS,
        "qc_cross_validation": QC_CROSS_VALIDATION_COLUMNS,
        "qc_cross_validation_by_source": QC_SOURCE_COLUMNS,
        "selection_quality": SELECTION_QUALITY_COLUMNS,
    }
    for name, columns in expected.items():
        assert tuple(pd.read_csv(results / f"{name}.csv").columns) == columns, name


def test_every_test_subject_is_scored_for_every_scenario_and_task(smoke_run, experiment_config):
    table2 = pd.read_csv(smoke_run[0] / "results" / "table2.csv")
    for task in ("aorta", "sax"):
        assert set(table2[table2["task"] == task]["scenario"]) == set(SCENARIOS)
    assert (table2["n"] == experiment_config.phantom.test_subjects).all()
    assert table2["dice_mean"].between(0, 100).all()
    assert table2[table2["scenario"] == "semiqcseg"]["p_value"].isna().all()  # the reference of the t-tests


def test_the_ssl_sets_are_the_half_set_plus_k_full_cycle_subjects(smoke_run, experiment_config):
    table1 = pd.read_csv(smoke_run[0] / "results" / "table1.csv")
    k = experiment_config.experiment.best_in_class_k
    for task in ("aorta", "sax"):
        sizes = table1[table1["task"] == task].set_index("scenario")
        for scenario in ("ssl_noqc", "ssl_crf", "semiqcseg"):
            assert sizes.loc[scenario, "subjects"] == sizes.loc["half", "subjects"] + k
            assert sizes.loc[scenario, "images"] > sizes.loc["half", "images"]
        assert sizes.loc["full", "subjects"] > sizes.loc["half", "subjects"]


def test_the_qc_results_count_every_test_case_once(smoke_run, experiment_config):
    run = smoke_run[0]
    results = run / "results"
    by_source = pd.read_csv(results / "qc_by_source.csv")
    qc = pd.read_csv(results / "qc.csv").set_index("task")
    assert by_source.groupby("task")[["erroneous", "good"]].sum().sum(axis=1).to_dict() == qc["n"].to_dict()
    # the QC method cross-validated by subject: every usable case of each task's QC set tested once
    cross_validated = pd.read_csv(results / "qc_cross_validation.csv").set_index("task")
    assert (cross_validated["folds"] == experiment_config.qc.assessment_folds).all()
    for task in ("aorta", "sax"):
        qc_set = pd.read_parquet(RunLayout(run).qc_dir(task, 0) / "set.parquet")
        usable = qc_set[(qc_set["status"] == "ok") & qc_set["qc_error"].isna()]
        assert (cross_validated.loc[task, "n"], cross_validated.loc[task, "n_erroneous"]) == (
            len(usable),
            usable["erroneous"].sum(),
        )
    cv_by_source = pd.read_csv(results / "qc_cross_validation_by_source.csv")
    assert (
        cv_by_source.groupby("task")[["erroneous", "good"]].sum().sum(axis=1).to_dict()
        == cross_validated["n"].to_dict()
    )


def test_how_good_the_chosen_pseudo_labels_were_is_reported_against_the_hidden_truth(smoke_run, experiment_config):
    quality = pd.read_csv(smoke_run[0] / "results" / "selection_quality.csv")
    assert quality.groupby("task").size().to_dict() == {"aorta": 3, "sax": 3}
    assert quality["true_dice_mean"].between(0, 100).all()
    pool = quality[quality["chosen_by"] == "whole segmented pool"]
    assert (pool["subjects"] == experiment_config.phantom.unlabelled_subjects).all()


def test_selection_is_an_audit_trail_of_k_subjects_per_augmented_set(smoke_run, experiment_config):
    run, _ = smoke_run
    selection = pd.read_parquet(run / "results" / "selection.parquet")
    assert tuple(selection.columns) == SELECTION_COLUMNS
    k = experiment_config.experiment.best_in_class_k
    counts = selection.groupby(["task", "scenario"]).size()
    assert (counts == k).all() and len(counts) == 2 * 3
    best = selection[selection["scenario"] == "semiqcseg"]
    assert sorted(best[best["task"] == "sax"]["rank"]) == list(range(1, k + 1))
    for task in ("aorta", "sax"):
        noqc = selection[(selection["task"] == task) & (selection["scenario"] == "ssl_noqc")]["subject_id"]
        crf = selection[(selection["task"] == task) & (selection["scenario"] == "ssl_crf")]["subject_id"]
        assert sorted(noqc) == sorted(crf)
    assert len(list((run / "pseudo").glob("*/ssl_crf/seed0/*/label_*.nii.gz"))) == 2 * k


def test_report_holds_the_tables_and_figures_offline(smoke_run):
    run, report = smoke_run
    text = report.read_text()
    assert "seed paper: Dice % mean (SD)" in text and "data:image/png;base64," in text
    assert "cross-validated by subject" in text and "Not made by this run" not in text
    figures = {p.name for p in (run / "figures").glob("*.png")}
    for task in ("aorta", "sax"):
        assert {
            f"fig2_dice_change_{task}.png",
            f"fig3_panel_{task}.png",
            f"curves_{task}.png",
            f"qc_roc_{task}_seed0.png",
        } <= figures
    per_case = pd.read_parquet(run / "results" / "per_case.parquet")
    assert {
        "task",
        "seed",
        "scenario",
        "subject_id",
        "group",
        "status",
        "dice_pct",
        "lvef_pct",
        "manual_lvef_pct",
    } <= set(per_case.columns)


def test_a_restarted_driver_resumes_without_retraining(smoke_run, experiment_config, smoke_cohort):
    run, report = smoke_run
    state_path = RunLayout(run).state
    state = json.loads(state_path.read_text())
    model = run / "models" / "sax" / "semiqcseg" / "seed0" / "model.pt"
    trained_at = model.stat().st_mtime_ns
    # forget the last two stages, as if the driver died after training
    state["completed"] = {k: v for k, v in state["completed"].items() if not k.startswith(("evaluate/", "results"))}
    state_path.write_text(json.dumps(state))
    report.unlink()
    assert run_experiment(experiment_config, smoke_cohort, run) == report
    assert report.exists() and model.stat().st_mtime_ns == trained_at
    assert "results" in json.loads(state_path.read_text())["completed"]


def test_a_run_with_other_options_is_refused(smoke_run, experiment_config, smoke_cohort):
    run, _ = smoke_run
    with pytest.raises(ValueError, match="another configuration"):
        run_experiment(experiment_config.replace(experiment={"best_in_class_k": 2}), smoke_cohort, run)


def test_a_run_is_evaluated_on_another_cohort_folder(smoke_run, experiment_config, smoke_cohort, tmp_path):
    run, _ = smoke_run
    report = evaluate_run(run, smoke_cohort, tmp_path / "elsewhere")
    per_case = pd.read_parquet(tmp_path / "elsewhere" / "results" / "per_case.parquet")
    assert report.exists() and len(per_case) == 2 * len(SCENARIOS) * experiment_config.phantom.test_subjects
