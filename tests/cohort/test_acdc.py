"""ACDC folders become our layout: labels remapped, ED/ES from Info.cfg, bad patients named."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from ray_semiqc.cohort.acdc import import_acdc
from ray_semiqc.cohort.nifti import read_label, read_volume
from ray_semiqc.cohort.validate import validate_cohort
from ray_semiqc.tasks import SAX

SHAPE = (12, 10, 3, 5)  # X, Y, Z, T
SPACING = (1.5, 1.5, 8.0, 30.0)


def _write_patient(root: Path, name: str, ed: int, es: int, group: str, gt_value_for_lv: int = 3) -> np.ndarray:
    folder = root / "training" / name
    folder.mkdir(parents=True)
    (folder / "Info.cfg").write_text(
        f"ED: {ed}\nES: {es}\nGroup: {group}\nHeight: 180.0\nNbFrame: {SHAPE[3]}\nWeight: 80.0\n"
    )
    cine = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)
    image = nib.Nifti1Image(cine, np.diag([*SPACING[:3], 1.0]))
    image.header.set_zooms(SPACING)
    nib.save(image, folder / f"{name}_4d.nii.gz")
    gt = np.zeros(SHAPE[:3], dtype=np.uint8)
    gt[1:3, 1:3, :] = 1  # ACDC RV
    gt[5:7, 5:7, :] = 2  # ACDC Myo
    gt[8:10, 8:10, :] = gt_value_for_lv  # ACDC LV
    for frame in {ed, es}:
        nib.save(nib.Nifti1Image(gt, np.diag([*SPACING[:3], 1.0])), folder / f"{name}_frame{frame:02d}_gt.nii.gz")
    return cine


def test_acdc_patients_are_imported_with_our_labels_and_frames(tmp_path):
    acdc = tmp_path / "acdc"
    cine = _write_patient(acdc, "patient001", ed=1, es=4, group="DCM")
    _write_patient(acdc, "patient002", ed=1, es=3, group="NOR")
    manifest = import_acdc(acdc, tmp_path / "cohort")

    assert manifest.problems == []
    records = manifest.by_id()
    first = records["patient001"]
    assert (first.ed_frame, first.es_frame, first.sax_annotated_frames) == (0, 3, (0, 3))
    assert (first.split, first.group, first.source, first.ao_path) == ("labelled", "DCM", "acdc", None)
    assert records["patient002"].group == "healthy"

    root = manifest.root
    image = read_volume(root / first.sa_path, first.subject_id)
    assert np.array_equal(image.data, cine) and image.spacing_mm == SPACING[:3]
    label = read_label(root / first.label_sa_path, first.subject_id, SAX.n_classes, image.data.shape).data
    for frame in (0, 3):
        assert label[1, 1, 0, frame] == 3  # ACDC RV (1) → our RV (3)
        assert label[5, 5, 0, frame] == 2
        assert label[8, 8, 0, frame] == 1  # ACDC LV (3) → our LV (1)
    assert label[..., [1, 2, 4]].max() == 0  # frames ACDC did not annotate stay unknown
    assert validate_cohort(root).problems == []


def test_bad_acdc_patients_are_named_and_the_rest_imported(tmp_path):
    acdc = tmp_path / "acdc"
    _write_patient(acdc, "patient001", ed=1, es=4, group="HCM")
    _write_patient(acdc, "patient002", ed=1, es=9, group="NOR")  # ES beyond NbFrame
    _write_patient(acdc, "patient003", ed=1, es=3, group="RV", gt_value_for_lv=5)
    missing = acdc / "training" / "patient004"
    missing.mkdir()

    manifest = import_acdc(acdc, tmp_path / "cohort")

    assert [r.subject_id for r in manifest.records] == ["patient001"]
    messages = {p.subject_id: str(p) for p in manifest.problems}
    assert set(messages) == {"patient002", "patient003", "patient004"}
    assert "Info.cfg" in messages["patient002"] and "ES frame 9 out of range 1..5" in messages["patient002"]
    assert "patient003_frame01_gt.nii.gz" in messages["patient003"] and "unknown label values" in messages["patient003"]
    assert "Info.cfg" in messages["patient004"] and "file is missing" in messages["patient004"]
