"""The VGG-like fully convolutional network of the public `ukbb_cardiac` pipeline (Bai et al.).

Five scales of 3×3 conv+BN+ReLU blocks (2-2-3-3-3 by default), stride 2 at the first conv of
scales 2–5; a 3×3 feature conv per scale, bilinear upsampling of every scale to full
resolution, concatenation, two 1×1 conv+BN+ReLU and a 1×1 classifier. It has no library
home (MONAI has no such net), so it is written here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class VGGFCN(nn.Module):
    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        filters: tuple[int, ...],
        blocks: tuple[int, ...],
        scale_features: int,
        head_features: int,
    ):
        super().__init__()
        if len(filters) != len(blocks):
            raise ValueError(f"fcn_filters {filters} and fcn_blocks {blocks} must name the same number of scales")
        self.encoder = nn.ModuleList()
        previous = in_channels
        for scale, (width, n_convs) in enumerate(zip(filters, blocks)):
            convs = [_conv_bn_relu(previous, width, 3, stride=1 if scale == 0 else 2)]
            convs += [_conv_bn_relu(width, width, 3) for _ in range(n_convs - 1)]
            self.encoder.append(nn.Sequential(*convs))
            previous = width
        self.scale_features = nn.ModuleList(_conv_bn_relu(width, scale_features, 3) for width in filters)
        self.head = nn.Sequential(
            _conv_bn_relu(scale_features * len(filters), head_features, 1),
            _conv_bn_relu(head_features, head_features, 1),
            nn.Conv2d(head_features, n_classes, 1),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        full_size = image.shape[-2:]
        features, x = [], image
        for encode, to_features in zip(self.encoder, self.scale_features):
            x = encode(x)
            features.append(F.interpolate(to_features(x), size=full_size, mode="bilinear", align_corners=False))
        return self.head(torch.cat(features, dim=1))
