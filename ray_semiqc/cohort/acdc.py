"""Read the ACDC challenge layout into our cohort layout and manifest.

ACDC: `patientNNN/Info.cfg` (ED, ES, Group, NbFrame; frames 1-based), `patientNNN_4d.nii.gz`
(X×Y×Z×T), `patientNNN_frameNN_gt.nii.gz` (X×Y×Z) for the annotated ED and ES frames, with
labels 1 RV, 2 Myo, 3 LV. Ours: 1 LV, 2 Myo, 3 RV, and a 4-D label whose annotated frames the
manifest lists. Every patient becomes a `labelled` SAX subject; a bad patient is a problem
in the returned manifest, not the end of the import.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import Manifest, SubjectRecord, read_manifest, write_manifest
from ray_semiqc.cohort.nifti import NIFTI_READ_ERRORS, read_volume, write_volume
from ray_semiqc.cohort.phantom.cohort import SUBJECTS_DIR
from ray_semiqc.tasks import SAX

ACDC_TO_OURS = np.array([0, 3, 2, 1], dtype=np.uint8)  # index: ACDC label (bg, RV, Myo, LV) → ours
ACDC_GROUPS = {"NOR": "healthy", "DCM": "DCM", "HCM": "HCM", "MINF": "MINF", "RV": "RV_dilation"}
INFO_FILE = "Info.cfg"


def import_acdc(acdc_root: Path, out_root: Path) -> Manifest:
    acdc_root, out_root = Path(acdc_root), Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    records, problems = [], []
    for patient in sorted(p for p in acdc_root.rglob("patient*") if p.is_dir()):
        try:
            records.append(_import_patient(patient, out_root))
        except CohortError as err:
            problems.append(err)
    write_manifest(out_root, records)
    manifest = read_manifest(out_root)
    return Manifest(root=manifest.root, records=manifest.records, problems=problems + manifest.problems)


def read_info(path: Path, subject_id: str) -> dict[str, str]:
    if not path.exists():
        raise CohortError(subject_id, path, "file is missing")
    info = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    missing = [key for key in ("ED", "ES", "NbFrame") if key not in info]
    if missing:
        raise CohortError(subject_id, path, f"Info.cfg lacks {', '.join(missing)}")
    return info


def _import_patient(patient: Path, out_root: Path) -> SubjectRecord:
    subject_id = patient.name
    info = read_info(patient / INFO_FILE, subject_id)
    try:
        ed, es, n_frames = int(info["ED"]) - 1, int(info["ES"]) - 1, int(info["NbFrame"])
    except ValueError:
        raise CohortError(subject_id, patient / INFO_FILE, f"ED/ES/NbFrame are not integers: {info}") from None
    cine_path = patient / f"{subject_id}_4d.nii.gz"
    cine = read_volume(cine_path, subject_id, dtype=np.float32)
    if cine.data.shape[3] != n_frames:
        raise CohortError(subject_id, cine_path, f"{cine.data.shape[3]} frames but Info.cfg says NbFrame {n_frames}")
    for name, frame in (("ED", ed), ("ES", es)):
        if not 0 <= frame < n_frames:
            raise CohortError(subject_id, patient / INFO_FILE, f"{name} frame {frame + 1} out of range 1..{n_frames}")

    label = np.zeros(cine.data.shape, dtype=np.uint8)
    for frame in sorted({ed, es}):
        label[..., frame] = _read_ground_truth(
            patient / f"{subject_id}_frame{frame + 1:02d}_gt.nii.gz", subject_id, cine.data.shape[:3]
        )

    folder = f"{SUBJECTS_DIR}/{subject_id}"
    frame_interval_ms = float(nib.load(str(cine_path)).header.get_zooms()[3]) or 1.0
    image = np.rint(cine.data).astype(np.int16)
    write_volume(out_root / folder / SAX.image_file, image, cine.affine, frame_interval_ms)
    write_volume(out_root / folder / SAX.label_file, label, cine.affine, frame_interval_ms)
    return SubjectRecord(
        subject_id=subject_id,
        split="labelled",
        group=ACDC_GROUPS.get(info.get("Group", ""), info.get("Group") or "unknown"),
        sa_path=f"{folder}/{SAX.image_file}",
        ao_path=None,
        label_sa_path=f"{folder}/{SAX.label_file}",
        sax_annotated_frames=tuple(sorted({ed, es})),
        ed_frame=ed,
        es_frame=es,
        source="acdc",
    )


def _read_ground_truth(path: Path, subject_id: str, expected_shape: tuple[int, ...]) -> np.ndarray:
    """One annotated 3-D frame, remapped from ACDC's label values to ours."""
    if not path.exists():
        raise CohortError(subject_id, path, "file is missing")
    try:
        data = np.asanyarray(nib.load(str(path)).dataobj)
    except NIFTI_READ_ERRORS as err:
        raise CohortError(subject_id, path, f"unreadable NIfTI ({type(err).__name__}: {err})") from None
    if data.shape != tuple(expected_shape):
        raise CohortError(
            subject_id, path, f"label shape {data.shape} differs from image shape {tuple(expected_shape)}"
        )
    values = np.unique(data)
    unknown = [v for v in values if v != int(v) or not 0 <= v < len(ACDC_TO_OURS)]
    if unknown:
        raise CohortError(subject_id, path, f"unknown label values {unknown[:5]} (ACDC uses 0..3)")
    return ACDC_TO_OURS[data.astype(np.int64)]
