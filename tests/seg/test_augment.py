import dataclasses

import torch

from ray_semiqc.config import load_preset
from ray_semiqc.seg.augment import augment_batch
from ray_semiqc.tasks import AORTA, SAX


def _batch():
    labels = torch.zeros(8, 32, 32, dtype=torch.long)
    labels[:, 8:20, 4:12] = 1  # off-centre and asymmetric: a flip or rotation moves it
    labels[:, 20:24, 20:28] = 3
    return labels[:, None].float() + 0.01, labels


def test_labels_stay_valid_classes_and_draws_are_reproducible():
    seg = load_preset("smoke").seg
    images, labels = _batch()
    first = augment_batch(images, labels, SAX, seg, torch.Generator().manual_seed(4))
    second = augment_batch(images, labels, SAX, seg, torch.Generator().manual_seed(4))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert set(torch.unique(first[1]).tolist()) <= {0, 1, 3} and first[1].dtype == torch.long
    assert not torch.equal(first[1], labels)  # something did move


def test_without_rotation_scale_or_jitter_sax_is_untouched_but_aorta_flips():
    seg = dataclasses.replace(load_preset("smoke").seg, rotation_deg=0.0, scale_range=0.0, intensity_jitter=0.0)
    images, labels = _batch()
    sax_images, sax_labels = augment_batch(images, labels, SAX, seg, torch.Generator().manual_seed(0))
    assert torch.equal(sax_labels, labels)  # SAX never flips: LV/RV sides carry meaning
    torch.testing.assert_close(sax_images, images)
    _, aorta_labels = augment_batch(images, labels, AORTA, seg, torch.Generator().manual_seed(0))
    mirrored = {
        labels[0].flip(0).tolist().__repr__(),
        labels[0].flip(1).tolist().__repr__(),
        labels[0].flip(0, 1).tolist().__repr__(),
    }
    flipped = [sample.tolist().__repr__() in mirrored for sample in aorta_labels]
    unchanged = [torch.equal(sample, labels[0]) for sample in aorta_labels]
    assert all(f or u for f, u in zip(flipped, unchanged)) and any(flipped)
    # area is conserved by a mirror
    assert (aorta_labels == 1).sum() == (labels == 1).sum()
