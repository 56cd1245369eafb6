"""`curves.parquet`: one row per subject and task — its cycle curves, clinical metrics and QC score.

One schema for both tasks (the other task's curve and metric columns are null), so tables
from either task, or both, are written and read the same way. A subject whose segmentation
or measurement failed is a row with status 'error' and the reason, never a missing row.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ray_semiqc.measures import CURVE_CLASS, METRIC_NAMES, Metrics
from ray_semiqc.tasks import Task, get_task

STATUS_OK = "ok"
STATUS_ERROR = "error"
CURVE_COLUMNS = tuple(CURVE_CLASS)
METRIC_COLUMNS = tuple(name for names in METRIC_NAMES.values() for name in names)

CURVES_SCHEMA = pa.schema(
    [
        pa.field("subject_id", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error", pa.string()),
        *(pa.field(name, pa.list_(pa.float64())) for name in CURVE_COLUMNS),
        *(pa.field(name, pa.float64()) for name in METRIC_COLUMNS),
        pa.field("metric_notes", pa.string()),  # "metric: reason; …" for each NaN metric
        pa.field("model", pa.string()),  # network/task/subset/step of the model that segmented
        pa.field("qc_probability_good", pa.float64()),  # null until a QC model has scored the row
        pa.field("qc_error", pa.string()),  # why an 'ok' row could not be scored (e.g. an all-zero curve)
    ]
)


def curves_row(
    subject_id: str,
    task: Task,
    model: str,
    curves: dict[str, np.ndarray] | None = None,
    metrics: Metrics | dict[str, float] | None = None,
    error: str | None = None,
    qc_probability_good: float | None = None,
    qc_error: str | None = None,
) -> dict:
    """One row of curves.parquet: give `curves` and `metrics`, or `error` (then the rest are null)."""
    if (error is None) == (curves is None):
        raise ValueError(f"subject {subject_id}: a curves row has either curves or an error, not both or neither")
    row = {name: None for name in CURVES_SCHEMA.names}
    row.update(
        subject_id=str(subject_id),
        task=task.name,
        model=model,
        qc_probability_good=qc_probability_good,
        qc_error=qc_error,
    )
    if error is not None:
        row.update(status=STATUS_ERROR, error=str(error))
        return row
    missing = [name for name in task.curve_names if name not in curves]
    if missing:
        raise ValueError(f"subject {subject_id}: {task.name} curves row lacks curve(s) {missing}")
    row["status"] = STATUS_OK
    for name in task.curve_names:
        row[name] = [float(v) for v in np.asarray(curves[name], dtype=np.float64)]
    for name in METRIC_NAMES[task.name]:
        row[name] = float(metrics[name]) if metrics is not None and name in metrics else math.nan
    notes = getattr(metrics, "notes", {})
    row["metric_notes"] = "; ".join(f"{name}: {reason}" for name, reason in sorted(notes.items())) or None
    return row


def write_curves_table(path: Path, rows: list[dict]) -> Path:
    """Write rows made by `curves_row` atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(list(rows), schema=CURVES_SCHEMA)
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(table, partial)
    partial.replace(path)
    return path


def read_curves_table(path: Path) -> pa.Table:
    """Read curves.parquet, refusing a file that lacks columns of the schema."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no curves table")
    table = pq.read_table(path)
    missing = [name for name in CURVES_SCHEMA.names if name not in table.column_names]
    if missing:
        raise ValueError(f"{path}: not a curves table, columns {missing} are missing")
    return table.select(CURVES_SCHEMA.names).cast(CURVES_SCHEMA)


def row_curves(row: dict) -> dict[str, np.ndarray]:
    """The curves of one 'ok' row (a dict from `table.to_pylist()`), as float64 arrays."""
    if row["status"] != STATUS_OK:
        raise ValueError(f"subject {row['subject_id']}: row has no curves ({row['status']}: {row['error']})")
    task = get_task(row["task"])
    return {name: np.asarray(row[name], dtype=np.float64) for name in task.curve_names}
