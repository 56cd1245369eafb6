"""A picture for people: a subject's SAX slices × frames and its aortic cine, with label contours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global backend or figure state, safe on headless workers

from ray_semiqc.cohort.manifest import SubjectRecord, resolve_path
from ray_semiqc.cohort.nifti import read_label, read_volume
from ray_semiqc.cohort.truth import truth_relative_path
from ray_semiqc.tasks import AORTA, SAX, Task

CONTOUR_COLOURS = {1: "tab:red", 2: "tab:green", 3: "tab:blue"}  # LV / ascending aorta, Myo, RV
MONTAGE_SLICES = 3  # base, mid, apex
MONTAGE_FRAMES = 4  # spread over the cycle, ED first


def write_montage(root: Path, record: SubjectRecord, path: Path) -> Path:
    """PNG of base/mid/apical slices at ED → ES → diastole, and four aortic frames, with contours.

    Contours come from the full-cycle truth (analysis may read it), else the subject's own labels.
    """
    root = Path(root)
    sax_image, sax_label = _image_and_label(root, record, SAX)
    aorta_image, aorta_label = _image_and_label(root, record, AORTA)
    n_z, n_t = sax_image.shape[2], sax_image.shape[3]
    slices = np.linspace(0, n_z - 1, MONTAGE_SLICES).round().astype(int)
    frames = _frames(n_t, record.es_frame)
    aorta_frames = np.linspace(0, aorta_image.shape[3] - 1, MONTAGE_FRAMES, endpoint=False).round().astype(int)

    figure = Figure(figsize=(2.2 * MONTAGE_FRAMES, 2.2 * (MONTAGE_SLICES + 1)))
    axes = figure.subplots(MONTAGE_SLICES + 1, MONTAGE_FRAMES)
    for row, z in enumerate(slices):
        for column, t in enumerate(frames):
            _panel(axes[row, column], sax_image[:, :, z, t], sax_label[:, :, z, t], f"slice {z}, frame {t}")
    for column, t in enumerate(aorta_frames):
        _panel(axes[-1, column], aorta_image[:, :, 0, t], aorta_label[:, :, 0, t], f"aorta, frame {t}")
    figure.suptitle(f"{record.subject_id} · {record.group} · artefact: {record.artefact}", fontsize=9)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    return path


def _frames(n_frames: int, es_frame: int | None) -> list[int]:
    es = es_frame if es_frame is not None else n_frames // 3
    return [0, max(es // 2, 0), es, min((es + n_frames) // 2, n_frames - 1)][:MONTAGE_FRAMES]


def _image_and_label(root: Path, record: SubjectRecord, task: Task) -> tuple[np.ndarray, np.ndarray]:
    image = read_volume(resolve_path(root, record.subject_id, record.image_path(task)), record.subject_id).data
    truth = root / truth_relative_path(record.subject_id, task)
    if truth.exists():
        label_path = truth
    elif record.label_path(task):
        label_path = resolve_path(root, record.subject_id, record.label_path(task))
    else:
        return image, np.zeros(image.shape, dtype=np.uint8)
    return image, read_label(label_path, record.subject_id, task.n_classes, image.shape).data


def _panel(axis, image: np.ndarray, label: np.ndarray, title: str) -> None:
    # NIfTI is X×Y; show rows = y so the picture is upright as on a scanner console
    axis.imshow(image.T, cmap="gray", vmin=0, vmax=np.percentile(image, 99.5), interpolation="nearest")
    for value, colour in CONTOUR_COLOURS.items():
        if (label == value).any():
            axis.contour((label == value).T.astype(float), levels=[0.5], colors=colour, linewidths=0.7)
    axis.set_title(title, fontsize=7)
    axis.axis("off")
