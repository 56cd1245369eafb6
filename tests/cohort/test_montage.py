"""The montage is a picture a person can read: slices × frames with contours, as a PNG."""

from __future__ import annotations

import matplotlib.image
import numpy as np

from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.cohort.phantom.montage import write_montage


def test_montage_shows_the_cine_with_coloured_contours(smoke_cohort, tmp_path):
    record = read_manifest(smoke_cohort).split("unlabelled")[0]
    path = write_montage(smoke_cohort, record, tmp_path / "montage.png")
    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    red = (pixels[..., 0] > 0.6) & (pixels[..., 1] < 0.4) & (pixels[..., 2] < 0.4)  # LV / aorta contours
    blue = (pixels[..., 2] > 0.6) & (pixels[..., 0] < 0.4)  # RV contours
    grey = np.abs(pixels[..., 0] - pixels[..., 2]) < 0.02
    assert red.sum() > 100 and blue.sum() > 100 and grey.mean() > 0.5
