import numpy as np
import pyarrow as pa
import pytest

from ray_semiqc.measures import task_metrics
from ray_semiqc.qc.curves_table import CURVES_SCHEMA, curves_row
from ray_semiqc.qc.ranking import best_in_class, rank_cases, score_rows
from ray_semiqc.tasks import SAX


def _rows(sax_cycle) -> list[dict]:
    rng = np.random.default_rng(7)
    rows = []
    for index in range(6):
        curves = sax_cycle(rng, erroneous=index % 2 == 1)  # odd subjects have a lost frame
        rows.append(curves_row(f"s{index}", SAX, "res_unet/sax/half", curves, task_metrics(SAX, curves)))
    empty = {name: np.zeros(20) for name in SAX.curve_names}
    rows.append(curves_row("s_empty", SAX, "res_unet/sax/half", empty, task_metrics(SAX, empty)))
    rows.append(curves_row("s_failed", SAX, "res_unet/sax/half", error="subject s_failed: sa.nii.gz: file is empty"))
    return rows


def _scored_table(rows, classifier) -> pa.Table:
    return pa.Table.from_pylist(score_rows(rows, classifier), schema=CURVES_SCHEMA)


def test_scoring_fills_the_probability_or_says_why_not_and_names_the_qc_model(fitted_sax_qc, sax_cycle):
    scored = {row["subject_id"]: row for row in score_rows(_rows(sax_cycle), fitted_sax_qc)}
    assert all(0 <= scored[f"s{i}"]["qc_probability_good"] <= 1 for i in range(6))
    assert scored["s_empty"]["qc_probability_good"] is None and "zero in every frame" in scored["s_empty"]["qc_error"]
    assert {scored[s]["qc_model"] for s in scored if s != "s_failed"} == {fitted_sax_qc.version_}
    assert scored["s_failed"]["qc_model"] is None and scored["s_failed"]["qc_error"] is None


def test_accurate_cases_rank_first_and_unscorable_ones_last_with_their_reason(fitted_sax_qc, sax_cycle):
    ranking = rank_cases(_scored_table(_rows(sax_cycle), fitted_sax_qc)).to_pylist()
    assert [r["rank"] for r in ranking[:6]] == [1, 2, 3, 4, 5, 6]
    assert {r["subject_id"] for r in ranking[:3]} == {"s0", "s2", "s4"}
    probabilities = [r["qc_probability_good"] for r in ranking[:6]]
    assert probabilities == sorted(probabilities, reverse=True)
    unscored = {r["subject_id"]: r["unscored_reason"] for r in ranking[6:]}
    assert "zero in every frame" in unscored["s_empty"]
    assert "file is empty" in unscored["s_failed"]
    assert all(r["rank"] is None for r in ranking[6:])


def test_the_ranking_reads_the_stored_scores_and_never_rescores(fitted_sax_qc, sax_cycle):
    rows = score_rows(_rows(sax_cycle), fitted_sax_qc)
    rows[5]["qc_probability_good"] = 1.0  # a stored score is what the ranking uses
    ranking = rank_cases(pa.Table.from_pylist(rows, schema=CURVES_SCHEMA)).to_pylist()
    assert ranking[0]["subject_id"] == "s5" and ranking[0]["qc_model"] == fitted_sax_qc.version_


def test_unscored_or_mixed_tables_are_refused(fitted_sax_qc, sax_cycle):
    with pytest.raises(ValueError, match="never scored by a QC model"):
        rank_cases(pa.Table.from_pylist(_rows(sax_cycle), schema=CURVES_SCHEMA))
    rows = score_rows(_rows(sax_cycle), fitted_sax_qc)
    rows[0]["qc_model"] = "qc_lstm/sax/another"
    with pytest.raises(ValueError, match="scored by 2 QC models"):
        rank_cases(pa.Table.from_pylist(rows, schema=CURVES_SCHEMA))


def test_best_in_class_takes_the_top_k(fitted_sax_qc, sax_cycle):
    ranking = rank_cases(_scored_table(_rows(sax_cycle), fitted_sax_qc))
    top = best_in_class(ranking, 2).to_pylist()
    assert [r["rank"] for r in top] == [1, 2]
    assert set(r["subject_id"] for r in top) <= {"s0", "s2", "s4"}
    assert len(best_in_class(ranking, 30)) == 6  # only scored cases are candidates


def test_rows_of_another_task_are_refused(fitted_sax_qc):
    from ray_semiqc.tasks import AORTA

    aorta = curves_row("a0", AORTA, "vgg_fcn/aorta", {"aorta_area_mm2": np.full(12, 500.0)}, {})
    with pytest.raises(ValueError, match="a aorta row cannot be scored by a sax QC model"):
        score_rows([aorta], fitted_sax_qc)
