"""Which unlabelled subjects each semi-supervised scenario adds to its training set, and why.

`semiqcseg` takes the K best-in-class by QC probability; `ssl_noqc` and `ssl_crf` take the
same K subjects drawn at random from every subject the half model segmented (the CRF only
changes their labels). The result is the audit trail `results/selection.parquet`.

Afterwards, where the pool has hidden full-cycle truth (the phantom), `pool_true_dice` and
`selection_quality` say how accurate the chosen pseudo-labels really were: does the QC
ranking put truly good segmentations first? Nothing in the selection itself reads truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ray_semiqc.cohort.manifest import SubjectRecord
from ray_semiqc.cohort.nifti import read_volume
from ray_semiqc.cohort.truth import load_truth, truth_relative_path
from ray_semiqc.qc.ranking import best_in_class
from ray_semiqc.qc.reviewer import frame_dice
from ray_semiqc.tasks import get_task

SELECTION_QUALITY_COLUMNS = ("task", "seed", "chosen_by", "subjects", "true_dice_mean", "true_dice_sd", "healthy")

SELECTION_COLUMNS = ("task", "seed", "scenario", "subject_id", "group", "qc_probability_good", "rank", "reason")
RANDOM_SCENARIOS = ("ssl_noqc", "ssl_crf")
QC_SCENARIO = "semiqcseg"


def select_augmentation(
    ranking: pa.Table,
    segmented_ids: list[str],
    groups: dict[str, str],
    *,
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
                add(
                    scenario,
                    candidates[index],
                    f"random draw {position} of {len(drawn)} from {len(candidates)} segmented (seed {seed}), no QC",
                )
    return pd.DataFrame(rows, columns=list(SELECTION_COLUMNS)).astype({"rank": "Int64"})


def pool_true_dice(cohort: Path, records: list[SubjectRecord], task_name: str, masks_dir: Path) -> dict[str, float]:
    """Mean Dice (frames × foreground classes) of each pool subject's pseudo-label against its hidden truth.

    Subjects without truth (a real cohort's unlabelled pool) or without a mask (a segmentation
    error row) have no figure; `selection_quality` reports how many subjects each mean rests on.
    """
    task = get_task(task_name)
    dice = {}
    for record in records:
        mask_path = Path(masks_dir) / record.subject_id / task.seg_file
        if not mask_path.exists() or not (Path(cohort) / truth_relative_path(record.subject_id, task)).exists():
            continue
        predicted = np.rint(read_volume(mask_path, record.subject_id, dtype=np.float64).data).astype(np.int64)
        truth = load_truth(cohort, record, task, predicted.shape)
        dice[record.subject_id] = float(frame_dice(task, predicted, truth).mean())
    return dice


def selection_quality(selection: pd.DataFrame, pool_dice: dict[tuple[str, int], dict[str, float]]) -> pd.DataFrame:
    """Per task and seed: the true Dice of the QC's top K, of the K random, and of the whole segmented pool."""
    rows = []
    for (task, seed), chosen in selection.groupby(["task", "seed"], sort=True):
        dice = pool_dice.get((task, int(seed)), {})
        if not dice:
            continue
        sets = {"QC top K (semiqcseg)": chosen.loc[chosen["scenario"] == QC_SCENARIO, "subject_id"]}
        random_rows = chosen.loc[chosen["scenario"].isin(RANDOM_SCENARIOS)].drop_duplicates("subject_id")
        sets["random K (ssl_noqc, ssl_crf)"] = random_rows["subject_id"]
        sets["whole segmented pool"] = pd.Series(sorted(dice))
        groups = dict(zip(chosen["subject_id"], chosen["group"]))
        for name, subjects in sets.items():
            values = np.array([dice[s] for s in subjects if s in dice])
            if len(values) == 0:
                continue
            rows.append(
                {
                    "task": task,
                    "seed": int(seed),
                    "chosen_by": name,
                    "subjects": len(values),
                    "true_dice_mean": 100 * values.mean(),
                    "true_dice_sd": 100 * values.std(ddof=1) if len(values) > 1 else float("nan"),
                    "healthy": sum(groups.get(s) == "healthy" for s in subjects)
                    if name != "whole segmented pool"
                    else None,
                }
            )
    return pd.DataFrame(rows, columns=list(SELECTION_QUALITY_COLUMNS))
