"""A tiny hand-made cohort (discs on a noisy background) so seg tests need no phantom renderer.

SAX: LV disc (class 1) inside a myocardial ring (2), RV disc (3) to one side; the LV radius
beats with the frame. Aorta: one disc (1). Labelled subjects annotate frames (0, 3) only.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ray_semiqc.cohort.manifest import SubjectRecord, write_manifest
from ray_semiqc.cohort.nifti import spacing_affine, write_volume

SHAPE_SAX = (40, 36, 3, 6)  # X, Y, Z, T: not multiples of 16, so crop/pad and network padding both work
SHAPE_AORTA = (36, 40, 1, 6)
ANNOTATED = (0, 3)
SPACING_MM = (2.5, 2.5, 10.0)


def disc_labels(shape: tuple[int, int, int, int], sax: bool, phase_shift: float) -> np.ndarray:
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    centre_x, centre_y = shape[0] / 2 + phase_shift, shape[1] / 2
    labels = np.zeros(shape, np.uint8)
    for t in range(shape[3]):
        lv_radius = 5 + 2 * np.cos(2 * np.pi * t / shape[3])
        distance = np.hypot(x - centre_x, y - centre_y)
        plane = np.zeros(shape[:2], np.uint8)
        if sax:
            plane[np.hypot(x - centre_x, y - centre_y - 10) < 5] = 3
            plane[distance < lv_radius + 3] = 2
            plane[distance < lv_radius] = 1
        else:
            plane[distance < lv_radius + 2] = 1
        labels[:, :, :, t] = plane[:, :, None]
    return labels


def image_of(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    brightness = np.array([50.0, 400.0, 120.0, 350.0])  # background, blood, muscle, blood
    return (brightness[labels] + rng.normal(0, 15, labels.shape)).astype(np.float32)


def write_tiny_cohort(
    root: Path,
    n_labelled: int = 4,
    unannotated_label_class: int | None = None,
    bad_label_subject: str | None = None,
    seed: int = 0,
) -> list[SubjectRecord]:
    """`unannotated_label_class`: fill every un-annotated frame of each sparse label with this class."""
    rng = np.random.default_rng(seed)
    affine = spacing_affine(SPACING_MM)
    records = []
    for index in range(n_labelled):
        subject_id = f"S{index:02d}"
        folder = Path(root) / "subjects" / subject_id
        sax = disc_labels(SHAPE_SAX, sax=True, phase_shift=rng.uniform(-3, 3))
        aorta = disc_labels(SHAPE_AORTA, sax=False, phase_shift=rng.uniform(-3, 3))
        write_volume(folder / "sa.nii.gz", image_of(sax, rng), affine)
        write_volume(folder / "ao.nii.gz", image_of(aorta, rng), affine)
        for name, label in (("label_sa.nii.gz", sax), ("label_ao.nii.gz", aorta)):
            stored = label.copy()
            if unannotated_label_class is not None:
                unannotated = [t for t in range(label.shape[3]) if t not in ANNOTATED]
                stored[..., unannotated] = unannotated_label_class
            if subject_id == bad_label_subject:
                stored[0, 0, 0, ANNOTATED[0]] = 7
            write_volume(folder / name, stored, affine)
        records.append(
            SubjectRecord(
                subject_id=subject_id,
                split="labelled",
                group="healthy",
                sa_path=f"subjects/{subject_id}/sa.nii.gz",
                ao_path=f"subjects/{subject_id}/ao.nii.gz",
                label_sa_path=f"subjects/{subject_id}/label_sa.nii.gz",
                label_ao_path=f"subjects/{subject_id}/label_ao.nii.gz",
                sax_annotated_frames=ANNOTATED,
                aorta_annotated_frames=ANNOTATED,
                ed_frame=0,
                es_frame=3,
            )
        )
    write_manifest(root, records)
    return records


@pytest.fixture
def tiny_cohort(tmp_path) -> Path:
    write_tiny_cohort(tmp_path)
    return tmp_path


@pytest.fixture
def tiny():
    """The builder and its constants (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(
        write_cohort=write_tiny_cohort,
        disc_labels=disc_labels,
        ANNOTATED=ANNOTATED,
        SHAPE_SAX=SHAPE_SAX,
        SHAPE_AORTA=SHAPE_AORTA,
        SPACING_MM=SPACING_MM,
    )
