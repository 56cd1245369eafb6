"""Segmentation training on Ray Train (V2): the pure loop of `seg/train.py` on N workers.

The driver builds the 2-D slice sets once and hands them to the workers as Ray Data
datasets (`train` split across workers, `val` whole on every worker). Rank 0 reports a
checkpoint holding the full training state after every validation; the run's name and
storage path are deterministic, so re-running an interrupted run continues from its last
checkpoint (`ray.train.get_checkpoint()`). At the end rank 0 writes OUT/model.pt (best by
validation Dice) and OUT/snapshots/step<k>.pt.

`distributed.tune_grid` wraps `make_seg_trainer(...).fit()` in a Tune function trainable; the train-loop
config is a plain dict (`loop_config`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import ray
import ray.train
import ray.train.torch
import torch
from ray.data.extensions import ArrowTensorArray
from ray.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.config import Config
from ray_semiqc.run_layout import seed_name
from ray_semiqc.seg.dataset import (
    PseudoLabelled,
    SliceSet,
    build_training_set,
    labelled_records,
    select_subset,
    split_validation,
)
from ray_semiqc.seg.train import TrainState, train_segmenter
from ray_semiqc.tasks import get_task

STATE_FILE = "training_state.pt"
STORAGE_DIR = "ray_train"


@dataclass(frozen=True)
class SegRun:
    """One segmentation training run: what it trains on, where its model goes, what it is called."""

    cohort: Path
    task: str
    subset: str  # the labelled subset: full, or the seeded half every SSL scenario starts from
    out: Path  # folder of model.pt (and snapshots/)
    seed: int
    pseudo_labelled: tuple[PseudoLabelled, ...] = ()  # full-cycle pseudo-labelled subjects added to training
    snapshot_steps: tuple[int, ...] = ()
    name: str | None = None  # the Ray Train run's name (a re-run of the same name resumes it)

    @property
    def run_name(self) -> str:
        return self.name or f"seg_{self.task}_{self.subset}_{seed_name(self.seed)}"


def slice_dataset(slice_set: SliceSet, with_origin: bool) -> ray.data.Dataset:
    """Columns image, label (+ subject_id, frame: validation groups slices by subject)."""
    columns = {
        "image": ArrowTensorArray.from_numpy(slice_set.images),
        "label": ArrowTensorArray.from_numpy(slice_set.labels),
    }
    if with_origin:
        columns["subject_id"] = pa.array(slice_set.subject_ids.astype(str))
        columns["frame"] = pa.array(slice_set.frames.astype(np.int64))
    return ray.data.from_arrow(pa.table(columns))


def _gather_slice_set(shard) -> SliceSet:
    """The whole (unsplit) validation dataset as a SliceSet on this worker."""
    parts = list(shard.iter_batches(batch_size=None, batch_format="numpy"))
    if not parts:
        return SliceSet(
            np.zeros((0, 1, 1, 1), np.float32),
            np.zeros((0, 1, 1), np.uint8),
            np.array([], str),
            np.array([], int),
            0,
            0,
        )
    column = {name: np.concatenate([p[name] for p in parts]) for name in ("image", "label", "subject_id", "frame")}
    subjects = column["subject_id"].astype(str)
    n_images = len({(s, int(f)) for s, f in zip(subjects, column["frame"])})
    return SliceSet(column["image"], column["label"], subjects, column["frame"], len(set(subjects)), n_images)


class ShardEpochs:
    """Epochs over this worker's shard: the first streams it from Ray Data and keeps its slices
    (CPU memory); later epochs reshuffle the kept slices with a seeded generator. A fresh Ray
    Data pass per epoch costs ~0.5 s of start-up, more than the steps of a small shard (the demo
    aorta set is 9 steps an epoch)."""

    def __init__(self, shard, batch_size: int, shuffle_buffer_slices: int, seed: int):
        self.shard, self.batch_size, self.buffer, self.seed = shard, batch_size, shuffle_buffer_slices, seed
        self.generator = torch.Generator().manual_seed(seed)
        self.kept: tuple[torch.Tensor, torch.Tensor] | None = None

    def __iter__(self):
        if self.kept is not None:
            order = torch.randperm(len(self.kept[1]), generator=self.generator)
            for start in range(0, len(order), self.batch_size):
                chosen = order[start : start + self.batch_size]
                yield {"image": self.kept[0][chosen], "label": self.kept[1][chosen]}
            return
        images, labels = [], []
        for batch in self.shard.iter_torch_batches(
            batch_size=self.batch_size,
            device="cpu",
            local_shuffle_buffer_size=self.buffer,
            local_shuffle_seed=self.seed,
        ):
            images.append(batch["image"])
            labels.append(batch["label"])
            yield batch
        self.kept = (torch.cat(images), torch.cat(labels)) if labels else None


def seg_train_loop(loop_config: dict) -> None:
    """Per-worker body: the pure training loop fed by this worker's Ray Data shard."""
    config = Config.from_json(loop_config["config_json"])
    task = get_task(loop_config["task"])
    seed = loop_config["seed"]
    rank = ray.train.get_context().get_world_rank()
    checkpoint = ray.train.get_checkpoint()
    resume = None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            # our own training state (optimizer and generator states beside the weights), written by rank 0 below
            resume = TrainState(**torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=False))

    def report(metrics: dict, capture_state) -> None:
        if rank != 0:  # every worker reports; only rank 0 carries the (identical, DDP-synchronised) state
            ray.train.report(metrics)
            return
        folder = Path(tempfile.mkdtemp(prefix="seg_checkpoint_"))
        torch.save(vars(capture_state()), folder / STATE_FILE)
        ray.train.report(
            metrics, checkpoint=ray.train.Checkpoint.from_directory(folder), delete_local_checkpoint_after_upload=True
        )

    batches = ShardEpochs(
        ray.train.get_dataset_shard("train"), config.seg.batch_size, config.seg.shuffle_buffer_slices, seed + rank
    )
    result = train_segmenter(
        config,
        task,
        batches,
        _gather_slice_set(ray.train.get_dataset_shard("val")),
        ray.train.torch.get_device(),
        seed,
        loop_config["snapshot_steps"],
        training_set_summary=loop_config["training_set"],
        prepare_model=ray.train.torch.prepare_model,
        resume=resume,
        on_validation=report,
    )
    if rank == 0:
        result.write(Path(loop_config["out"]))


