"""Segment slices, subjects and whole folders with a trained network (plain torch, any device)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.cohort.nifti import write_volume
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.models.checkpoint import load_checkpoint
from ray_semiqc.seg.preprocess import prepare_slices, restore_labels
from ray_semiqc.tasks import Task, get_task


def _logits_in_batches(
    model: nn.Module, slices: np.ndarray, device: str | torch.device, batch_size: int, bf16: bool
) -> Iterator[torch.Tensor]:
    device = torch.device(device)
    model = model.to(device).eval()
    for start in range(0, len(slices), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(slices[start : start + batch_size])).to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            yield model(batch)


@torch.no_grad()
def predict_probabilities(
    model: nn.Module, slices: np.ndarray, device: str | torch.device, batch_size: int, bf16: bool = False
) -> np.ndarray:
    """Softmax class probabilities N×C×H×W float32 for N×1×H×W slices (the CRF reads these)."""
    outputs = [
        torch.softmax(logits.float(), dim=1).cpu().numpy()
        for logits in _logits_in_batches(model, slices, device, batch_size, bf16)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0,), dtype=np.float32)


@torch.no_grad()
def predict_slices(
    model: nn.Module, slices: np.ndarray, device: str | torch.device, batch_size: int, bf16: bool = False
) -> np.ndarray:
    """Most probable class per pixel, N×H×W uint8."""
    labels = [
        logits.argmax(dim=1).to(torch.uint8).cpu().numpy()
        for logits in _logits_in_batches(model, slices, device, batch_size, bf16)
    ]
    return np.concatenate(labels) if labels else np.zeros((0,) + slices.shape[2:], dtype=np.uint8)


def segment_subject(
    model: nn.Module, image_4d: np.ndarray, task: Task, crop_size: int, device: str | torch.device, batch_size: int
) -> np.ndarray:
    """Labels X×Y×Z×T uint8 on the image's own grid, every slice of every frame."""
    slices, layout = prepare_slices(image_4d, task, crop_size)
    return restore_labels(predict_slices(model, slices, device, batch_size), layout)


@dataclass
class SegmentedFolder:
    written: dict[str, Path] = field(default_factory=dict)  # subject id → seg_*.nii.gz
    problems: list[CohortError] = field(default_factory=list)  # subjects that could not be segmented, with why

    def __len__(self) -> int:
        return len(self.written)


def segment_subjects_to_folder(
    model_path: Path,
    cohort: Path,
    subject_ids: Iterable[str],
    out: Path,
    device: str = "cpu",
    batch_size: int | None = None,
) -> SegmentedFolder:
    """Write OUT/<id>/seg_sa.nii.gz (or seg_ao) with the image's affine; a bad subject is a problem, not a stop."""
    model, meta = load_checkpoint(model_path)
    task = get_task(meta.task)
    batch_size = batch_size or meta.seg_config["predict_batch_size"]
    manifest = read_manifest(cohort)
    records = manifest.by_id()
    manifest_problems = {problem.subject_id: problem for problem in manifest.problems}
    result = SegmentedFolder()
    for subject_id in subject_ids:
        if subject_id not in records:
            result.problems.append(
                manifest_problems.get(subject_id) or CohortError(subject_id, None, "not in the cohort manifest")
            )
            continue
        try:
            subject = load_subject(cohort, records[subject_id], task, with_label=False)
        except CohortError as err:
            result.problems.append(err)
            continue
        labels = segment_subject(model, subject.image, task, meta.crop_size, device, batch_size)
        path = Path(out) / subject_id / task.seg_file
        write_volume(path, labels, subject.affine)
        result.written[subject_id] = path
    return result
