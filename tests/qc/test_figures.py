import copy

import numpy as np
import pytest
from PIL import Image

from ray_semiqc.qc.figures import plot_qc_roc, plot_subject_curves
from ray_semiqc.tasks import SAX


def _is_png_with_ink(path):
    image = np.asarray(Image.open(path).convert("L"))
    return image.shape[0] > 100 and image.min() < 100  # drawn on, not blank


def test_subject_panel_is_written_with_its_verdict(tmp_path, sax_cycle):
    rng = np.random.default_rng(0)
    path = plot_subject_curves(
        SAX, sax_cycle(rng, erroneous=True), tmp_path / "s1.png", "s1", 0.2, 0.3, truth_curves=sax_cycle(rng)
    )
    assert _is_png_with_ink(path)
    assert Image.open(path).size[0] > 2 * Image.open(path).size[1]  # three panels side by side


def test_roc_needs_an_assessed_classifier_and_draws_one(tmp_path, fitted_sax_qc, toy_qc_set):
    calibrated = copy.deepcopy(fitted_sax_qc).calibrate(*toy_qc_set(4, n=24), sensitivity_weight=0.8)
    with pytest.raises(ValueError, match="not assessed"):
        plot_qc_roc(calibrated, tmp_path / "roc.png")
    assert _is_png_with_ink(plot_qc_roc(calibrated.assess(*toy_qc_set(5, n=24)), tmp_path / "roc.png"))
