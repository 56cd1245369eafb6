"""Self-describing segmentation checkpoints: the weights plus everything needed to rebuild and
use the network (name, task, constructor arguments, preset, crop size, normalisation), so
`load_checkpoint` needs nothing else and refuses a checkpoint of the wrong network or task.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ray_semiqc.files import atomic_write
from ray_semiqc.models.registry import build_from_arguments
from ray_semiqc.run_layout import seed_name

FORMAT = "ray_semiqc.segmenter/1"


@dataclass(frozen=True)
class CheckpointMeta:
    network: str  # registry name: res_unet | vgg_fcn
    task: str  # sax | aorta
    arguments: dict  # the network's constructor arguments
    preset: str
    crop_size: int  # in-plane size the network was trained on (prepare_slices' crop)
    normalisation: str  # percentile | zscore, as the task prescribes
    step: int  # optimizer steps taken by these weights
    validation_dice: float  # mean foreground Dice on the validation slices (nan if never validated)
    seed: int = 0
    seg_config: dict = field(default_factory=dict)  # the whole `seg` section of the run's config
    training_set: dict = field(default_factory=dict)  # n_subjects, n_images, n_slices (Table 1)
    history: tuple[dict, ...] = ()  # one entry per validation: step, loss, validation_dice
    resumed_from_step: int | None = None  # set when training continued from an earlier checkpoint


def unwrap(model: nn.Module) -> nn.Module:
    """The bare network under DistributedDataParallel and torch.compile wrappers."""
    while True:
        if hasattr(model, "module"):  # DistributedDataParallel
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile
            model = model._orig_mod
        else:
            return model


def save_checkpoint(path: Path, model: nn.Module, meta: CheckpointMeta) -> Path:
    """Write atomically: a crash never leaves half a checkpoint."""
    state = {k: v.detach().cpu() for k, v in unwrap(model).state_dict().items()}
    with atomic_write(path) as partial:
        torch.save({"format": FORMAT, "meta": dataclasses.asdict(meta), "model_state": state}, partial)
    return Path(path)


def weights_digest(model: nn.Module) -> str:
    """12 hex of a SHA-256 over the weights (names and values): the same weights, the same digest,
    whatever else a checkpoint file records (its history holds measured throughput, which differs run to run)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(unwrap(model).state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


def model_version(model: nn.Module, meta: CheckpointMeta) -> str:
    """How a segmentation model is named in tables and audit trails: network/task/preset/seed/step/
    weights digest — the digest tells apart two models that stopped at one step (half and full data)."""
    return f"{meta.network}/{meta.task}/{meta.preset}/{seed_name(meta.seed)}/step{meta.step}/{weights_digest(model)}"


def load_checkpoint(
    path: Path, expect_task: str | None = None, expect_network: str | None = None
) -> tuple[nn.Module, CheckpointMeta]:
    """The network (eval mode, CPU) and its description; a mismatch with what is expected is refused."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such segmentation checkpoint")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ray_semiqc segmentation checkpoint (format {FORMAT} expected)")
    raw = dict(saved["meta"])
    raw["history"] = tuple(raw.get("history", ()))
    meta = CheckpointMeta(**raw)
    if expect_task is not None and meta.task != expect_task:
        raise ValueError(f"{path}: checkpoint is for task {meta.task!r}, expected {expect_task!r}")
    if expect_network is not None and meta.network != expect_network:
        raise ValueError(f"{path}: checkpoint holds network {meta.network!r}, expected {expect_network!r}")
    model = build_from_arguments(meta.network, meta.arguments)
    model.load_state_dict(saved["model_state"])
    return model.eval(), meta
