"""Training a segmentation network: pure torch, deterministic per seed, a fixed number of steps.

Every scenario trains for `config.seg.train_steps` optimizer steps, so scenarios with more
data are compared at equal compute. The loop reads any re-iterable source of batch dicts
`{"image": B×1×H×W, "label": B×H×W}` on an explicit device — a SliceSet (shuffled per epoch
with a seeded generator), a list in a test, or a Ray Data shard in `distributed/train_seg.py`.
Validation (MONAI DiceCELoss and DiceMetric) runs every `validate_every_steps`; the weights
with the best validation Dice are kept.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from monai.losses import DiceCELoss
from monai.metrics import DiceMetric
from torch import nn

from ray_semiqc.config import Config
from ray_semiqc.models.checkpoint import CheckpointMeta, save_checkpoint, unwrap
from ray_semiqc.models.registry import build_from_arguments, network_arguments
from ray_semiqc.seg.augment import augment_batch
from ray_semiqc.seg.dataset import ShuffledSlices, SliceSet
from ray_semiqc.tasks import Task

Batch = dict[str, torch.Tensor]


@dataclass
class TrainingResult:
    model: nn.Module  # the best-by-validation weights, eval mode, CPU
    meta: CheckpointMeta
    snapshots: dict[int, tuple[dict, CheckpointMeta]] = field(default_factory=dict)  # step → (weights, meta)

    def write(self, folder: Path) -> Path:
        """FOLDER/model.pt and FOLDER/snapshots/step<k>.pt; returns model.pt."""
        folder = Path(folder)
        for step, (state, meta) in sorted(self.snapshots.items()):
            snapshot = build_from_arguments(meta.network, meta.arguments)
            snapshot.load_state_dict(state)
            save_checkpoint(snapshot_path(folder, step), snapshot, meta)
        return save_checkpoint(folder / "model.pt", self.model, self.meta)


def snapshot_path(folder: Path, step: int) -> Path:
    return Path(folder) / "snapshots" / f"step{step}.pt"


def _cpu_copy(state: dict) -> dict:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def _epochs(batches: Iterable[Batch]) -> Iterator[Batch]:
    """Endless batches: each pass over `batches` is one epoch."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError("the training data yielded no batches")


def _check_labels(label: torch.Tensor, task: Task) -> None:
    if label.numel() and (int(label.min()) < 0 or int(label.max()) >= task.n_classes):
        raise ValueError(
            f"task {task.name}: training labels hold values {sorted(torch.unique(label).tolist())[:8]} "
            f"outside its classes 0..{task.n_classes - 1}"
        )


@torch.no_grad()
def validate(
    model: nn.Module, val_set: SliceSet, task: Task, device: torch.device, batch_size: int, bf16: bool
) -> dict:
    """Mean DiceCE loss per slice and mean foreground Dice per subject (all its slices as one volume)."""
    if len(val_set) == 0:
        return {"validation_loss": math.nan, "validation_dice": math.nan}
    model.eval()
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    losses, predictions = [], []
    for batch in val_set.batches(batch_size):
        image, label = batch["image"].to(device), batch["label"].to(device).long()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(image)
        losses.append(float(loss_fn(logits.float(), label[:, None])) * len(label))
        predictions.append(logits.argmax(dim=1).cpu())
    predicted = torch.cat(predictions)
    truth = torch.from_numpy(val_set.labels).long()
    metric = DiceMetric(include_background=False, reduction="mean", ignore_empty=True)
    for subject_id in np.unique(val_set.subject_ids):
        rows = torch.from_numpy(np.flatnonzero(val_set.subject_ids == subject_id))
        # one subject's slices as one N×H×W volume: Dice of the structure, not of single slices
        one_hot = [
            torch.nn.functional.one_hot(x[rows], task.n_classes).permute(3, 0, 1, 2)[None] for x in (predicted, truth)
        ]
        metric(y_pred=one_hot[0], y=one_hot[1])
    dice = float(metric.aggregate())
    model.train()
    return {"validation_loss": sum(losses) / len(val_set), "validation_dice": dice if math.isfinite(dice) else math.nan}


@dataclass
class TrainState:
    """Where a training run stands: everything it needs to continue exactly where it stopped
    (the Ray layer checkpoints it after every validation)."""

    step: int = 0
    history: list[dict] = field(default_factory=list)  # one entry per validation
    best_step: int = 0
    best_dice: float = -math.inf
    best_weights: dict | None = None
    snapshots: dict[int, tuple[dict, float]] = field(default_factory=dict)  # step → (weights, validation Dice)
    model_weights: dict | None = None
    optimizer_state: dict | None = None
    augment_rng_state: torch.Tensor | None = None
    shuffle_rng_state: torch.Tensor | None = None


def _training_batches(
    train_set: SliceSet | Iterable[Batch], task: Task, batch_size: int, seed: int
) -> tuple[Iterable[Batch], torch.Generator | None, dict | None]:
    """(re-iterable batches, their shuffle generator when we shuffle them, the set's Table 1 counts)."""
    if not isinstance(train_set, SliceSet):
        return train_set, None, None
    if len(train_set) == 0:
        raise ValueError(f"task {task.name}: no training slices (the training set is empty after filtering)")
    _check_labels(torch.from_numpy(train_set.labels), task)
    generator = torch.Generator().manual_seed(seed)
    return ShuffledSlices(train_set, batch_size, generator), generator, train_set.summary()


