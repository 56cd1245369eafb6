import dataclasses

import numpy as np
import pytest

from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.cohort.nifti import spacing_affine, write_volume
from ray_semiqc.seg.dataset import (
    PseudoLabelled,
    TrainingSetError,
    build_training_set,
    labelled_records,
    select_subset,
    split_validation,
)
from ray_semiqc.tasks import AORTA, SAX


def test_half_subset_is_a_fixed_seeded_half(tiny_cohort):
    records = read_manifest(tiny_cohort).records
    half = select_subset(records, "half", seed=0)
    assert len(half) == 2 and {r.subject_id for r in half} <= {r.subject_id for r in records}
    assert half == select_subset(list(reversed(records)), "half", seed=0)  # order of the input does not matter
    assert select_subset(records, "full", seed=5) == sorted(records, key=lambda r: r.subject_id)
    chosen = {tuple(r.subject_id for r in select_subset(records, "half", seed)) for seed in range(20)}
    assert len(chosen) > 1  # the seed picks which half
    with pytest.raises(ValueError, match="unknown subset 'quarter'"):
        select_subset(records, "quarter", 0)


def test_validation_split_is_by_subject_and_never_empty(tiny_cohort):
    records = read_manifest(tiny_cohort).records
    train, validation = split_validation(records, 0.2, seed=0)
    assert len(validation) == 1 and len(train) == 3
    assert not {r.subject_id for r in train} & {r.subject_id for r in validation}


def test_only_annotated_frames_enter_and_table1_counts_are_reported(tmp_path, tiny):
    tiny.write_cohort(tmp_path, n_labelled=3, unannotated_label_class=1)
    records = labelled_records(read_manifest(tmp_path).records, AORTA)
    slice_set = build_training_set(tmp_path, records, AORTA, crop_size=48)
    assert slice_set.summary() == {"n_subjects": 3, "n_images": 3 * 2, "n_slices": 3 * 2 * 1}
    assert sorted(set(slice_set.frames.tolist())) == list(tiny.ANNOTATED)
    # the un-annotated frames were filled with aorta everywhere; none of that reached the set
    assert slice_set.labels.mean() < 0.5


def test_sax_slices_cover_every_slice_of_each_annotated_frame(tiny_cohort, tiny):
    records = read_manifest(tiny_cohort).records[:2]
    slice_set = build_training_set(tiny_cohort, records, SAX, crop_size=48)
    assert slice_set.summary() == {
        "n_subjects": 2,
        "n_images": 4,
        "n_slices": 2 * len(tiny.ANNOTATED) * tiny.SHAPE_SAX[2],
    }
    assert slice_set.images.shape == (len(slice_set), 1, 48, 48) and slice_set.labels.shape == (len(slice_set), 48, 48)
    assert set(np.unique(slice_set.labels)) == {0, 1, 2, 3}


def test_pseudo_labelled_subjects_contribute_every_frame(tiny_cohort, tmp_path, tiny):
    records = read_manifest(tiny_cohort).records
    pseudo_path = tmp_path / "pseudo" / "S03" / "label_ao.nii.gz"
    write_volume(
        pseudo_path, tiny.disc_labels(tiny.SHAPE_AORTA, sax=False, phase_shift=0), spacing_affine(tiny.SPACING_MM)
    )
    unlabelled = dataclasses.replace(records[3], split="unlabelled", label_ao_path=None, aorta_annotated_frames=())
    slice_set = build_training_set(tiny_cohort, records[:1], AORTA, 48, [PseudoLabelled(unlabelled, pseudo_path)])
    assert slice_set.summary() == {
        "n_subjects": 2,
        "n_images": 2 + tiny.SHAPE_AORTA[3],
        "n_slices": 2 + tiny.SHAPE_AORTA[3],
    }


def test_bad_labels_are_all_named_before_training(tmp_path, tiny):
    tiny.write_cohort(tmp_path, n_labelled=3, bad_label_subject="S01")
    records = read_manifest(tmp_path).records
    with pytest.raises(
        TrainingSetError, match=r"subject S01: .*label_sa.nii.gz: unknown label values .*7.*expected 0..3"
    ) as caught:
        build_training_set(tmp_path, records, SAX, 48)
    assert [p.subject_id for p in caught.value.problems] == ["S01"]


def test_labels_under_truth_are_never_opened(tiny_cohort):
    records = read_manifest(tiny_cohort).records
    sneaky = dataclasses.replace(records[0], label_sa_path="truth/S00/label_sa.nii.gz")
    with pytest.raises(
        TrainingSetError, match=r"subject S00: .*truth/S00/label_sa.nii.gz: training labels must never come from"
    ):
        build_training_set(tiny_cohort, [sneaky], SAX, 48)
