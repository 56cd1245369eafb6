import numpy as np
import pyarrow as pa

from ray_semiqc.evaluate.selection import SELECTION_COLUMNS, select_augmentation
from ray_semiqc.qc.ranking import RANKING_SCHEMA


def ranking_of(probabilities: dict[str, float]) -> pa.Table:
    ordered = sorted(probabilities, key=lambda s: -probabilities[s])
    rows = [
        {"rank": i, "subject_id": s, "task": "sax", "qc_probability_good": probabilities[s], "model": "m", "qc_model": "q",
         "unscored_reason": None}
        for i, s in enumerate(ordered, start=1)
    ]
    rows.append({"rank": None, "subject_id": "u9", "task": "sax", "qc_probability_good": None, "model": "m", "qc_model": "q",
                 "unscored_reason": "error: subject u9: sa.nii.gz: file is missing"})
    return pa.Table.from_pylist(rows, schema=RANKING_SCHEMA)


PROBABILITIES = {f"u{i}": p for i, p in enumerate([0.2, 0.9, 0.5, 0.95, 0.1, 0.7])}
SEGMENTED = sorted(PROBABILITIES)
GROUPS = {"u1": "healthy", "u3": "DCM"}
SCENARIOS = ("half", "ssl_noqc", "ssl_crf", "semiqcseg")


def test_semiqcseg_takes_the_top_k_by_qc_probability_with_reasons():
    chosen = select_augmentation(ranking_of(PROBABILITIES), SEGMENTED, GROUPS, "sax", 0, 2, SCENARIOS, np.random.default_rng(0))
    assert tuple(chosen.columns) == SELECTION_COLUMNS
    best = chosen[chosen["scenario"] == "semiqcseg"]
    assert best["subject_id"].tolist() == ["u3", "u1"]
    assert best["rank"].tolist() == [1, 2]
    assert best["group"].tolist() == ["DCM", "healthy"]
    assert best["reason"].iloc[0] == "best in class: QC rank 1 of 6 scored"


def test_random_scenarios_share_the_same_seeded_subjects():
    first = select_augmentation(ranking_of(PROBABILITIES), SEGMENTED, GROUPS, "sax", 3, 3, SCENARIOS, np.random.default_rng(3))
    again = select_augmentation(ranking_of(PROBABILITIES), SEGMENTED, GROUPS, "sax", 3, 3, SCENARIOS, np.random.default_rng(3))
    noqc = first[first["scenario"] == "ssl_noqc"]["subject_id"].tolist()
    assert noqc == first[first["scenario"] == "ssl_crf"]["subject_id"].tolist()
    assert noqc == again[again["scenario"] == "ssl_noqc"]["subject_id"].tolist()
    assert len(set(noqc)) == 3 and set(noqc) <= set(SEGMENTED)
    assert "no QC" in first[first["scenario"] == "ssl_noqc"]["reason"].iloc[0]


def test_only_requested_scenarios_are_selected():
    chosen = select_augmentation(ranking_of(PROBABILITIES), SEGMENTED, GROUPS, "sax", 0, 2, ("semiqcseg",), np.random.default_rng(0))
    assert set(chosen["scenario"]) == {"semiqcseg"}
