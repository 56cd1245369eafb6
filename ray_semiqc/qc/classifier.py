"""`QCClassifier`: P(erroneous segmentation) from a case's cardiac-cycle curves, scikit-learn style.

`__init__` stores parameters (their names are its signature, `get_params`; their defaults come
from `QCConfig` through `from_config` only); `fit` learns (state ends in `_`) and returns self;
`predict_proba(curves)[:, 1]` is P(erroneous); `calibrate` fixes the operating threshold on
calibration cases. How well it does on test cases is not its state: `qc.assessment.assess`
returns that as a value. `save`/`load` write one self-describing file that names its task, so
a model of the other task is refused.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ray_semiqc.config import QCConfig
from ray_semiqc.files import atomic_write
from ray_semiqc.models.checkpoint import weights_digest
from ray_semiqc.models.qc_lstm import QCLSTM
from ray_semiqc.qc.features import stack_features
from ray_semiqc.qc.threshold import OperatingPoint, choose_operating_point
from ray_semiqc.tasks import get_task

MODEL_KIND = "qc_lstm"
_FEATURE_SD_FLOOR = 0.1  # features are O(1): curve / its peak, and log(peak / reference)


def train_epoch(
    network: nn.Module, batches: Iterable[dict], optimizer, loss_fn, device: torch.device | str, clip_norm: float
) -> float:
    """One pass over batch dicts `{"curves": N×T×C, "erroneous": N}`; returns the mean loss."""
    network.train()
    total, count = 0.0, 0
    for batch in batches:
        curves = torch.as_tensor(batch["curves"], dtype=torch.float32, device=device)
        erroneous = torch.as_tensor(batch["erroneous"], dtype=torch.float32, device=device)
        optimizer.zero_grad()
        loss = loss_fn(network(curves), erroneous)
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), clip_norm)  # LSTMs: one bad batch can blow the weights up
        optimizer.step()
        total += loss.item() * len(curves)
        count += len(curves)
    return total / max(count, 1)


class QCClassifier:
    def __init__(
        self,
        task: str,
        *,
        resample_length: int,
        dense_units: int,
        lstm_hidden: int,
        lstm_layers: int,
        epochs: int,
        batch_size: int,
        learning_rate: float,
        gradient_clip_norm: float,
        error_class_weight: float,
        curve_reference_scale: dict[str, float],
        seed: int = 0,
        device: str = "cpu",
    ):
        self.task = task
        self.resample_length = resample_length
        self.dense_units = dense_units
        self.lstm_hidden = lstm_hidden
        self.lstm_layers = lstm_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.gradient_clip_norm = gradient_clip_norm
        self.error_class_weight = error_class_weight
        self.curve_reference_scale = curve_reference_scale
        self.seed = seed
        self.device = device

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """What a model is built from (scikit-learn's rule: `__init__`'s arguments); `device` is where it runs."""
        names = inspect.signature(cls.__init__).parameters
        return tuple(name for name in names if name not in ("self", "device"))

    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in self.parameter_names()}

    @classmethod
    def from_config(cls, task: str, qc: QCConfig, seed: int = 0, device: str = "cpu") -> QCClassifier:
        hyperparameters = {name: getattr(qc, name) for name in cls.parameter_names() if name not in ("task", "seed")}
        return cls(task, **hyperparameters, seed=seed, device=device)

    def features(self, curves: Sequence[dict[str, np.ndarray]]) -> np.ndarray:
        task = get_task(self.task)
        return stack_features(task, curves, self.resample_length, self.curve_reference_scale)

    def build_network(self) -> QCLSTM:
        """A freshly initialised network, seeded without touching the caller's global RNG."""
        channels = 2 * len(get_task(self.task).curve_names)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return QCLSTM(channels, self.dense_units, self.lstm_hidden, self.lstm_layers)

    def fit(
        self,
        curves: Sequence[dict[str, np.ndarray]],
        erroneous: Sequence[bool],
        *,
        prepare_network: Callable[[nn.Module], nn.Module] | None = None,
    ) -> QCClassifier:
        """Learn from cases and the reviewer's labels; `prepare_network` wraps the network for
        training (Ray Train's `prepare_model`: device placement, DDP)."""
        features = self.features(curves)
        # Per-channel standardisation (statistics of the training cases, kept with the model): the
        # size channels sit at constant offsets far from the [0, 1] shape channels, which left the
        # LSTM's training unstable from seed to seed. The SD floor keeps a channel that hardly varies
        # in training (a constant myocardial volume) from turning one lost frame into an input
        # hundreds of SDs out, which saturates the LSTM.
        self.feature_mean_ = features.mean(axis=(0, 1))
        self.feature_std_ = np.maximum(features.std(axis=(0, 1)), _FEATURE_SD_FLOOR)
        features = self._standardised(features)
        labels = np.asarray(erroneous, dtype=bool)
        if labels.shape != (len(features),):
            raise ValueError(f"{len(features)} cases but {labels.shape} labels")
        n_erroneous = int(labels.sum())
        if n_erroneous in (0, len(labels)):
            raise ValueError(
                f"QC training needs good and erroneous cases; got {n_erroneous} erroneous of {len(labels)}"
            )
        self.network_ = self.build_network().to(self.device)
        trained = prepare_network(self.network_) if prepare_network else self.network_
        optimizer = torch.optim.Adam(trained.parameters(), lr=self.learning_rate)
        # A missed error costs more than a good case flagged: the seed optimised for sensitivity.
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(self.error_class_weight, device=self.device))
        rng = np.random.default_rng(self.seed)
        n_batches = math.ceil(len(labels) / self.batch_size)
        self.training_loss_ = []
        for _ in range(self.epochs):
            order = np.array_split(rng.permutation(len(labels)), n_batches)
            batches = ({"curves": features[i], "erroneous": labels[i]} for i in order)
            self.training_loss_.append(
                train_epoch(trained, batches, optimizer, loss_fn, self.device, self.gradient_clip_norm)
            )
        self.n_train_ = len(labels)
        self.n_train_erroneous_ = n_erroneous
        self.operating_point_ = None
        return self

    def predict_proba(self, curves: Sequence[dict[str, np.ndarray]]) -> np.ndarray:
        """`N × 2`: column 0 P(good), column 1 P(erroneous)."""
        self._check_fitted()
        features = torch.as_tensor(self._standardised(self.features(curves)), device=self.device)
        self.network_.eval()
        with torch.no_grad():
            p_erroneous = torch.sigmoid(self.network_(features)).double().cpu().numpy()
        return np.stack([1.0 - p_erroneous, p_erroneous], axis=1)

    def calibrate(self, curves, erroneous, sensitivity_weight: float) -> QCClassifier:
        """Choose the operating threshold by weighted Youden on calibration cases (not the training ones)."""
        self.operating_point_ = choose_operating_point(erroneous, self.predict_proba(curves)[:, 1], sensitivity_weight)
        return self

    def predict(self, curves) -> np.ndarray:
        """True where a case is called erroneous at the calibrated threshold."""
        self._check_calibrated()
        return self.predict_proba(curves)[:, 1] >= self.operating_point_.threshold

    @property
    def version_(self) -> str:
        """`qc_lstm/<task>/<hash of the weights>`: names the model in audit trails."""
        self._check_fitted()
        return f"{MODEL_KIND}/{self.task}/{weights_digest(self.network_)}"

    def save(self, path: Path) -> Path:
        self._check_fitted()
        point = getattr(self, "operating_point_", None)
        state = {
            "kind": MODEL_KIND,
            "parameters": self.get_params(),
            "network": {k: v.detach().cpu() for k, v in self.network_.state_dict().items()},
            "feature_mean": self.feature_mean_.tolist(),
            "feature_std": self.feature_std_.tolist(),
            "training_loss": list(self.training_loss_),
            "n_train": self.n_train_,
            "n_train_erroneous": self.n_train_erroneous_,
            "operating_point": point.as_dict() if point else None,
        }
        with atomic_write(path) as partial:
            torch.save(state, partial)
        return Path(path)

    @classmethod
    def load(cls, path: Path, expect_task: str | None = None, device: str = "cpu") -> QCClassifier:
        """Load a saved classifier; refuse a file that is not one, or one of another task."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no QC model")
        try:
            state = torch.load(path, map_location=device, weights_only=True)
        except (RuntimeError, EOFError, OSError, ValueError) as err:
            raise ValueError(f"{path}: unreadable QC model ({type(err).__name__}: {err})") from None
        if not isinstance(state, dict) or state.get("kind") != MODEL_KIND:
            raise ValueError(f"{path}: not a QC model (expected kind {MODEL_KIND!r})")
        parameters = dict(state["parameters"])
        if expect_task is not None and parameters["task"] != expect_task:
            raise ValueError(f"{path}: QC model is for task {parameters['task']!r}, not {expect_task!r}")
        if set(parameters) != set(cls.parameter_names()):
            raise ValueError(f"{path}: QC model parameters {sorted(parameters)} are not this version's")
        classifier = cls(parameters.pop("task"), **parameters, device=device)
        classifier.network_ = classifier.build_network().to(device)
        classifier.network_.load_state_dict(state["network"])
        classifier.feature_mean_ = np.asarray(state["feature_mean"], dtype=np.float32)
        classifier.feature_std_ = np.asarray(state["feature_std"], dtype=np.float32)
        classifier.training_loss_ = list(state["training_loss"])
        classifier.n_train_ = state["n_train"]
        classifier.n_train_erroneous_ = state["n_train_erroneous"]
        point = state["operating_point"]
        classifier.operating_point_ = OperatingPoint(**point) if point else None
        return classifier

    def _standardised(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.feature_mean_) / self.feature_std_).astype(np.float32)

    def _check_calibrated(self) -> None:
        if getattr(self, "operating_point_", None) is None:
            raise ValueError("QC classifier has no operating threshold; call calibrate() on calibration cases first")

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ValueError("QC classifier is not fitted; call fit() or load() first")
