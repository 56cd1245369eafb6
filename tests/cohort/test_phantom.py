"""The phantom is physics, not circles on noise: its masks measure what it was built with."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.cohort.nifti import read_label, read_volume
from ray_semiqc.cohort.phantom import plan_cohort, write_subject
from ray_semiqc.cohort.phantom.anatomy import draw_contrast, draw_thorax
from ray_semiqc.cohort.phantom.aorta import render_aorta
from ray_semiqc.cohort.phantom.physiology import GROUPS, draw_physiology, ventricular_filling
from ray_semiqc.cohort.truth import load_truth
from ray_semiqc.config import load_preset
from ray_semiqc.tasks import AORTA, SAX


@pytest.fixture(scope="module")
def cohort_truth(smoke_cohort):
    """Per subject: record, SAX truth, aorta truth, SAX image, voxel volume in ml from the header."""
    manifest = read_manifest(smoke_cohort)
    subjects = []
    for record in manifest.records:
        image = read_volume(smoke_cohort / record.sa_path, record.subject_id)
        aorta_image = read_volume(smoke_cohort / record.ao_path, record.subject_id)
        sax = load_truth(smoke_cohort, record, SAX, image.data.shape)
        aorta = load_truth(smoke_cohort, record, AORTA, aorta_image.data.shape)
        x, y, z = image.spacing_mm  # the measure convention: pixdim x·y and the slice spacing z
        subjects.append((record, sax, aorta, image, x * y * z / 1000.0, aorta_image.spacing_mm))
    return subjects


def _volumes_ml(label: np.ndarray, value: int, voxel_ml: float) -> np.ndarray:
    return (label == value).sum(axis=(0, 1, 2)) * voxel_ml


def test_lv_rv_volumes_and_ef_from_masks_match_generating_parameters(cohort_truth):
    for record, sax, _, _, voxel_ml, _ in cohort_truth:
        lv, rv = _volumes_ml(sax, 1, voxel_ml), _volumes_ml(sax, 3, voxel_ml)
        p = record.phantom
        assert lv[0] == pytest.approx(p["lv_edv_ml"], rel=0.03), record.subject_id
        assert lv.min() == pytest.approx(p["lv_esv_ml"], rel=0.03), record.subject_id
        assert 100 * (lv[0] - lv.min()) / lv[0] == pytest.approx(p["lv_ef_pct"], rel=0.03), record.subject_id
        assert rv[0] == pytest.approx(p["rv_edv_ml"], rel=0.03), record.subject_id
        assert rv.min() == pytest.approx(p["rv_esv_ml"], rel=0.03), record.subject_id
        assert int(np.argmin(lv)) == record.es_frame and np.argmax(lv) == record.ed_frame == 0


def test_rv_ejects_nearly_the_lv_stroke_volume(cohort_truth):
    covered = [subject for subject in cohort_truth if subject[0].artefact != "missing_base"]
    for record, sax, _, _, voxel_ml, _ in covered:
        lv, rv = _volumes_ml(sax, 1, voxel_ml), _volumes_ml(sax, 3, voxel_ml)
        assert rv.max() - rv.min() == pytest.approx(lv.max() - lv.min(), rel=0.08), record.subject_id


def test_myocardial_volume_is_conserved_while_the_wall_thickens(cohort_truth):
    for record, sax, _, _, voxel_ml, _ in cohort_truth:
        myo = _volumes_ml(sax, 2, voxel_ml)
        assert (myo.max() - myo.min()) / myo.mean() < 0.05, record.subject_id
        assert myo.mean() == pytest.approx(record.phantom["myo_volume_ml"], rel=0.03)
        # a thicker wall at ES: same myocardium around a smaller cavity on the mid slice
        mid = sax.shape[2] // 2
        es = record.es_frame
        wall_ed = (sax[:, :, mid, 0] == 2).sum() / np.sqrt(
            (sax[:, :, mid, 0] <= 2).sum() - (sax[:, :, mid, 0] == 0).sum()
        )
        wall_es = (sax[:, :, mid, es] == 2).sum() / np.sqrt(
            (sax[:, :, mid, es] <= 2).sum() - (sax[:, :, mid, es] == 0).sum()
        )
        assert wall_es > wall_ed


def test_cavity_areas_shrink_from_base_to_apex(cohort_truth):
    for record, sax, _, _, _, _ in cohort_truth:
        lv_area = (sax[..., 0] == 1).sum(axis=(0, 1))
        rv_area = (sax[..., 0] == 3).sum(axis=(0, 1))
        assert np.all(np.diff(lv_area) <= 0) and lv_area[0] > 2 * lv_area[-1], (record.subject_id, lv_area)
        assert np.all(np.diff(rv_area) <= 0), (record.subject_id, rv_area)


def test_end_systole_falls_at_30_to_40_percent_of_the_cycle(cohort_truth):
    n_frames = load_preset("smoke").phantom.sax_frames
    for record, *_ in cohort_truth:
        assert 0.28 <= record.es_frame / n_frames <= 0.42


def test_diastole_has_rapid_filling_diastasis_and_atrial_kick():
    n_frames, es_frame = 50, 17
    filling = ventricular_filling(es_frame, n_frames)
    rate = np.diff(filling) * n_frames  # stroke volumes per cycle
    rapid = rate[es_frame + 3 : es_frame + 10].max()
    diastasis = rate[int(0.7 * n_frames) : int(0.82 * n_frames)].mean()
    atrial = rate[int(0.86 * n_frames) :].max()
    assert filling[0] == 1.0 and filling[es_frame] == 0.0 == filling.min()
    assert rapid > 3 * diastasis and atrial > 3 * diastasis and diastasis > 0
    assert np.all(rate[:es_frame] <= 0)  # ejection only empties


def test_groups_differ_as_the_cardiomyopathies_do():
    rng = np.random.default_rng(0)
    draws = {group: [draw_physiology(group, rng) for _ in range(200)] for group in GROUPS}

    def mean(group, field):
        return np.mean([getattr(p, field) for p in draws[group]])

    def ef(group):
        return np.mean([100 * (p.lv_edv_ml - p.lv_esv_ml) / p.lv_edv_ml for p in draws[group]])

    assert ef("DCM") < ef("hypokinesia") < ef("healthy") < ef("HCM")
    assert mean("DCM", "lv_edv_ml") > 1.4 * mean("healthy", "lv_edv_ml")
    assert mean("HCM", "myo_volume_ml") > 1.8 * mean("healthy", "myo_volume_ml")
    assert mean("RV_dilation", "rv_edv_ml") / mean("RV_dilation", "lv_edv_ml") > 1.4


def test_splits_hold_the_seed_proportions_and_sizes():
    config = load_preset("paper").phantom
    specs = plan_cohort(config, seed=0)
    test = [s for s in specs if s.split == "test"]
    assert len(test) == 102 and sum(s.group == "healthy" for s in test) == 51
    assert {s.group for s in test} == {"healthy", "DCM", "HCM", "hypokinesia", "RV_dilation"}
    assert sum(s.split == "labelled" for s in specs) == 500 and sum(s.aorta_labelled for s in specs) == 138
    assert len({s.subject_id for s in specs}) == len(specs)
    assert 0.1 < np.mean([s.artefact != "none" for s in specs]) < 0.2
    bigger_pool = plan_cohort(config, seed=0, n_unlabelled=5000)
    assert len(bigger_pool) == len(specs) + 4000
    assert [s for s in bigger_pool if s.split != "unlabelled"] == [s for s in specs if s.split != "unlabelled"]


def test_aortic_area_peaks_in_early_systole(cohort_truth):
    for record, _, aorta, _, _, spacing in cohort_truth:
        area = (aorta == 1).sum(axis=(0, 1, 2)) * spacing[0] * spacing[1]
        peak = int(np.argmax(area))
        n_frames = area.size
        assert 0 < peak / n_frames <= 0.25, (record.subject_id, area)
        assert int(np.argmin(area)) == 0
        assert area.max() == pytest.approx(record.phantom["aorta_max_area_mm2"], abs=spacing[0] * spacing[1])


def test_distensibility_from_masks_matches_pulse_pressure_and_parameter():
    config = dataclasses.replace(load_preset("paper").phantom, aorta_matrix=(96, 96), aorta_frames=20, supersample=2)
    rng = np.random.default_rng(3)
    physiology = draw_physiology("healthy", rng)
    thorax = draw_thorax((96 * config.pixel_mm, 96 * config.pixel_mm), 1.0, rng)
    aorta = render_aorta(physiology, config, thorax, draw_contrast(rng), rng)
    area = aorta.label[:, :, 0, :].sum(axis=(0, 1)) * config.pixel_mm**2
    distensibility = 1000 * (area.max() - area.min()) / (area.min() * physiology.central_pulse_pressure_mmhg)
    assert distensibility == pytest.approx(physiology.aorta_distensibility_1e3_per_mmhg, rel=0.05)


def test_generation_is_deterministic_per_seed(tmp_path):
    config = load_preset("smoke").phantom
    spec = plan_cohort(config, seed=4)[0]
    first = write_subject(tmp_path / "a", spec, config)
    second = write_subject(tmp_path / "b", spec, config)
    assert first == second
    for relative in (first.sa_path, first.ao_path, first.label_sa_path):
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
    other = write_subject(tmp_path / "c", dataclasses.replace(spec, seed=spec.seed + 1), config)
    assert (tmp_path / "c" / other.sa_path).read_bytes() != (tmp_path / "a" / first.sa_path).read_bytes()


def test_splits_expose_only_what_the_training_setting_has(smoke_cohort):
    config = load_preset("smoke").phantom
    manifest = read_manifest(smoke_cohort)
    labelled = manifest.split("labelled")
    assert sum(r.label_ao_path is not None for r in labelled) == config.labelled_aorta_subjects
    for record in labelled:
        assert record.sax_annotated_frames == (0, record.es_frame)
        image = read_volume(smoke_cohort / record.sa_path, record.subject_id)
        label = read_label(smoke_cohort / record.label_sa_path, record.subject_id, 4, image.data.shape).data
        hidden = [t for t in range(label.shape[3]) if t not in record.sax_annotated_frames]
        assert label[..., hidden].max() == 0 and label[..., record.es_frame].max() == 3
        if record.label_ao_path:
            assert len(record.aorta_annotated_frames) == config.aorta_annotated_frames
    for record in manifest.split("test"):
        assert record.sax_annotated_frames == tuple(range(config.sax_frames))
        assert record.aorta_annotated_frames == tuple(range(config.aorta_frames))
    for split in ("unlabelled", "qc_train"):
        for record in manifest.split(split):
            assert record.label_sa_path is None and record.label_ao_path is None
            assert not list((smoke_cohort / "subjects" / record.subject_id).glob("label_*"))
            assert (smoke_cohort / "truth" / record.subject_id / "label_sa.nii.gz").exists()


def test_images_are_int16_cines_in_the_ukbb_shapes(smoke_cohort):
    import nibabel as nib

    config = load_preset("smoke").phantom
    record = read_manifest(smoke_cohort).records[0]
    sa, ao = nib.load(smoke_cohort / record.sa_path), nib.load(smoke_cohort / record.ao_path)
    assert sa.get_data_dtype() == np.int16 and ao.get_data_dtype() == np.int16
    assert sa.shape == (*config.sax_matrix, config.sax_slices, config.sax_frames)
    assert ao.shape == (*config.aorta_matrix, 1, config.aorta_frames)
    assert sa.header.get_zooms()[3] == pytest.approx(record.phantom["sax_frame_interval_ms"], rel=1e-5)
    # bSSFP: blood is brighter than myocardium
    label = load_truth(smoke_cohort, record, SAX, sa.shape)
    image = np.asanyarray(sa.dataobj)
    assert image[label == 1].mean() > 2 * image[label == 2].mean()


def test_artefacts_damage_the_images_they_name(cohort_truth):
    by_artefact = {}
    for record, sax, _, image, _, _ in cohort_truth:
        by_artefact.setdefault(record.artefact, []).append((record, sax, image))
    assert {"ghosting", "dark_slice", "low_snr", "missing_base", "none"} <= set(by_artefact)
    for record, _, image in by_artefact["dark_slice"]:
        slice_means = image.data.mean(axis=(0, 1, 3))
        assert slice_means.min() < 0.3 * np.median(slice_means), record.subject_id
    clean_snr = min(r.phantom["snr"] for r, _, _ in by_artefact["none"])
    assert all(r.phantom["snr"] < clean_snr for r, _, _ in by_artefact["low_snr"])
    for record, sax, _ in by_artefact["missing_base"]:
        # the stack starts below the base: the apex falls out of it and no slice has the basal area
        assert (sax[:, :, -1, 0] == 1).sum() == 0, record.subject_id
