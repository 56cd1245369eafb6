"""Segmentation networks chosen by name in the config; every network takes any in-plane size.

A network is rebuilt from `(name, arguments)` alone, which is what a checkpoint stores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks.nets import UNet
from torch import nn

from ray_semiqc.config import SegConfig
from ray_semiqc.models.fcn import VGGFCN
from ray_semiqc.tasks import Task

NETWORKS = ("res_unet", "vgg_fcn")
DOWNSAMPLING_STEPS = 4  # both networks halve the grid four times


class PadToMultiple(nn.Module):
    """Pads H and W up to a multiple of 2**DOWNSAMPLING_STEPS and crops the logits back."""

    def __init__(self, network: nn.Module, multiple: int = 2**DOWNSAMPLING_STEPS):
        super().__init__()
        self.network = network
        self.multiple = multiple

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        pad_h, pad_w = -height % self.multiple, -width % self.multiple
        if pad_h or pad_w:
            image = F.pad(image, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), mode="replicate")
        logits = self.network(image)
        return logits[..., pad_h // 2 : pad_h // 2 + height, pad_w // 2 : pad_w // 2 + width]


def network_arguments(name: str, task: Task, seg_config: SegConfig) -> dict:
    """The constructor arguments of network `name` for this task under this config."""
    if name == "res_unet":
        return {
            "spatial_dims": 2,
            "in_channels": 1,
            "out_channels": task.n_classes,
            "channels": list(seg_config.unet_channels),
            "strides": [2] * DOWNSAMPLING_STEPS,
            "num_res_units": seg_config.unet_res_units,
        }
    if name == "vgg_fcn":
        return {
            "in_channels": 1,
            "n_classes": task.n_classes,
            "filters": list(seg_config.fcn_filters),
            "blocks": list(seg_config.fcn_blocks),
            "scale_features": seg_config.fcn_scale_features,
            "head_features": seg_config.fcn_head_features,
        }
    raise ValueError(f"unknown network {name!r}; choose one of {NETWORKS}")


def build_from_arguments(name: str, arguments: dict) -> nn.Module:
    if name == "res_unet":
        network = UNet(
            **{**arguments, "channels": tuple(arguments["channels"]), "strides": tuple(arguments["strides"])}
        )
    elif name == "vgg_fcn":
        network = VGGFCN(**{**arguments, "filters": tuple(arguments["filters"]), "blocks": tuple(arguments["blocks"])})
    else:
        raise ValueError(f"unknown network {name!r}; choose one of {NETWORKS}")
    return PadToMultiple(network)


def build_network(name: str, task: Task, seg_config: SegConfig) -> nn.Module:
    """`res_unet` (MONAI residual U-Net, Kerfoot et al.) or `vgg_fcn` (ukbb_cardiac FCN), N×1×H×W → N×C×H×W logits."""
    return build_from_arguments(name, network_arguments(name, task, seg_config))
