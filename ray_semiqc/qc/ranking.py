"""Score segmented cases with a QC model, rank them by their probability of being accurate, and
pick the best in class.

`score_rows` is the one place curves are scored: cohort inference stores its scores in
curves.parquet, and the ranking reads those stored scores, never a second scoring. The ranking
table is the audit trail of a selection: every case of the curves table, its QC probability,
its rank (1 = most likely accurate) and the versions of the segmentation and QC models that
produced them. Cases that cannot be scored (a failed segmentation, an all-zero curve) stay in
the table, unranked, with the reason.
"""

from __future__ import annotations

import pyarrow as pa

from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.curves_table import STATUS_OK, row_curves
from ray_semiqc.qc.features import unscorable_reason
from ray_semiqc.tasks import get_task

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
    """Copies of curves rows scored by `classifier`: `qc_probability_good`, or `qc_error` saying why
    not, and `qc_model` naming the classifier on every 'ok' row."""
    task = get_task(classifier.task)
    version = classifier.version_
    scored = [dict(row, qc_probability_good=None, qc_error=None, qc_model=None) for row in rows]
    scorable, curves = [], []
    for row in scored:
        if row["status"] != STATUS_OK:
            continue
        if row["task"] != classifier.task:
            raise ValueError(
                f"subject {row['subject_id']}: a {row['task']} row cannot be scored by a {classifier.task} QC model"
            )
        row["qc_model"] = version
        case = row_curves(row)
        row["qc_error"] = unscorable_reason(task, case, classifier.resample_length, classifier.curve_reference_scale)
        if row["qc_error"] is None:
            scorable.append(row)
            curves.append(case)
    if curves:
        p_good = classifier.predict_proba(curves)[:, 0]
        for row, probability in zip(scorable, p_good):
            row["qc_probability_good"] = float(probability)
    return scored


def rank_cases(curves_table: pa.Table) -> pa.Table:
    """Every case, most-likely-accurate first by its stored QC score; unscorable cases last,
    unranked, with the reason. The rows must have been scored by one QC model (`score_rows`)."""
    rows = curves_table.to_pylist()
    ok = [row for row in rows if row["status"] == STATUS_OK]
    unscored = [row["subject_id"] for row in ok if row["qc_model"] is None]
    if unscored:
        raise ValueError(
            f"{len(unscored)} segmented case(s) were never scored by a QC model (e.g. {unscored[:3]}): "
            "run the inference with a QC model, or `semiqc qc score`"
        )
    qc_models = {row["qc_model"] for row in ok}
    if len(qc_models) > 1:
        raise ValueError(f"the cases were scored by {len(qc_models)} QC models {sorted(qc_models)}; rank one at a time")
    ranked = sorted(
        (r for r in rows if r["qc_probability_good"] is not None),
        key=lambda r: (-r["qc_probability_good"], r["subject_id"]),
    )
    unranked = sorted((r for r in rows if r["qc_probability_good"] is None), key=lambda r: r["subject_id"])
    audit = []
    for position, row in enumerate(ranked + unranked, start=1):
        scored = row["qc_probability_good"] is not None
        audit.append(
            {
                "rank": position if scored else None,
                "subject_id": row["subject_id"],
                "task": row["task"],
                "qc_probability_good": row["qc_probability_good"],
                "model": row["model"],
                "qc_model": row["qc_model"],
                "unscored_reason": None if scored else (row["qc_error"] or f"{row['status']}: {row['error']}"),
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
