"""`curves.parquet`: one row per subject and task — its cycle curves, clinical metrics and QC score.

One schema for both tasks (the other task's curve and metric columns are null), so tables
from either task, or both, are written and read the same way. A subject whose segmentation
or measurement failed is a row with status 'error' and the reason, never a missing row.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ray_semiqc.files import atomic_write
from ray_semiqc.measures import CURVE_CLASS, Metrics
from ray_semiqc.tasks import TASKS, Task, get_task

STATUS_OK = "ok"
STATUS_ERROR = "error"
CURVE_COLUMNS = tuple(CURVE_CLASS)
METRIC_COLUMNS = tuple(name for task in TASKS.values() for name in task.metric_names)

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
        pa.field("qc_model", pa.string()),  # the QC model that scored the row (`QCClassifier.version_`)
    ]
)


def curves_row(
    subject_id: str,
    task: Task,
    model: str,
    curves: dict[str, np.ndarray] | None = None,
    metrics: Metrics | dict[str, float] | None = None,
    error: str | None = None,
    qc_error: str | None = None,
) -> dict:
    """One row of curves.parquet: give `curves` and `metrics`, or `error` (then the rest are null)."""
    if (error is None) == (curves is None):
        raise ValueError(f"subject {subject_id}: a curves row has either curves or an error, not both or neither")
    row = {name: None for name in CURVES_SCHEMA.names}
    row.update(subject_id=str(subject_id), task=task.name, model=model, qc_error=qc_error)
    if error is not None:
        row.update(status=STATUS_ERROR, error=str(error))
        return row
    missing = [name for name in task.curve_names if name not in curves]
    if missing:
        raise ValueError(f"subject {subject_id}: {task.name} curves row lacks curve(s) {missing}")
    row["status"] = STATUS_OK
    for name in task.curve_names:
        row[name] = [float(v) for v in np.asarray(curves[name], dtype=np.float64)]
    for name in task.metric_names:
        row[name] = float(metrics[name]) if metrics is not None and name in metrics else math.nan
    notes = getattr(metrics, "notes", {})
    row["metric_notes"] = "; ".join(f"{name}: {reason}" for name, reason in sorted(notes.items())) or None
    return row


def write_curves_table(path: Path, rows: list[dict]) -> Path:
    """Write rows made by `curves_row` atomically."""
    with atomic_write(path) as partial:
        pq.write_table(pa.Table.from_pylist(list(rows), schema=CURVES_SCHEMA), partial)
    return Path(path)


def write_part(rows: pa.Table, parts_dir: Path) -> Path:
    """One group of curves rows as `parts_dir/part-<digest of its subject ids>.parquet`, atomically:
    a reader sees all of it or none; a re-run skips the subjects it holds."""
    digest = hashlib.sha1("\n".join(rows.column("subject_id").to_pylist()).encode()).hexdigest()[:20]
    path = Path(parts_dir) / f"part-{digest}.parquet"
    with atomic_write(path) as partial:
        pq.write_table(rows.select(CURVES_SCHEMA.names).cast(CURVES_SCHEMA), partial)
    return path


def subjects_in_parts(parts_dir: Path) -> set[str]:
    """Subject ids that already have a row ('ok' or 'error') in a finished part file."""
    done: set[str] = set()
    for part in sorted(Path(parts_dir).glob("part-*.parquet")):
        done.update(pq.read_table(part, columns=["subject_id"]).column("subject_id").to_pylist())
    return done


def consolidate_parts(parts_dir: Path, subject_ids: list[str], path: Path) -> pa.Table:
    """Every part file → one curves table at `path`: one row per subject of `subject_ids`, in that order.

    A subject with no row in any part is an error naming how many were lost (a re-run resumes them).
    """
    wanted = set(subject_ids)
    rows: dict[str, dict] = {}
    for part in sorted(Path(parts_dir).glob("part-*.parquet")):
        for row in read_curves_table(part).to_pylist():
            if row["subject_id"] in wanted:
                rows.setdefault(row["subject_id"], row)
    missing = [s for s in subject_ids if s not in rows]
    if missing:
        raise RuntimeError(f"inference lost {len(missing)} subject(s), e.g. {missing[:5]}; re-run to resume them")
    return read_curves_table(write_curves_table(path, [rows[s] for s in subject_ids]))


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
