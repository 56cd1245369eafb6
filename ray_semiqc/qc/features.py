"""What the QC classifier sees: each case's curves on one fixed-length cycle, normalised.

Every curve gives two channels per time step: its shape (the curve over its own maximum,
so spikes, empty frames and flat cycles show whatever the heart's size) and its size (the
log of its maximum over a reference scale from config.qc, the same at every step), so an
implausibly small or large ventricle, or an RV:LV ratio off, is visible too. Curves are
resampled over the cycle, so cohorts with any frame count share one classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ray_semiqc.tasks import Task

MIN_FRAMES = 3  # fewer frames is no cycle


def curve_features(
    task: Task, curves: dict[str, np.ndarray], length: int, reference_scale: dict[str, float]
) -> np.ndarray:
    """`length × 2·n_curves` float32 features of one case; bad curves raise a ValueError saying why."""
    missing = [name for name in task.curve_names if name not in curves]
    if missing:
        raise ValueError(f"{task.name} QC needs curve(s) {missing}")
    arrays = {name: np.asarray(curves[name], dtype=np.float64) for name in task.curve_names}
    lengths = {name: a.shape for name, a in arrays.items()}
    if len(set(lengths.values())) != 1 or any(len(shape) != 1 for shape in lengths.values()):
        raise ValueError(f"curves must be 1-D and of one length, got shapes {lengths}")
    n_frames = len(next(iter(arrays.values())))
    if n_frames < MIN_FRAMES:
        raise ValueError(f"curves have {n_frames} frame(s); a cycle needs at least {MIN_FRAMES}")
    channels = []
    for name, curve in arrays.items():
        if not np.isfinite(curve).all():
            raise ValueError(f"curve {name} has NaN or inf at frame(s) {np.flatnonzero(~np.isfinite(curve)).tolist()}")
        if (curve < 0).any():
            raise ValueError(f"curve {name} is negative at frame(s) {np.flatnonzero(curve < 0).tolist()}")
        peak = curve.max()
        if peak == 0:
            raise ValueError(f"curve {name} is zero in every frame (an empty segmentation)")
        channels.append(_resample_cycle(curve / peak, length))
        channels.append(np.full(length, np.log(peak / reference_scale[name])))
    return np.stack(channels, axis=1).astype(np.float32)


def unscorable_reason(
    task: Task, curves: dict[str, np.ndarray], length: int, reference_scale: dict[str, float]
) -> str | None:
    """Why QC cannot score these curves (the one rule: `curve_features` refuses them), or None."""
    try:
        curve_features(task, curves, length, reference_scale)
    except ValueError as err:
        return str(err)
    return None


def stack_features(
    task: Task, cases: Sequence[dict[str, np.ndarray]], length: int, reference_scale: dict[str, float]
) -> np.ndarray:
    """`N × length × channels` features of many cases; the error names the case that is bad."""
    features = []
    for index, curves in enumerate(cases):
        try:
            features.append(curve_features(task, curves, length, reference_scale))
        except ValueError as err:
            raise ValueError(f"case {index}: {err}") from None
    if not features:
        raise ValueError("no cases to featurise")
    return np.stack(features)


def _resample_cycle(curve: np.ndarray, length: int) -> np.ndarray:
    # Linear, periodic: the cycle wraps (last frame → first), and a spike stays a spike
    # (a Fourier resample would ring around it). Presets choose resample_length ≥ the
    # longest cycle: linear *down*sampling can step over a one-frame spike.
    n_frames = len(curve)
    positions = np.arange(length) * (n_frames / length)
    return np.interp(positions, np.arange(n_frames), curve, period=n_frames)
