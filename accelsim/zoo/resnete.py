"""ResNetE-18 (Bethge et al. 2019, "Back to Simplicity"), as Wang et al. ("Enabling Binary
Neural Network Training on the Edge", TECS 2023) train it on ImageNet at batch 4096.

Their repository has no training code for it; the layers come from its energy model
(branch ``dev_birealnet``, ``energy_estimation/example_get_energy_resnetE.py`` L29-271) and the
"ResNetE-18" sheet of ``memory_estimation/memory_estimation.xlsx``:

* stem: batch norm of the input, 7x7 stride-2 convolution 3 -> 64, batch norm, ReLU, 3x3
  stride-2 max pooling, batch norm;
* 16 blocks ``x = x + BN(conv3x3(sign(x)))``, four at each of 64, 128, 256 and 512 channels
  (56, 28, 14, 7 pixels a side); the first block of a stage halves the resolution with a
  stride-2 3x3 convolution, its shortcut being 2x2 average pooling, a 1x1 convolution and a
  batch norm;
* ReLU, 7x7 average pooling, a fully connected classifier 512 -> 1000.

11,678,912 weights (no biases; batch norms' scale and shift on top). Written real-valued, as
every ``accelsim.zoo`` network: the binary methods' front-end form (``variant``, the torch
front-end's ``binary.make_binary``) puts the Sign before every convolution but the first,
drops the ReLUs and binarises every GEMM weight. Known difference: Wang et al. keep the stem
convolution, the three 1x1 shortcut convolutions and the classifier real-valued (FP16 in their
method); the binary form here binarises the 1x1 convolutions and the classifier too (6% of the
weights; docs/papers-bnn.md gives the effect on memory).
"""

from __future__ import annotations

import torch
from torch import nn


class BinaryBlock(nn.Module):
    """``x + BN(conv3x3(x))`` (the binary form signs the convolution's input); with ``stride``
    2 the shortcut is 2x2 average pooling, a 1x1 convolution and a batch norm."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride),
                                          nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.bn(self.conv(x))


class ResNetE18(nn.Module):
    """ResNetE-18 for 224x224 images (the module docstring)."""

    def __init__(self, num_classes: int = 1000, widths: tuple[int, ...] = (64, 128, 256, 512),
                 blocks: int = 4) -> None:
        super().__init__()
        stem = widths[0]
        self.stem = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, stem, 7, 2, 3, bias=False),
                                  nn.BatchNorm2d(stem), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                                  nn.BatchNorm2d(stem))
        layers: list[nn.Module] = []
        channels = stem
        for stage, width in enumerate(widths):
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BinaryBlock(channels, width, stride))
                channels = width
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(channels, num_classes, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def resnete18(num_classes: int = 1000) -> ResNetE18:
    """ResNetE-18 with ``num_classes`` outputs (1000 for ImageNet)."""
    return ResNetE18(num_classes)
