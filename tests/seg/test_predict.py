import numpy as np
import torch
from torch import nn

from ray_semiqc.cohort.nifti import read_volume
from ray_semiqc.config import load_preset
from ray_semiqc.models.checkpoint import CheckpointMeta, save_checkpoint
from ray_semiqc.models.registry import build_network, network_arguments
from ray_semiqc.seg.predict import predict_probabilities, predict_slices, segment_subject, segment_subjects_to_folder
from ray_semiqc.seg.preprocess import normalise_intensity
from ray_semiqc.tasks import SAX


class Threshold(nn.Module):
    """Class 1 where the normalised intensity exceeds 0.5: a network whose answer we know."""

    def forward(self, image):
        return torch.cat([torch.full_like(image, 0.5), image], dim=1)


def test_segment_subject_lands_labels_on_the_original_grid():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (40, 37, 3, 4)).astype(np.float32)  # larger than the crop in X, smaller in Y
    labels = segment_subject(Threshold(), image, SAX, crop_size=38, device="cpu", batch_size=5)
    expected = (normalise_intensity(image, SAX) > 0.5).astype(np.uint8)
    expected[:1] = 0  # the crop keeps X rows 1..38 of 40: outside it is background
    expected[39:] = 0
    assert labels.shape == image.shape and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, expected)


def test_probabilities_are_a_softmax_and_agree_with_the_labels():
    slices = np.random.default_rng(1).uniform(0, 1, (7, 1, 16, 16)).astype(np.float32)
    probabilities = predict_probabilities(Threshold(), slices, "cpu", batch_size=3)
    assert probabilities.shape == (7, 2, 16, 16)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(
        probabilities.argmax(axis=1), predict_slices(Threshold(), slices, "cpu", batch_size=4)
    )


def test_bf16_prediction_mostly_agrees_with_fp32():
    model = build_network("res_unet", SAX, load_preset("smoke").seg).eval()
    slices = np.random.default_rng(2).uniform(0, 1, (4, 1, 32, 32)).astype(np.float32)
    fp32 = predict_slices(model, slices, "cpu", 4)
    bf16 = predict_slices(model, slices, "cpu", 4, bf16=True)
    assert (fp32 == bf16).mean() > 0.9


def test_folder_segmentation_writes_with_the_image_affine_and_reports_bad_subjects(tiny_cohort, tmp_path, tiny):
    seg = load_preset("smoke").seg
    model = build_network("res_unet", SAX, seg)
    meta = CheckpointMeta(
        "res_unet",
        "sax",
        network_arguments("res_unet", SAX, seg),
        "smoke",
        48,
        "percentile",
        0,
        0.0,
        seg_config={"predict_batch_size": 8},
    )
    checkpoint = save_checkpoint(tmp_path / "model.pt", model, meta)
    (tiny_cohort / "subjects" / "S01" / "sa.nii.gz").write_bytes(b"not a nifti")
    result = segment_subjects_to_folder(checkpoint, tiny_cohort, ["S00", "S01", "S99"], tmp_path / "out")
    assert list(result.written) == ["S00"]
    written = read_volume(result.written["S00"], "S00")
    assert result.written["S00"] == tmp_path / "out" / "S00" / "seg_sa.nii.gz"
    assert written.data.shape == tiny.SHAPE_SAX and written.spacing_mm == tiny.SPACING_MM
    np.testing.assert_allclose(written.affine, read_volume(tiny_cohort / "subjects/S00/sa.nii.gz", "S00").affine)
    problems = {p.subject_id: p.problem for p in result.problems}
    assert problems.keys() == {"S01", "S99"}
    assert "unreadable NIfTI" in problems["S01"] and problems["S99"] == "not in the cohort manifest"
