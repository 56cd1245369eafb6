import numpy as np
import pytest

from ray_semiqc.seg.preprocess import normalise_intensity, prepare_slices, restore_labels, to_slices
from ray_semiqc.tasks import AORTA, SAX


def _volume(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1000, shape).astype(np.float32)


def test_slices_are_ordered_z_major_then_time():
    image = _volume((20, 24, 3, 5))
    slices, layout = prepare_slices(image, SAX, crop_size=32)
    normalised = normalise_intensity(image, SAX)
    z, t = 2, 3
    # 20×24 padded to 32×32 about the centre: offsets (32-20)//2 = 6 and (32-24)//2 = 4
    np.testing.assert_array_equal(slices[z * 5 + t, 0, 6:26, 4:28], normalised[:, :, z, t])
    assert layout.n_slices == 15 and slices.shape == (15, 1, 32, 32) and slices.dtype == np.float32


@pytest.mark.parametrize("shape", [(20, 24, 3, 5), (40, 37, 2, 4), (33, 18, 1, 6)])
def test_restore_labels_is_the_exact_inverse_of_the_crop(shape):
    crop = 32
    labels = np.random.default_rng(1).integers(0, 4, shape).astype(np.uint8)
    label_slices, layout = to_slices(labels, crop)
    restored = restore_labels(label_slices, layout)
    assert restored.shape == shape and restored.dtype == np.uint8
    inside = np.zeros(shape, bool)
    x0 = max((shape[0] - crop) // 2, 0)
    y0 = max((shape[1] - crop) // 2, 0)
    inside[x0 : x0 + crop, y0 : y0 + crop] = True
    np.testing.assert_array_equal(restored[inside], labels[inside])
    assert not restored[~inside].any()  # cropped-away voxels come back as background


def test_percentile_normalisation_maps_1st_and_99th_percentiles_to_0_and_1():
    image = np.arange(1000, dtype=np.float32).reshape(10, 10, 10, 1)
    normalised = normalise_intensity(image, SAX)
    low, high = np.percentile(image, (1, 99))  # 9.99 and 989.01
    assert normalised.min() == 0.0 and normalised.max() == 1.0
    assert normalised.flat[500] == pytest.approx((500 - low) / (high - low))


def test_zscore_normalisation_has_zero_mean_unit_variance():
    normalised = normalise_intensity(_volume((16, 16, 1, 8)), AORTA)
    assert normalised.mean() == pytest.approx(0, abs=1e-5) and normalised.std() == pytest.approx(1, abs=1e-5)


def test_a_flat_image_normalises_to_zeros_not_nan():
    slices, _ = prepare_slices(np.full((8, 8, 1, 2), 7.0, np.float32), AORTA, 16)
    assert np.isfinite(slices).all() and not slices.any()


def test_restore_labels_refuses_slices_of_another_layout():
    _, layout = to_slices(np.zeros((20, 20, 2, 3), np.uint8), 32)
    with pytest.raises(ValueError, match=r"label slices of shape \(5, 32, 32\) do not fit layout \(6, 32, 32\)"):
        restore_labels(np.zeros((5, 32, 32), np.uint8), layout)
