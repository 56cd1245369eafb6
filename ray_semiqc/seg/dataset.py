"""The 2-D training set of a segmentation network, built from a cohort.

Sparse labels: only the frames the manifest lists as annotated are used (the other frames
of a sparse label volume are unknown, never background), every slice of those frames.
Pseudo-labelled subjects (from the semi-supervised stage) are full-cycle: every frame, every
slice. Training never opens anything under the cohort's `truth/` folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import SubjectRecord, resolve_path
from ray_semiqc.cohort.nifti import read_label
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.cohort.truth import TRUTH_DIR
from ray_semiqc.seg.preprocess import prepare_slices, to_slices
from ray_semiqc.tasks import Task

SUBSETS = ("full", "half")


@dataclass(frozen=True)
class PseudoLabelled:
    """An unlabelled subject with a full-cycle label made by a network (every frame is used)."""

    record: SubjectRecord
    label_path: Path


@dataclass(frozen=True)
class SliceSet:
    images: np.ndarray  # N×1×H×W float32, normalised
    labels: np.ndarray  # N×H×W uint8
    subject_ids: np.ndarray  # N, the subject each slice comes from
    frames: np.ndarray  # N, its frame index
    n_subjects: int
    n_images: int  # labelled frames (2-D+slices cine images), as the seed's Table 1 counts them

    def __len__(self) -> int:
        return len(self.labels)

    def summary(self) -> dict:
        return {"n_subjects": self.n_subjects, "n_images": self.n_images, "n_slices": len(self)}

    def batches(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """In order, unshuffled: for validation and for feeding a Ray dataset."""
        for start in range(0, len(self), batch_size):
            yield {
                "image": torch.from_numpy(self.images[start : start + batch_size]),
                "label": torch.from_numpy(self.labels[start : start + batch_size]),
            }


class ShuffledSlices:
    """A re-iterable source of batches: each `iter()` is one epoch in a fresh seeded order."""

    def __init__(self, slice_set: SliceSet, batch_size: int, generator: torch.Generator):
        self.slice_set = slice_set
        self.batch_size = batch_size
        self.generator = generator

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        order = torch.randperm(len(self.slice_set), generator=self.generator).numpy()
        for start in range(0, len(order), self.batch_size):
            chosen = np.sort(order[start : start + self.batch_size])
            yield {
                "image": torch.from_numpy(self.slice_set.images[chosen]),
                "label": torch.from_numpy(self.slice_set.labels[chosen]),
            }


class TrainingSetError(ValueError):
    """Every problem found while building a training set; raised before any training starts."""

    def __init__(self, problems: Sequence[CohortError]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} training subject(s) unusable:\n" + "\n".join(map(str, self.problems)))


def labelled_records(records: Iterable[SubjectRecord], task: Task) -> list[SubjectRecord]:
    """The `labelled` split's subjects that carry an annotation for this task."""
    return [r for r in records if r.split == "labelled" and r.label_path(task)]


def select_subset(records: Sequence[SubjectRecord], subset: str, seed: int) -> list[SubjectRecord]:
    """`full`: all; `half`: a fixed seeded half (⌊n/2⌋), the same for every scenario built on it."""
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}; choose one of {SUBSETS}")
    ordered = sorted(records, key=lambda r: r.subject_id)
    if subset == "full":
        return ordered
    chosen = np.random.default_rng(seed).permutation(len(ordered))[: len(ordered) // 2]
    return [ordered[i] for i in sorted(chosen)]


def split_validation(
    records: Sequence[SubjectRecord], fraction: float, seed: int
) -> tuple[list[SubjectRecord], list[SubjectRecord]]:
    """(train, validation) by subject, so no subject's slices are on both sides; ≥1 each when n ≥ 2."""
    ordered = sorted(records, key=lambda r: r.subject_id)
    if len(ordered) < 2:
        return ordered, []
    n_validation = min(max(1, round(fraction * len(ordered))), len(ordered) - 1)
    chosen = set(np.random.default_rng(seed).permutation(len(ordered))[:n_validation].tolist())
    return [r for i, r in enumerate(ordered) if i not in chosen], [r for i, r in enumerate(ordered) if i in chosen]


def _refuse_truth(cohort_root: Path, subject_id: str, label_path: Path) -> None:
    truth_root = (Path(cohort_root) / TRUTH_DIR).resolve()
    if truth_root == label_path.resolve() or truth_root in label_path.resolve().parents:
        raise CohortError(
            subject_id, label_path, f"training labels must never come from the cohort's hidden {TRUTH_DIR}/ folder"
        )


def _annotated_frames(cohort_root: Path, record: SubjectRecord, task: Task):
    _refuse_truth(cohort_root, record.subject_id, resolve_path(cohort_root, record.subject_id, record.label_path(task)))
    subject = load_subject(cohort_root, record, task, with_label=True)
    if subject.label is None:
        raise CohortError(record.subject_id, record.label_path(task), "manifest lists no label for this task")
    return subject.image, subject.label, subject.annotated_frames


def _every_frame(cohort_root: Path, item: PseudoLabelled, task: Task):
    record = item.record
    _refuse_truth(cohort_root, record.subject_id, Path(item.label_path))
    subject = load_subject(cohort_root, record, task, with_label=False)
    label = read_label(Path(item.label_path), record.subject_id, task.n_classes, subject.image.shape).data
    return subject.image, label, tuple(range(subject.n_frames))


def build_training_set(
    cohort_root: Path,
    records: Iterable[SubjectRecord],
    task: Task,
    crop_size: int,
    pseudo_labelled: Iterable[PseudoLabelled] = (),
) -> SliceSet:
    """Slices of annotated frames of `records` plus every frame of `pseudo_labelled` subjects.

    Every subject is checked; if any is unusable a TrainingSetError lists them all.
    """
    sources = [(_annotated_frames, r, r.subject_id) for r in records]
    sources += [(_every_frame, p, p.record.subject_id) for p in pseudo_labelled]
    images, labels, subject_ids, frames, problems = [], [], [], [], []
    n_images = 0
    for read, source, subject_id in sources:
        try:
            image, label, used_frames = read(Path(cohort_root), source, task)
        except CohortError as err:
            problems.append(err)
            continue
        slices, layout = prepare_slices(image, task, crop_size)
        label_slices, _ = to_slices(label, crop_size)
        n_slices_per_frame, n_frames = layout.shape_4d[2], layout.shape_4d[3]
        slice_frames = np.tile(np.arange(n_frames), n_slices_per_frame)  # slice n = z·T + t
        keep = np.isin(slice_frames, used_frames)
        images.append(slices[keep])
        labels.append(label_slices[keep])
        subject_ids.extend([subject_id] * int(keep.sum()))
        frames.append(slice_frames[keep])
        n_images += len(used_frames)
    if problems:
        raise TrainingSetError(problems)
    if not images:
        empty = np.zeros((0, 1, crop_size, crop_size), np.float32)
        return SliceSet(
            empty, np.zeros((0, crop_size, crop_size), np.uint8), np.array([], str), np.array([], int), 0, 0
        )
    return SliceSet(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        subject_ids=np.array(subject_ids),
        frames=np.concatenate(frames),
        n_subjects=len(images),
        n_images=n_images,
    )
