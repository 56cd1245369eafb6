"""Every kind of bad input is named (subject, file, problem), and the rest of the cohort still validates."""

from __future__ import annotations

import dataclasses
import gzip
import shutil

import nibabel as nib
import numpy as np
import pyarrow.parquet as pq
import pytest

from ray_semiqc.cohort.manifest import read_manifest, write_manifest
from ray_semiqc.cohort.validate import validate_cohort


def test_the_phantom_cohort_validates_clean(smoke_cohort):
    report = validate_cohort(smoke_cohort)
    assert report.problems == [] and report.unusable_subjects == []
    assert report.checked == len(read_manifest(smoke_cohort).records)


def _nifti_bytes(data: np.ndarray, spacing=(2.5, 2.5, 10.0)) -> bytes:
    image = nib.Nifti1Image(data, np.diag([*spacing, 1.0]))
    return gzip.compress(image.to_bytes())


@pytest.fixture(scope="module")
def broken_cohort(smoke_cohort, tmp_path_factory):
    """A copy of the smoke cohort with one distinct fault per subject; returns (root, expected faults)."""
    root = tmp_path_factory.mktemp("broken") / "cohort"
    shutil.copytree(smoke_cohort, root)
    manifest = read_manifest(root)
    records = list(manifest.records)
    labelled = [i for i, r in enumerate(records) if r.split == "labelled"]
    test = [i for i, r in enumerate(records) if r.split == "test"]
    others = [i for i, r in enumerate(records) if r.split in ("unlabelled", "qc_train")]
    expected = {}  # subject id → (file name in the message, words of the problem)

    def image_of(i):
        return root / records[i].sa_path

    def shape_of(i):
        return nib.load(image_of(i)).shape

    # truncated gzip
    i = others.pop()
    whole = image_of(i).read_bytes()
    image_of(i).write_bytes(whole[: len(whole) // 2])
    expected[records[i].subject_id] = ("sa.nii.gz", "unreadable NIfTI")
    # not gzip at all
    i = others.pop()
    image_of(i).write_bytes(b"this is not a gzip stream")
    expected[records[i].subject_id] = ("sa.nii.gz", "unreadable NIfTI")
    # 3-D where 4-D is required
    i = others.pop()
    image_of(i).write_bytes(_nifti_bytes(np.zeros(shape_of(i)[:3], dtype=np.int16)))
    expected[records[i].subject_id] = ("sa.nii.gz", "expected a 4-D")
    # NaN and inf voxels
    i = others.pop()
    data = np.ones(shape_of(i), dtype=np.float32)
    data[0, 0, 0, 0], data[1, 1, 0, 0] = np.nan, np.inf
    image_of(i).write_bytes(_nifti_bytes(data))
    expected[records[i].subject_id] = ("sa.nii.gz", "2 voxels are NaN or inf")
    # zero and negative spacing
    for spacing in ((0.0, 2.5, 10.0), (2.5, 2.5, -10.0)):
        i = others.pop()
        image = nib.Nifti1Image(np.zeros(shape_of(i), dtype=np.int16), np.eye(4))
        image.header["pixdim"][1:4] = spacing
        image_of(i).write_bytes(gzip.compress(image.to_bytes()))
        expected[records[i].subject_id] = ("sa.nii.gz", "voxel spacing must be positive")
    # empty and missing files
    i = others.pop()
    image_of(i).write_bytes(b"")
    expected[records[i].subject_id] = ("sa.nii.gz", "file is empty")
    i = others.pop()
    (root / records[i].ao_path).unlink()
    expected[records[i].subject_id] = ("ao.nii.gz", "file is missing")
    # label shape differs from the image
    i = test.pop()
    x, y, z, t = shape_of(i)
    (root / records[i].label_sa_path).write_bytes(_nifti_bytes(np.zeros((x, y, z, t - 1), dtype=np.uint8)))
    expected[records[i].subject_id] = ("label_sa.nii.gz", "differs from image shape")
    # unknown label values
    i = test.pop()
    label = np.zeros(shape_of(i), dtype=np.uint8)
    label[3, 3, 0, 0] = 7
    (root / records[i].label_sa_path).write_bytes(_nifti_bytes(label))
    expected[records[i].subject_id] = ("label_sa.nii.gz", "unknown label values [np.float64(7.0)]")
    # annotated frame out of range
    i = labelled.pop()
    records[i] = dataclasses.replace(records[i], sax_annotated_frames=(0, 99))
    expected[records[i].subject_id] = ("label_sa.nii.gz", "annotated frame(s) [99] out of range")
    # manifest paths that escape the root: relative and absolute
    i = labelled.pop()
    records[i] = dataclasses.replace(records[i], sa_path="../outside/sa.nii.gz")
    expected[records[i].subject_id] = ("../outside/sa.nii.gz", "escapes the cohort root")
    i = labelled.pop()
    records[i] = dataclasses.replace(records[i], ao_path="/etc/hostname")
    expected[records[i].subject_id] = ("/etc/hostname", "is absolute")
    # duplicate subject id: a second row for an otherwise good subject
    i = labelled.pop()
    records.append(dataclasses.replace(records[i], split="test"))
    expected[records[i].subject_id] = ("manifest.parquet", "subject id on 2 rows; none of them is used")
    # ids that would name folders outside an output folder, or nest them
    for unsafe in ("../../escaped", "a/b"):
        i = labelled.pop()
        records[i] = dataclasses.replace(records[i], subject_id=unsafe)
        expected[unsafe] = ("manifest.parquet", "is not usable")
    write_manifest(root, records)
    return root, expected


def test_each_bad_input_names_subject_file_and_problem(broken_cohort):
    root, expected = broken_cohort
    report = validate_cohort(root)
    messages = {}
    for problem in report.problems:
        messages.setdefault(problem.subject_id, []).append(str(problem))
    assert set(messages) == set(expected)
    for subject_id, (file_name, words) in expected.items():
        matching = [m for m in messages[subject_id] if file_name in m and words in m]
        assert matching, (subject_id, file_name, words, messages[subject_id])
        assert all(m.startswith(f"subject {subject_id}:") for m in messages[subject_id])


def test_the_rest_of_a_broken_cohort_still_validates(broken_cohort):
    root, expected = broken_cohort
    report = validate_cohort(root)
    assert report.unusable_subjects == sorted(expected)
    n_rows = pq.read_table(root / "manifest.parquet").num_rows
    assert report.checked == n_rows - 1  # subjects: the duplicated id's two rows are one subject
    assert n_rows - 1 - len(expected) >= 15  # most of the cohort is untouched and usable
