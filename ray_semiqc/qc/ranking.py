"""Rank segmented cases by their probability of being accurate, and pick the best in class.

The ranking table is the audit trail of a selection: every case of the curves table, its
QC probability, its rank (1 = most likely accurate) and the versions of the segmentation
and QC models that produced them. Cases that cannot be scored (a failed segmentation, an
all-zero curve) stay in the table, unranked, with the reason.
"""

from __future__ import annotations

import pyarrow as pa

from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.curves_table import STATUS_OK, row_curves

RANKING_SCHEMA = pa.schema(
    [
        pa.field("rank", pa.int64()),  # 1 = most likely accurate; null when unscored
        pa.field("subject_id", pa.string()),
        pa.field("task", pa.string()),
        pa.field("qc_probability_good", pa.float64()),
        pa.field("model", pa.string()),  # the segmentation model
        pa.field("qc_model", pa.string()),
        pa.field("unscored_reason", pa.string()),
    ]
)


def score_rows(rows: list[dict], classifier: QCClassifier) -> list[dict]:
    """Copies of curves rows with `qc_probability_good` (or `qc_error`, saying why not) filled in."""
    scored = [dict(row, qc_probability_good=None, qc_error=None) for row in rows]
    scorable, curves = [], []
    for row in scored:
        if row["status"] != STATUS_OK:
            continue
        if row["task"] != classifier.task:
            raise ValueError(
                f"subject {row['subject_id']}: a {row['task']} row cannot be scored by a {classifier.task} QC model"
            )
        try:
            case = row_curves(row)
            classifier.features([case])
        except ValueError as err:
            row["qc_error"] = str(err)
            continue
        scorable.append(row)
        curves.append(case)
    if curves:
        p_good = classifier.predict_proba(curves)[:, 0]
        for row, probability in zip(scorable, p_good):
            row["qc_probability_good"] = float(probability)
    return scored


def rank_cases(curves_table: pa.Table, qc_model: QCClassifier) -> pa.Table:
    """Every case, most-likely-accurate first; unscorable cases last, unranked, with the reason."""
    rows = score_rows(curves_table.to_pylist(), qc_model)
    ranked = sorted(
        (r for r in rows if r["qc_probability_good"] is not None),
        key=lambda r: (-r["qc_probability_good"], r["subject_id"]),
    )
    unscored = sorted((r for r in rows if r["qc_probability_good"] is None), key=lambda r: r["subject_id"])
    version = qc_model.version_
    audit = []
    for position, row in enumerate(ranked + unscored, start=1):
        reason = (
            None if row["qc_probability_good"] is not None else (row["qc_error"] or f"{row['status']}: {row['error']}")
        )
        audit.append(
            {
                "rank": position if reason is None else None,
                "subject_id": row["subject_id"],
                "task": row["task"],
                "qc_probability_good": row["qc_probability_good"],
                "model": row["model"],
                "qc_model": version,
                "unscored_reason": reason,
            }
        )
    return pa.Table.from_pylist(audit, schema=RANKING_SCHEMA)


def best_in_class(ranking: pa.Table, k: int) -> pa.Table:
    """The top-k ranked cases (subject, probability, rank); fewer if fewer than k could be scored."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ranked = [row for row in ranking.to_pylist() if row["rank"] is not None]
    top = sorted(ranked, key=lambda r: r["rank"])[:k]
    return pa.Table.from_pylist(top, schema=RANKING_SCHEMA).select(
        ["subject_id", "qc_probability_good", "rank", "model", "qc_model"]
    )