def build_seg_datasets(run: SegRun, config: Config) -> tuple[SliceSet, SliceSet]:
    """(train, validation) slice sets: the labelled subset split by subject, plus pseudo-labelled subjects for training."""
    task = get_task(run.task)
    manifest = read_manifest(run.cohort)
    chosen = select_subset(labelled_records(manifest.records, task), run.subset, run.seed)
    train_records, val_records = split_validation(chosen, config.seg.validation_fraction, run.seed)
    crop_size = config.seg.crop_size[task.name]
    train_set = build_training_set(run.cohort, train_records, task, crop_size, run.pseudo_labelled)
    if len(train_set) == 0:
        raise ValueError(
            f"{run.cohort}: no {task.name} training slices for subset {run.subset!r} (labelled subjects: {len(chosen)})"
        )
    return train_set, build_training_set(run.cohort, val_records, task, crop_size)


def make_seg_trainer(
    run: SegRun, config: Config, *, workers: int, use_gpu: bool, callbacks: Sequence = ()
) -> TorchTrainer:
    """A TorchTrainer for one segmentation run; `workers=0` runs in this process (unit tests)."""
    train_set, val_set = build_seg_datasets(run, config)
    out = Path(run.out).resolve()
    loop_config = {
        "config_json": config.to_json(),
        "task": run.task,
        "seed": run.seed,
        "snapshot_steps": sorted(run.snapshot_steps),
        "training_set": train_set.summary(),
        "out": str(out),
    }
    return TorchTrainer(
        seg_train_loop,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(
            num_workers=workers, use_gpu=use_gpu, resources_per_worker={"CPU": config.seg.cpus_per_worker}
        ),
        datasets={
            "train": slice_dataset(train_set, with_origin=False),
            "val": slice_dataset(val_set, with_origin=True),
        },
        dataset_config=DataConfig(datasets_to_split=["train"]),
        run_config=RunConfig(
            name=run.run_name,
            storage_path=str(out / STORAGE_DIR),
            checkpoint_config=CheckpointConfig(num_to_keep=config.seg.checkpoints_to_keep),
            failure_config=FailureConfig(max_failures=config.seg.max_failures),
            callbacks=list(callbacks),
        ),
    )


def train_segmenter_on_ray(run: SegRun, config: Config, *, workers: int, use_gpu: bool) -> Path:
    """Train (or continue an interrupted run of the same name) and return OUT/model.pt."""
    make_seg_trainer(run, config, workers=workers, use_gpu=use_gpu).fit()
    return Path(run.out).resolve() / "model.pt"
