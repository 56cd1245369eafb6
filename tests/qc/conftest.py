"""Hand-made cardiac-cycle curves for QC tests: smooth cycles, and the same with a lost frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest


def _sax_cycle(rng: np.random.Generator, n_frames: int = 20, erroneous: bool = False) -> dict[str, np.ndarray]:
    phase = np.arange(n_frames) / n_frames
    contraction = 0.5 * (1 - np.cos(2 * np.pi * phase))  # 0 at ED, 1 at ES
    lv_edv = rng.uniform(110, 160)
    rv_edv = lv_edv * rng.uniform(1.0, 1.15)
    curves = {
        "lv_volume_ml": lv_edv * (1 - 0.6 * contraction),
        "myo_volume_ml": np.full(n_frames, lv_edv * 0.8),
        "rv_volume_ml": rv_edv * (1 - 0.5 * contraction),
    }
    if erroneous:  # a frame whose masks were lost
        frame = int(rng.integers(n_frames))
        curves = {name: np.where(np.arange(n_frames) == frame, 0.05 * c, c) for name, c in curves.items()}
    return curves


@pytest.fixture(scope="session")
def sax_cycle():
    """`sax_cycle(rng, n_frames=20, erroneous=False) -> curves`."""
    return _sax_cycle


@pytest.fixture(scope="session")
def toy_qc_set():
    """`toy_qc_set(seed, n=48) -> (curves, erroneous)`: every third case has a lost frame."""

    def make(seed: int, n: int = 48):
        rng = np.random.default_rng(seed)
        erroneous = np.arange(n) % 3 == 0
        return [_sax_cycle(rng, erroneous=bool(e)) for e in erroneous], erroneous

    return make


@pytest.fixture(scope="session")
def fitted_sax_qc(smoke_config, toy_qc_set):
    """One smoke-sized SAX QC classifier fitted on the toy set, shared (fitting costs seconds).

    Resampled to the toy's 20 frames (the smoke cohort has 10): downsampling to fewer steps than
    frames can step over a lost frame, as features.py warns.
    """
    from ray_semiqc.qc.classifier import QCClassifier

    qc = dataclasses.replace(smoke_config.qc, resample_length=20)
    return QCClassifier.from_config("sax", qc, seed=0).fit(*toy_qc_set(0, n=96))


@pytest.fixture(scope="session")
def qc_truth(smoke_cohort):
    """`qc_truth(task) -> (truth labels, spacing_mm, record)` of the smoke cohort's first qc_train subject."""
    from ray_semiqc.cohort.manifest import read_manifest
    from ray_semiqc.cohort.nifti import read_volume
    from ray_semiqc.cohort.truth import load_truth

    manifest = read_manifest(smoke_cohort)
    record = manifest.split("qc_train")[0]

    def load(task):
        image = read_volume(manifest.resolve(record, record.image_path(task)), record.subject_id)
        return load_truth(smoke_cohort, record, task, image.data.shape), image.spacing_mm, record

    return load
