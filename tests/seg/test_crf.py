import dataclasses

import numpy as np
import pytest
import torch

from ray_semiqc.config import CRFConfig, load_preset
from ray_semiqc.seg.crf import crf_pseudo_label, refine_labels, refine_probabilities

SIZE = 48


@pytest.fixture(scope="module")
def params() -> CRFConfig:
    return load_preset("smoke").crf


def disc(radius: float) -> np.ndarray:
    y, x = np.mgrid[:SIZE, :SIZE]
    return (y - SIZE / 2) ** 2 + (x - SIZE / 2) ** 2 < radius**2


def two_class(p_foreground: np.ndarray) -> np.ndarray:
    return np.stack([1 - p_foreground, p_foreground])[None].astype(np.float32)


def test_isolated_speckle_is_removed(params):
    truth = disc(12)
    image = truth.astype(np.float32)[None, None]
    p_foreground = np.where(truth, 0.8, 0.2)
    speckle = np.random.default_rng(0).random((SIZE, SIZE)) < 0.05
    p_foreground = np.where(speckle, 1 - p_foreground, p_foreground)
    before = two_class(p_foreground).argmax(1)[0]
    after = refine_labels(two_class(p_foreground), image, dataclasses.replace(params, slices_per_pass=4))[0]
    assert (before != truth).sum() > 50
    assert (after != truth).sum() == 0


def test_a_clean_confident_mask_is_unchanged(params):
    truth = disc(10)
    image = (truth * 0.8 + 0.1).astype(np.float32)[None, None]
    refined = refine_labels(
        two_class(np.where(truth, 0.97, 0.03)), image, dataclasses.replace(params, slices_per_pass=1)
    )[0]
    np.testing.assert_array_equal(refined, truth)


def test_an_uncertain_rim_follows_the_intensity_edge(params):
    truth = disc(10)
    rim = disc(13) & ~truth  # the network is unsure on a dark 3-px rim just outside the bright disc
    p_foreground = np.where(truth, 0.9, np.where(rim, 0.55, 0.1))
    with_edge = refine_labels(two_class(p_foreground), truth.astype(np.float32)[None, None], params)[0]
    flat_image = refine_labels(two_class(p_foreground), np.zeros((1, 1, SIZE, SIZE), np.float32), params)[0]
    assert (with_edge != truth).sum() < (flat_image != truth).sum()
    assert (with_edge[rim] == 0).mean() > 0.9


def test_posterior_is_a_distribution_per_pixel(params):
    probabilities = torch.softmax(torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    q = refine_probabilities(
        probabilities, torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1)), params
    )
    torch.testing.assert_close(q.sum(dim=1), torch.ones(2, 16, 16))


def test_pseudo_label_of_a_subject_is_on_its_own_grid(params):
    class ConfidentDisc(torch.nn.Module):
        """Logits that call a centred disc class 1 (SAX LV), everything else background."""

        def forward(self, batch):
            centre = torch.as_tensor(disc(8), dtype=torch.float32)
            logits = torch.zeros(batch.shape[0], 4, SIZE, SIZE)
            logits[:, 1] = 8 * centre
            logits[:, 0] = 8 * (1 - centre)
            return logits

    from ray_semiqc.tasks import SAX

    bright_disc = 100.0 * disc(8)[:, :, None, None] + np.random.default_rng(0).normal(0, 5, (SIZE, SIZE, 2, 3))
    image = bright_disc.astype(np.float32)
    labels = crf_pseudo_label(
        ConfidentDisc(), image, SAX, crop_size=SIZE, batch_size=4, crf=dataclasses.replace(params, slices_per_pass=3)
    )
    assert labels.shape == image.shape and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels[:, :, 1, 2], disc(8).astype(np.uint8))
