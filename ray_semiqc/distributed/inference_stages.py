"""The CPU stages of cohort inference, one block of subjects per call (Ray Data UDFs).

Kept apart from `inference.py`, and free of torch, so the many decode and measure workers
start in a fraction of a second: only the segmentation actors pay for importing torch. The
QC classifier (torch) is imported by the measure workers that score, once per process.
"""

from __future__ import annotations

import math
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import SubjectRecord
from ray_semiqc.cohort.nifti import write_volume
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.files import output_path
from ray_semiqc.measures import task_curves, task_metrics
from ray_semiqc.qc.curves_table import CURVES_SCHEMA, curves_row
from ray_semiqc.seg.preprocess import SliceLayout, prepare_slices, restore_labels
from ray_semiqc.tasks import get_task


def object_column(values: list) -> np.ndarray:
    """A column of per-subject arrays of different shapes (np.array would try to stack them)."""
    column = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        column[index] = value
    return column


def decode_subjects(batch: dict[str, np.ndarray], cohort: str, task_name: str, crop_size: int) -> dict[str, np.ndarray]:
    """CPU task: read each subject's cine (nibabel) and prepare the network's slices; bad files become errors."""
    task = get_task(task_name)
    empty_slices = np.zeros((0, 1, crop_size, crop_size), np.float32)
    columns = {
        name: []
        for name in (
            "subject_id",
            "error",
            "slices",
            "shape_4d",
            "spacing_mm",
            "affine",
            "ed_frame",
            "pulse_pressure_mmhg",
        )
    }
    for subject_id, record_bytes, problem in zip(batch["subject_id"], batch["record"], batch["problem"]):
        record: SubjectRecord | None = pickle.loads(record_bytes) if len(record_bytes) else None
        error, slices, shape, spacing, affine = str(problem), empty_slices, (0, 0, 0, 0), (0.0, 0.0, 0.0), np.eye(4)
        if not error:
            try:
                subject = load_subject(cohort, record, task, with_label=False)
                slices, layout = prepare_slices(subject.image, task, crop_size)
                shape, spacing, affine = layout.shape_4d, subject.spacing_mm, subject.affine
            except CohortError as err:
                error = str(err)
        pressure = record.central_pulse_pressure_mmhg if record else None
        columns["subject_id"].append(str(subject_id))
        columns["error"].append(error)
        columns["slices"].append(slices)
        columns["shape_4d"].append(np.asarray(shape, np.int64))
        columns["spacing_mm"].append(np.asarray(spacing, np.float64))
        columns["affine"].append(np.asarray(affine, np.float64))
        columns["ed_frame"].append(record.ed_frame if record else 0)
        columns["pulse_pressure_mmhg"].append(np.nan if pressure is None else float(pressure))
    return {
        "subject_id": np.array(columns["subject_id"], dtype=object),
        "error": np.array(columns["error"], dtype=object),
        "slices": object_column(columns["slices"]),
        "shape_4d": np.stack(columns["shape_4d"]),
        "spacing_mm": np.stack(columns["spacing_mm"]),
        "affine": np.stack(columns["affine"]),
        "ed_frame": np.asarray(columns["ed_frame"], np.int64),
        "pulse_pressure_mmhg": np.asarray(columns["pulse_pressure_mmhg"], np.float64),
    }


@lru_cache(maxsize=2)
def _qc_classifier(path: str, task_name: str):
    # Loaded once per worker process, not once per block (measure tasks reuse their workers);
    # imported here so that workers which do not score never import torch.
    from ray_semiqc.qc.classifier import QCClassifier

    return QCClassifier.load(Path(path), expect_task=task_name)


def _scored(rows: list[dict], qc_model_path: str, task_name: str) -> list[dict]:
    from ray_semiqc.qc.ranking import score_rows

    return score_rows(rows, _qc_classifier(qc_model_path, task_name))


def measure_subjects(
    batch: dict[str, np.ndarray],
    task_name: str,
    crop_size: int,
    model_name: str,
    masks_dir: str | None,
    qc_model_path: str | None,
) -> pa.Table:
    """CPU task: labels back on the image grid → curves, clinical metrics, QC probability (and the mask file)."""
    task = get_task(task_name)
    rows, images = [], []
    for index, subject_id in enumerate(batch["subject_id"]):
        error = str(batch["error"][index])
        label_slices = batch["label_slices"][index]
        images.append(len(label_slices))
        if error:
            rows.append(curves_row(subject_id, task, model_name, error=error))
            continue
        layout = SliceLayout(shape_4d=tuple(int(s) for s in batch["shape_4d"][index]), crop_size=crop_size)
        labels_4d = restore_labels(label_slices, layout)
        pressure = float(batch["pulse_pressure_mmhg"][index])
        try:
            curves = task_curves(task, labels_4d, tuple(batch["spacing_mm"][index]))
            metrics = task_metrics(
                task, curves, int(batch["ed_frame"][index]), None if math.isnan(pressure) else pressure
            )
        except ValueError as err:  # e.g. the manifest's ED frame lies outside the cycle
            rows.append(
                curves_row(subject_id, task, model_name, error=f"subject {subject_id}: measuring failed: {err}")
            )
            continue
        if masks_dir:
            write_volume(output_path(masks_dir, subject_id, task.seg_file), labels_4d, batch["affine"][index])
        rows.append(curves_row(subject_id, task, model_name, curves, metrics))
    if qc_model_path:
        rows = _scored(rows, qc_model_path, task.name)
    table = pa.Table.from_pylist(rows, schema=CURVES_SCHEMA)
    return table.append_column("n_images", pa.array(images, pa.int64()))
