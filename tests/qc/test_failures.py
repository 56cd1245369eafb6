import numpy as np
import pytest

from ray_semiqc.measures import task_curves
from ray_semiqc.qc.failures import (
    FAILURES,
    aorta_leak,
    aorta_under_segmented,
    basal_slice,
    inject_failure,
    rv_leak_into_atrium,
    swapped_labels_on_slice,
    temporal_spike,
)
from ray_semiqc.tasks import AORTA, SAX, get_task


def test_the_basal_slice_is_the_larger_end_of_the_ventricles(qc_truth):
    truth, _, _ = qc_truth(SAX)
    base = basal_slice(truth)
    with_lv = np.flatnonzero((truth == 1).any(axis=(0, 1, 3)))
    assert base in (with_lv[0], with_lv[-1])
    apex = with_lv[-1] if base == with_lv[0] else with_lv[0]
    assert (truth[:, :, base, 0] > 0).sum() > (truth[:, :, apex, 0] > 0).sum()


def test_rv_leak_raises_systolic_rv_volume_only(qc_truth):
    truth, spacing, _ = qc_truth(SAX)
    before = task_curves(SAX, truth, spacing)
    after = task_curves(SAX, rv_leak_into_atrium(truth, np.random.default_rng(0), 3), spacing)
    es = int(np.argmin(before["lv_volume_ml"]))
    assert after["rv_volume_ml"][es] > before["rv_volume_ml"][es]
    assert after["rv_volume_ml"][0] == before["rv_volume_ml"][0]  # ED is diastolic: no atrium to leak into
    np.testing.assert_array_equal(after["lv_volume_ml"], before["lv_volume_ml"])


def test_swapped_labels_move_volume_between_lv_and_rv_but_keep_their_sum(qc_truth):
    truth, spacing, _ = qc_truth(SAX)
    before = task_curves(SAX, truth, spacing)
    after = task_curves(SAX, swapped_labels_on_slice(truth, np.random.default_rng(0), 3), spacing)
    np.testing.assert_allclose(
        after["lv_volume_ml"] + after["rv_volume_ml"], before["lv_volume_ml"] + before["rv_volume_ml"]
    )
    assert not np.allclose(after["lv_volume_ml"], before["lv_volume_ml"])
    np.testing.assert_array_equal(after["myo_volume_ml"], before["myo_volume_ml"])


@pytest.mark.parametrize("task", [SAX, AORTA])
def test_a_temporal_spike_changes_exactly_one_frame(qc_truth, task):
    truth, spacing, _ = qc_truth(task)
    before = task_curves(task, truth, spacing)
    after = task_curves(task, temporal_spike(truth, np.random.default_rng(1), 3), spacing)
    changed = {frame for name in task.curve_names for frame in np.flatnonzero(after[name] != before[name])}
    assert len(changed) == 1


def test_aorta_failures_shrink_or_grow_the_area_in_every_frame(qc_truth):
    truth, spacing, _ = qc_truth(AORTA)
    area = task_curves(AORTA, truth, spacing)["aorta_area_mm2"]
    thinned = task_curves(AORTA, aorta_under_segmented(truth, np.random.default_rng(0), 3), spacing)["aorta_area_mm2"]
    leaked = task_curves(AORTA, aorta_leak(truth, np.random.default_rng(0), 3), spacing)["aorta_area_mm2"]
    assert (thinned < area).all()
    assert (leaked > area).all()


@pytest.mark.parametrize("task_name", sorted(FAILURES))
def test_injection_never_touches_its_input_and_names_the_failure(qc_truth, task_name):
    task = get_task(task_name)
    truth, _, _ = qc_truth(task)
    original = truth.copy()
    rng = np.random.default_rng(0)
    names = set()
    for _ in range(20):
        failed, name = inject_failure(task, truth, rng, 3)
        names.add(name)
        assert failed.shape == truth.shape and not np.array_equal(failed, truth)
    np.testing.assert_array_equal(truth, original)
    assert names == set(FAILURES[task_name])
