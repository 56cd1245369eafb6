"""NIfTI in and out (nibabel), with every failure turned into a CohortError that names the file."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.openers import ImageOpener

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.files import write_bytes

GZIP_LEVEL = 1  # nibabel's own default: cine volumes compress little more at higher levels, slower
# What nibabel/gzip raise on truncated, non-gzip or otherwise unreadable files.
NIFTI_READ_ERRORS = (OSError, EOFError, zlib.error, gzip.BadGzipFile, ValueError, nib.filebasedimages.ImageFileError)


@dataclass(frozen=True)
class Volume:
    data: np.ndarray  # X×Y×Z×T
    spacing_mm: tuple[float, float, float]  # pixdim x, y and the slice *spacing* z
    affine: np.ndarray


def read_volume(path: Path, subject_id: str, *, dtype=np.float32) -> Volume:
    """Read a 4-D cine volume (X×Y×Z×T); a 3-D file or a bad one is a CohortError."""
    path = Path(path)
    if not path.exists():
        raise CohortError(subject_id, path, "file is missing")
    if path.stat().st_size == 0:
        raise CohortError(subject_id, path, "file is empty")
    try:
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj)
    except NIFTI_READ_ERRORS as err:
        raise CohortError(subject_id, path, f"unreadable NIfTI ({type(err).__name__}: {err})") from None
    if data.ndim != 4:
        raise CohortError(subject_id, path, f"expected a 4-D X×Y×Z×T volume, got shape {data.shape}")
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
        raise CohortError(subject_id, path, f"{int((~np.isfinite(data)).sum())} voxels are NaN or inf")
    spacing = _stored_spacing(path)
    if any(not np.isfinite(s) or s <= 0 for s in spacing):
        raise CohortError(subject_id, path, f"voxel spacing must be positive, header says {spacing}")
    return Volume(data=data.astype(dtype, copy=False), spacing_mm=spacing, affine=image.affine)


def _stored_spacing(path: Path) -> tuple[float, float, float]:
    """pixdim x, y, z as the file stores them: nibabel's loader quietly turns 0 or negative into 1 or |s|."""
    with ImageOpener(str(path)) as stream:
        header = nib.Nifti1Header.from_fileobj(stream, check=False)
    return tuple(float(s) for s in header["pixdim"][1:4])


def read_label(path: Path, subject_id: str, n_classes: int, expected_shape: tuple[int, ...]) -> Volume:
    """Read a label volume and check it matches its image and holds only known classes."""
    volume = read_volume(path, subject_id, dtype=np.float64)
    data = volume.data
    if data.shape != tuple(expected_shape):
        raise CohortError(
            subject_id, path, f"label shape {data.shape} differs from image shape {tuple(expected_shape)}"
        )
    values = np.unique(data)
    unknown = [v for v in values if v != int(v) or not 0 <= v < n_classes]
    if unknown:
        raise CohortError(subject_id, path, f"unknown label values {unknown[:5]} (expected 0..{n_classes - 1})")
    return Volume(data=data.astype(np.uint8), spacing_mm=volume.spacing_mm, affine=volume.affine)


def write_volume(path: Path, data: np.ndarray, affine: np.ndarray, frame_interval_ms: float = 1.0) -> None:
    """Write atomically (`files.write_bytes`) so a crash never leaves a half-written volume.

    The gzip stream carries no time stamp or file name, so the same volume is the same bytes
    whichever process writes it, whenever (serial and Ray cohort generation agree byte for byte).
    """
    path = Path(path)
    image = nib.Nifti1Image(data, affine)
    zooms = list(image.header.get_zooms())
    if data.ndim == 4:
        zooms[3] = frame_interval_ms
        image.header.set_zooms(zooms)
        image.header.set_xyzt_units("mm", "msec")
    encoded = image.to_bytes()
    if path.name.endswith(".gz"):
        encoded = gzip.compress(encoded, compresslevel=GZIP_LEVEL, mtime=0)
    write_bytes(path, encoded)


def spacing_affine(spacing_mm: tuple[float, float, float], rotation: np.ndarray | None = None) -> np.ndarray:
    """Affine for a grid with this spacing (and an optional 3×3 orientation)."""
    affine = np.eye(4)
    orientation = np.eye(3) if rotation is None else rotation
    affine[:3, :3] = orientation @ np.diag(spacing_mm)
    return affine
