"""Dice overlap of one subject's segmentation with its ground truth, over all frames and slices.

The seed reports Dice per subject on the whole cine (every slice, every frame) in percent;
for SAX the subject's score is the pooled (unweighted) mean of LV, Myo and RV Dice.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.metrics import compute_dice
from monai.networks.utils import one_hot

from ray_semiqc.tasks import Task


def class_dice_column(class_name: str) -> str:
    return f"dice_{class_name}_pct"


def dice_columns(task: Task) -> tuple[str, ...]:
    """`dice_pct` (the pooled score of Table 2) and one column per foreground class."""
    return ("dice_pct", *(class_dice_column(name) for name in task.class_names[1:]))


def subject_dice_pct(task: Task, predicted_4d: np.ndarray, truth_4d: np.ndarray, frames=None) -> dict[str, float]:
    """Dice in % per foreground class over the given frames (default: all) and their pooled mean.

    A class absent from both truth and prediction scores 100 (nothing to find, nothing found).
    """
    predicted_4d, truth_4d = np.asarray(predicted_4d), np.asarray(truth_4d)
    if predicted_4d.shape != truth_4d.shape or predicted_4d.ndim != 4:
        raise ValueError(f"prediction {predicted_4d.shape} and truth {truth_4d.shape} must be the same X×Y×Z×T shape")
    if frames is not None:
        frames = list(frames)
        predicted_4d, truth_4d = predicted_4d[..., frames], truth_4d[..., frames]
    per_class = compute_dice(
        _one_hot_sample(predicted_4d, task),
        _one_hot_sample(truth_4d, task),
        include_background=False,
        ignore_empty=False,
    )[0].numpy()
    scores = {class_dice_column(name): 100.0 * float(value) for name, value in zip(task.class_names[1:], per_class)}
    scores["dice_pct"] = float(np.mean(list(scores.values())))
    return {column: scores[column] for column in dice_columns(task)}


def _one_hot_sample(labels_4d: np.ndarray, task: Task) -> torch.Tensor:
    """The whole cine as one MONAI sample (B=1), so the overlap is pooled over slices and frames."""
    return one_hot(torch.as_tensor(labels_4d.astype(np.int64))[None, None], task.n_classes, dtype=torch.float64)