def train_segmenter(
    config: Config,
    task: Task,
    train_set: SliceSet | Iterable[Batch],
    val_set: SliceSet,
    device: str | torch.device,
    seed: int,
    snapshot_steps: Iterable[int] = (),
    *,
    training_set_summary: dict | None = None,
    prepare_model: Callable[[nn.Module], nn.Module] | None = None,
    resume: TrainState | None = None,
    on_validation: Callable[[dict, Callable[[], TrainState]], None] | None = None,
) -> TrainingResult:
    """Train `config.seg.network[task.name]` for `config.seg.train_steps` steps; best-by-validation weights.

    `prepare_model` wraps the network (Ray Train's DDP); `on_validation(metrics, capture)` is
    called after every validation with a function that captures the whole `TrainState`, which
    `resume` takes to continue a run where it stopped.
    """
    seg = config.seg
    device = torch.device(device)
    network = seg.network.get(task.name)
    arguments = network_arguments(network, task, seg)
    batches, shuffle_generator, summary = _training_batches(train_set, task, seg.batch_size, seed)
    training_set_summary = summary or training_set_summary
    snapshot_steps = sorted(set(int(s) for s in snapshot_steps))
    too_late = [s for s in snapshot_steps if not 0 < s <= seg.train_steps]
    if too_late:
        raise ValueError(f"snapshot steps {too_late} lie outside 1..{seg.train_steps} (config.seg.train_steps)")

    with torch.random.fork_rng(devices=[]):  # weight init is seeded without touching global RNG state
        torch.manual_seed(seed)
        model = build_from_arguments(network, arguments)
    optimizer = torch.optim.AdamW(model.parameters(), lr=seg.learning_rate, weight_decay=seg.weight_decay)
    augment_generator = torch.Generator().manual_seed(seed + 1)
    state = resume or TrainState()
    resumed_from_step = resume.step if resume is not None else None
    if resume is not None:
        model.load_state_dict(resume.model_weights)
        augment_generator.set_state(resume.augment_rng_state)
        if shuffle_generator is not None and resume.shuffle_rng_state is not None:
            shuffle_generator.set_state(resume.shuffle_rng_state)
    model.to(device).train()
    if resume is not None:
        optimizer.load_state_dict(resume.optimizer_state)
    trained = prepare_model(model) if prepare_model else model
    if seg.compile:
        trained = torch.compile(trained)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)

    def capture() -> TrainState:
        return dataclasses.replace(
            state,
            history=list(state.history),
            snapshots=dict(state.snapshots),
            model_weights=_cpu_copy(model.state_dict()),
            optimizer_state=optimizer.state_dict(),
            augment_rng_state=augment_generator.get_state(),
            shuffle_rng_state=shuffle_generator.get_state() if shuffle_generator is not None else None,
        )

    stream = _epochs(batches)
    losses_since_validation: list[float] = []
    images_since_validation, started = 0, time.perf_counter()
    while state.step < seg.train_steps:
        batch = next(stream)
        image = batch["image"].to(device, torch.float32)
        label = batch["label"].to(device).long()
        _check_labels(label, task)
        image, label = augment_batch(image, label, task, seg, augment_generator)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=seg.bf16):
            logits = trained(image)
        loss = loss_fn(logits.float(), label[:, None])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state.step += 1
        losses_since_validation.append(float(loss.detach()))
        images_since_validation += len(label)
        step = state.step
        if step % seg.validate_every_steps and step != seg.train_steps and step not in snapshot_steps:
            continue
        training_seconds = time.perf_counter() - started  # loading + augmenting + stepping, not validating
        scores = validate(model, val_set, task, device, seg.predict_batch_size, seg.bf16)
        dice = scores["validation_dice"]
        metrics = {
            "step": step,
            "train_loss": float(np.mean(losses_since_validation)),
            **scores,
            "worker_images_per_s": images_since_validation / training_seconds,
        }
        losses_since_validation, images_since_validation = [], 0
        state.history.append(metrics)
        if step in snapshot_steps:
            state.snapshots[step] = (_cpu_copy(model.state_dict()), dice)
        # no validation set (a single labelled subject): the latest weights are the best we know
        if state.best_weights is None or not math.isfinite(state.best_dice) or dice > state.best_dice:
            state.best_dice, state.best_step, state.best_weights = dice, step, _cpu_copy(model.state_dict())
        if on_validation is not None:
            on_validation({**metrics, "best_validation_dice": state.best_dice}, capture)
        started = time.perf_counter()

    def meta_for(at_step: int, dice: float) -> CheckpointMeta:
        return CheckpointMeta(
            network=network,
            task=task.name,
            arguments=arguments,
            preset=config.preset,
            crop_size=seg.crop_size[task.name],
            normalisation=task.normalisation,
            step=at_step,
            validation_dice=dice,
            seed=seed,
            seg_config=dataclasses.asdict(seg),
            training_set=dict(training_set_summary or {}),
            history=tuple(state.history),
            resumed_from_step=resumed_from_step,
        )

    best = unwrap(model).cpu()
    best.load_state_dict(state.best_weights if state.best_weights is not None else _cpu_copy(model.state_dict()))
    return TrainingResult(
        model=best.eval(),
        meta=meta_for(state.best_step, state.best_dice),
        snapshots={k: (weights, meta_for(k, d)) for k, (weights, d) in state.snapshots.items()},
    )
