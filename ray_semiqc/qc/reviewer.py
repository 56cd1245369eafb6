"""The simulated clinician who labels QC training cases "good" or "erroneous".

The seed's QC was trained on cases a clinician reviewed; here the reviewer compares a
segmentation with the hidden full-cycle truth and calls it erroneous when the error is
clinically relevant: a volume (aorta: an area) off by more than config.qc.volume_rel_error,
an ejection fraction off by more than ef_abs_error_points, or any frame whose Dice (the
worst class of that frame) is below min_frame_dice. Reviewers disagree at the margin, so a
seeded fraction reviewer_label_noise of verdicts is flipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from monai.metrics import compute_dice
from monai.networks.utils import one_hot

from ray_semiqc.config import QCConfig
from ray_semiqc.measures import task_curves, task_metrics
from ray_semiqc.tasks import Task


@dataclass(frozen=True)
class ReviewerVerdict:
    erroneous: bool  # the label the QC classifier learns (after reviewer noise)
    clinically_erroneous: bool  # the verdict before noise
    reasons: tuple[str, ...]  # every rule that fired, e.g. "lvedv_ml off by 14%"
    min_frame_dice: float  # worst class in the worst frame
    mean_dice: float  # mean over frames and foreground classes: the case's true accuracy


def frame_dice(task: Task, predicted_4d: np.ndarray, truth_4d: np.ndarray) -> np.ndarray:
    """`T × (n_classes − 1)` Dice of each frame and foreground class (1 where both are empty)."""
    if predicted_4d.shape != truth_4d.shape:
        raise ValueError(f"segmentation {predicted_4d.shape} and truth {truth_4d.shape} differ in shape")

    def frames_one_hot(labels):  # X×Y×Z×T → T×C×X×Y×Z, frames as the batch
        frames = torch.as_tensor(np.moveaxis(np.asarray(labels, dtype=np.int64), 3, 0)[:, None])
        return one_hot(frames, num_classes=task.n_classes)

    dice = compute_dice(
        frames_one_hot(predicted_4d), frames_one_hot(truth_4d), include_background=False, ignore_empty=False
    )
    return dice.numpy()


def review_case(
    task: Task,
    predicted_4d: np.ndarray,
    truth_4d: np.ndarray,
    spacing_mm: tuple[float, float, float],
    ed_frame: int,
    qc: QCConfig,
    rng: np.random.Generator,
) -> ReviewerVerdict:
    """Judge one segmentation against its truth as a clinician reviewing its curves would."""
    predicted = task_metrics(task, task_curves(task, predicted_4d, spacing_mm), ed_frame)
    true = task_metrics(task, task_curves(task, truth_4d, spacing_mm), ed_frame)
    reasons = []
    for name in task.size_metrics:
        relative_error = (
            abs(predicted[name] - true[name]) / true[name] if true[name] > 0 else np.inf * (predicted[name] > 0)
        )
        if relative_error > qc.volume_rel_error:
            reasons.append(f"{name} off by {100 * relative_error:.0f}%")
    for name in task.fraction_metrics:
        points = abs(predicted[name] - true[name])
        if not np.isfinite(points) or points > qc.ef_abs_error_points:
            reasons.append(f"{name} off by {points:.1f} points")
    dice = frame_dice(task, predicted_4d, truth_4d)
    worst_per_frame = dice.min(axis=1)
    if worst_per_frame.min() < qc.min_frame_dice:
        low = np.flatnonzero(worst_per_frame < qc.min_frame_dice).tolist()
        reasons.append(f"Dice below {qc.min_frame_dice:g} in frame(s) {low}")
    clinically_erroneous = bool(reasons)
    flipped = bool(rng.random() < qc.reviewer_label_noise)
    return ReviewerVerdict(
        erroneous=clinically_erroneous != flipped,
        clinically_erroneous=clinically_erroneous,
        reasons=tuple(reasons) + (("reviewer disagreed (label noise)",) if flipped else ()),
        min_frame_dice=float(worst_per_frame.min()),
        mean_dice=float(dice.mean()),
    )
