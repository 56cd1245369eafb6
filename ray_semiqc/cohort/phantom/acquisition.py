"""From tissue contrast to what a scanner stores: blur, coil bias, artefacts, Rician noise, int16.

Applies to any X×Y×Z×T contrast volume (blood = 1), so SAX and aortic cines share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ray_semiqc.config import PhantomConfig

ARTEFACTS = ("ghosting", "dark_slice", "low_snr", "missing_base")
GHOST_AMPLITUDE = (0.25, 0.45)  # of the source signal, per ghost replica
DARK_SLICE_SIGNAL = 0.12  # a slice acquired with a failed shim / lost breath-hold keeps this much signal
BIAS_STRENGTH = (0.1, 0.35)  # peak-to-peak fraction of the receive-coil sensitivity change
STORED_BLOOD_SIGNAL = (300.0, 900.0)  # int16 units that blood maps to, like a scanner's scaling


@dataclass(frozen=True)
class Acquisition:
    image: np.ndarray  # X×Y×Z×T int16
    snr: float


def acquire(contrast: np.ndarray, config: PhantomConfig, artefact: str, rng: np.random.Generator) -> Acquisition:
    """Image the contrast volume; `artefact` adds the hard cases a QC step must catch."""
    signal = gaussian_filter(contrast.astype(np.float32), sigma=(config.blur_sigma_px, config.blur_sigma_px, 0, 0))
    signal *= coil_bias(signal.shape[:2], rng)[:, :, None, None]
    if artefact == "ghosting":
        signal = signal + motion_ghosts(signal, rng)
    if artefact == "dark_slice" and signal.shape[2] > 2:
        signal[:, :, int(rng.integers(1, signal.shape[2] - 1))] *= DARK_SLICE_SIGNAL
    snr = float(rng.uniform(*(config.low_snr_range if artefact == "low_snr" else config.snr_range)))
    sigma = np.float32(1.0 / snr)
    # Rician: the magnitude of a complex signal with Gaussian noise on both channels (in place: paper cines are 20M voxels)
    magnitude = rng.standard_normal(signal.shape, dtype=np.float32)
    magnitude *= sigma
    magnitude += signal
    np.square(magnitude, out=magnitude)
    imaginary = rng.standard_normal(signal.shape, dtype=np.float32)
    imaginary *= sigma
    np.square(imaginary, out=imaginary)
    magnitude += imaginary
    np.sqrt(magnitude, out=magnitude)
    magnitude *= np.float32(rng.uniform(*STORED_BLOOD_SIGNAL))
    np.rint(magnitude, out=magnitude)
    np.clip(magnitude, 0, np.iinfo(np.int16).max, out=magnitude)
    return Acquisition(image=magnitude.astype(np.int16), snr=snr)


def coil_bias(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth receive-field: brighter toward one side of the chest, as surface coils make it."""
    x = np.linspace(-1.0, 1.0, shape[0])[:, None]
    y = np.linspace(-1.0, 1.0, shape[1])[None, :]
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    field = np.exp(0.5 * rng.uniform(*BIAS_STRENGTH) * ramp - 0.1 * rng.uniform(0.0, 1.0) * (x**2 + y**2))
    return (field / field.mean()).astype(np.float32)


def motion_ghosts(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Replicas of the moving image along the phase-encode axis (y), a band across the heart."""
    n_y = signal.shape[1]
    shift = int(rng.integers(max(n_y // 8, 1), max(n_y // 4, 2)))
    ghosts = np.zeros_like(signal)
    for replica in (1, 2):
        amplitude = rng.uniform(*GHOST_AMPLITUDE) / replica
        ghosts += (
            amplitude * (np.roll(signal, replica * shift, axis=1) + np.roll(signal, -replica * shift, axis=1)) / 2.0
        )
    return ghosts
