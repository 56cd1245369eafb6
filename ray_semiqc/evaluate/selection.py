"""Which unlabelled subjects each semi-supervised scenario adds to its training set, and why.

`semiqcseg` takes the K best-in-class by QC probability; `ssl_noqc` and `ssl_crf` take the
same K subjects drawn at random from every subject the half model segmented (the CRF only
changes their labels). The result is the audit trail `results/selection.parquet`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ray_semiqc.qc.ranking import best_in_class

SELECTION_COLUMNS = ("task", "seed", "scenario", "subject_id", "group", "qc_probability_good", "rank", "reason")
RANDOM_SCENARIOS = ("ssl_noqc", "ssl_crf")
QC_SCENARIO = "semiqcseg"


def select_augmentation(
    ranking: pa.Table,
    segmented_ids: list[str],
    groups: dict[str, str],
    task: str,
    seed: int,
    k: int,
    scenarios: tuple[str, ...],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One row per (scenario, chosen subject) with its QC probability, QC rank and the reason it was chosen."""
    by_subject = {row["subject_id"]: row for row in ranking.to_pylist()}
    n_ranked = sum(row["rank"] is not None for row in by_subject.values())
    rows = []

    def add(scenario: str, subject_id: str, reason: str) -> None:
        ranked = by_subject.get(subject_id, {})
        rows.append(
            {
                "task": task,
                "seed": seed,
                "scenario": scenario,
                "subject_id": subject_id,
                "group": groups.get(subject_id, "unknown"),
                "qc_probability_good": ranked.get("qc_probability_good"),
                "rank": ranked.get("rank"),
                "reason": reason,
            }
        )

    if QC_SCENARIO in scenarios:
        for row in best_in_class(ranking, k).to_pylist():
            add(QC_SCENARIO, row["subject_id"], f"best in class: QC rank {row['rank']} of {n_ranked} scored")
    if any(s in scenarios for s in RANDOM_SCENARIOS):
        candidates = sorted(segmented_ids)
        drawn = rng.choice(len(candidates), size=min(k, len(candidates)), replace=False)
        for scenario in (s for s in RANDOM_SCENARIOS if s in scenarios):
            for position, index in enumerate(sorted(drawn), start=1):
                add(scenario, candidates[index], f"random draw {position} of {len(drawn)} from {len(candidates)} segmented (seed {seed}), no QC")
    return pd.DataFrame(rows, columns=list(SELECTION_COLUMNS)).astype({"rank": "Int64"})
