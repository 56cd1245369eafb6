"""Load one subject's image (and sparse label) for one task, checked against each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import SubjectRecord, resolve_path
from ray_semiqc.cohort.nifti import read_label, read_volume
from ray_semiqc.tasks import Task


@dataclass(frozen=True)
class SubjectVolume:
    subject_id: str
    task: str
    image: np.ndarray  # X×Y×Z×T float32
    label: np.ndarray | None  # X×Y×Z×T uint8; only `annotated_frames` carry meaning
    annotated_frames: tuple[int, ...]
    spacing_mm: tuple[float, float, float]
    affine: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.image.shape[3]


def load_subject(root: Path, record: SubjectRecord, task: Task, *, with_label: bool = True) -> SubjectVolume:
    """Image plus, when asked and present, its label restricted to the annotated frames."""
    image_path = resolve_path(root, record.subject_id, record.image_path(task))
    image = read_volume(image_path, record.subject_id)
    if task.single_slice and image.data.shape[2] != 1:
        raise CohortError(
            record.subject_id, image_path, f"{task.name} cine must have one slice, got shape {image.data.shape}"
        )
    label, annotated = None, ()
    if with_label and record.label_path(task):
        label_path = resolve_path(root, record.subject_id, record.label_path(task))
        label = read_label(label_path, record.subject_id, task.n_classes, image.data.shape).data
        annotated = tuple(int(f) for f in record.annotated_frames(task))
        n_frames = image.data.shape[3]
        outside = [f for f in annotated if not 0 <= f < n_frames]
        if outside:
            raise CohortError(
                record.subject_id, label_path, f"annotated frame(s) {outside} out of range 0..{n_frames - 1}"
            )
        if not annotated:
            raise CohortError(
                record.subject_id, label_path, "label file given but the manifest lists no annotated frames"
            )
    return SubjectVolume(
        subject_id=record.subject_id,
        task=task.name,
        image=image.data,
        label=label,
        annotated_frames=annotated,
        spacing_mm=image.spacing_mm,
        affine=image.affine,
    )
