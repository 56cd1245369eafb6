import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.cohort.nifti import read_volume, write_volume
from ray_semiqc.cohort.truth import truth_relative_path
from ray_semiqc.evaluate.selection import SELECTION_COLUMNS, pool_true_dice, select_augmentation, selection_quality
from ray_semiqc.qc.ranking import RANKING_SCHEMA
from ray_semiqc.tasks import SAX


def ranking_of(probabilities: dict[str, float]) -> pa.Table:
    ordered = sorted(probabilities, key=lambda s: -probabilities[s])
    rows = [
        {
            "rank": i,
            "subject_id": s,
            "task": "sax",
            "qc_probability_good": probabilities[s],
            "model": "m",
            "qc_model": "q",
            "unscored_reason": None,
        }
        for i, s in enumerate(ordered, start=1)
    ]
    rows.append(
        {
            "rank": None,
            "subject_id": "u9",
            "task": "sax",
            "qc_probability_good": None,
            "model": "m",
            "qc_model": "q",
            "unscored_reason": "error: subject u9: sa.nii.gz: file is missing",
        }
    )
    return pa.Table.from_pylist(rows, schema=RANKING_SCHEMA)


PROBABILITIES = {f"u{i}": p for i, p in enumerate([0.2, 0.9, 0.5, 0.95, 0.1, 0.7])}
SEGMENTED = sorted(PROBABILITIES)
GROUPS = {"u1": "healthy", "u3": "DCM"}
SCENARIOS = ("half", "ssl_noqc", "ssl_crf", "semiqcseg")


def test_semiqcseg_takes_the_top_k_by_qc_probability_with_reasons():
    chosen = select_augmentation(
        ranking_of(PROBABILITIES),
        SEGMENTED,
        GROUPS,
        task="sax",
        seed=0,
        k=2,
        scenarios=SCENARIOS,
        rng=np.random.default_rng(0),
    )
    assert tuple(chosen.columns) == SELECTION_COLUMNS
    best = chosen[chosen["scenario"] == "semiqcseg"]
    assert best["subject_id"].tolist() == ["u3", "u1"]
    assert best["rank"].tolist() == [1, 2]
    assert best["group"].tolist() == ["DCM", "healthy"]
    assert best["reason"].iloc[0] == "best in class: QC rank 1 of 6 scored"


def test_random_scenarios_share_the_same_seeded_subjects():
    first = select_augmentation(
        ranking_of(PROBABILITIES),
        SEGMENTED,
        GROUPS,
        task="sax",
        seed=3,
        k=3,
        scenarios=SCENARIOS,
        rng=np.random.default_rng(3),
    )
    again = select_augmentation(
        ranking_of(PROBABILITIES),
        SEGMENTED,
        GROUPS,
        task="sax",
        seed=3,
        k=3,
        scenarios=SCENARIOS,
        rng=np.random.default_rng(3),
    )
    noqc = first[first["scenario"] == "ssl_noqc"]["subject_id"].tolist()
    assert noqc == first[first["scenario"] == "ssl_crf"]["subject_id"].tolist()
    assert noqc == again[again["scenario"] == "ssl_noqc"]["subject_id"].tolist()
    assert len(set(noqc)) == 3 and set(noqc) <= set(SEGMENTED)
    assert "no QC" in first[first["scenario"] == "ssl_noqc"]["reason"].iloc[0]


def test_only_requested_scenarios_are_selected():
    chosen = select_augmentation(
        ranking_of(PROBABILITIES),
        SEGMENTED,
        GROUPS,
        task="sax",
        seed=0,
        k=2,
        scenarios=("semiqcseg",),
        rng=np.random.default_rng(0),
    )
    assert set(chosen["scenario"]) == {"semiqcseg"}


def test_pool_true_dice_scores_each_pseudo_label_against_the_hidden_truth(smoke_cohort, tmp_path):
    records = read_manifest(smoke_cohort).split("unlabelled")
    exact, emptied, unsegmented = records[:3]
    for record, keep in ((exact, True), (emptied, False)):
        truth_path = smoke_cohort / truth_relative_path(record.subject_id, SAX)
        truth = np.rint(read_volume(truth_path, record.subject_id, dtype=np.float64).data).astype(np.uint8)
        write_volume(tmp_path / record.subject_id / SAX.seg_file, truth if keep else np.zeros_like(truth), np.eye(4))
    dice = pool_true_dice(smoke_cohort, records, "sax", tmp_path)
    # a perfect mask scores 1; an empty one against a heart scores 0; no mask, no figure
    assert dice == {exact.subject_id: 1.0, emptied.subject_id: 0.0}
    assert unsegmented.subject_id not in dice


def test_selection_quality_compares_the_qc_top_k_with_the_random_k_and_the_pool():
    selection = pd.DataFrame(
        [
            ("sax", 0, "semiqcseg", "a", "healthy"),
            ("sax", 0, "semiqcseg", "b", "DCM"),
            ("sax", 0, "ssl_noqc", "c", "healthy"),
            ("sax", 0, "ssl_noqc", "d", "HCM"),
            ("sax", 0, "ssl_crf", "c", "healthy"),  # the same random draw: counted once
            ("sax", 0, "ssl_crf", "d", "HCM"),
        ],
        columns=["task", "seed", "scenario", "subject_id", "group"],
    )
    pool = {("sax", 0): {"a": 0.9, "b": 0.8, "c": 0.5, "d": 0.7, "e": 0.6}}
    table = selection_quality(selection, pool).set_index("chosen_by")
    assert table.loc["QC top K (semiqcseg)", "true_dice_mean"] == pytest.approx(85.0)
    assert table.loc["random K (ssl_noqc, ssl_crf)", "true_dice_mean"] == pytest.approx(60.0)
    assert table.loc["whole segmented pool", "true_dice_mean"] == pytest.approx(70.0)
    assert table["subjects"].tolist() == [2, 2, 5]
    assert table.loc["QC top K (semiqcseg)", "healthy"] == 1
    assert selection_quality(selection, {}).empty  # a pool without truth has nothing to report
