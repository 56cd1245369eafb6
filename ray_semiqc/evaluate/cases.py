"""Score one trained model on every subject of an evaluation split (full-cycle ground truth).

Each subject becomes one row: Dice over all frames and slices, the clinical metrics of the
prediction and of the manual segmentation, or the reason it could not be evaluated. The
subject's ED mid-slice (image, truth, prediction) and its cycle curves are kept for the
figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import SubjectRecord
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.evaluate.agreement import manual_column
from ray_semiqc.evaluate.dice import subject_dice_pct
from ray_semiqc.measures import task_curves, task_metrics
from ray_semiqc.seg.predict import segment_subject
from ray_semiqc.tasks import Task


@dataclass
class SubjectFigureData:
    """What the figures need of one subject: its ED mid-slice and its cycle curves."""

    image: np.ndarray  # X×Y
    truth: np.ndarray  # X×Y labels
    predicted: np.ndarray  # X×Y labels
    truth_curves: dict[str, np.ndarray] = field(default_factory=dict)
    predicted_curves: dict[str, np.ndarray] = field(default_factory=dict)


def evaluation_row(record: SubjectRecord) -> dict:
    return {"subject_id": record.subject_id, "group": record.group, "status": "ok", "error": None}


def evaluate_subject(
    model: torch.nn.Module,
    cohort_root: Path,
    record: SubjectRecord,
    task: Task,
    crop_size: int,
    device: str | torch.device,
    batch_size: int,
) -> tuple[dict, SubjectFigureData]:
    """One subject's row and figure data; a subject without full-cycle labels is a CohortError."""
    subject = load_subject(cohort_root, record, task, with_label=True)
    if subject.label is None:
        raise CohortError(
            record.subject_id, record.label_path(task), "no label file: evaluation needs full-cycle labels"
        )
    if len(set(subject.annotated_frames)) != subject.n_frames:
        raise CohortError(
            record.subject_id,
            record.label_path(task),
            f"{len(set(subject.annotated_frames))} of {subject.n_frames} frames annotated: evaluation needs full-cycle labels",
        )
    predicted = segment_subject(model, subject.image, task, crop_size, device, batch_size)
    row = evaluation_row(record)
    row.update(subject_dice_pct(task, predicted, subject.label))
    predicted_curves = task_curves(task, predicted, subject.spacing_mm)
    truth_curves = task_curves(task, subject.label, subject.spacing_mm)
    pressure = record.central_pulse_pressure_mmhg
    predicted_metrics = task_metrics(task, predicted_curves, record.ed_frame, pressure)
    manual_metrics = task_metrics(task, truth_curves, record.ed_frame, pressure)
    for metric in task.metric_names:
        row[metric] = float(predicted_metrics[metric])
        row[manual_column(metric)] = float(manual_metrics[metric])
    mid_slice = subject.image.shape[2] // 2
    figure = SubjectFigureData(
        image=subject.image[:, :, mid_slice, record.ed_frame],
        truth=subject.label[:, :, mid_slice, record.ed_frame],
        predicted=predicted[:, :, mid_slice, record.ed_frame],
        truth_curves=truth_curves,
        predicted_curves=predicted_curves,
    )
    return row, figure


def evaluate_model(
    model: torch.nn.Module,
    cohort_root: Path,
    records: list[SubjectRecord],
    task: Task,
    crop_size: int,
    device: str | torch.device,
    batch_size: int,
) -> tuple[list[dict], dict[str, SubjectFigureData]]:
    """Rows for every record (ok, or error with the reason) and figure data of the ok ones."""
    rows, figures = [], {}
    for record in records:
        try:
            row, figures[record.subject_id] = evaluate_subject(
                model, cohort_root, record, task, crop_size, device, batch_size
            )
        except CohortError as err:
            row = evaluation_row(record) | {"status": "error", "error": str(err)}
        rows.append(row)
    return rows, figures
