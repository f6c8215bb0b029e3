"""MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks"),
adapted to 32x32 images such as CIFAR-10.

Table 2's network, built from inverted residual blocks: a 1x1 expansion by ``t`` (batch norm,
ReLU6), a 3x3 depthwise convolution (``groups`` = channels; batch norm, ReLU6) carrying the
stride, and a linear 1x1 projection (batch norm, no activation); the input is added back when
the stride is 1 and the width unchanged. Then a 1x1 convolution to 1280 channels, global
average pooling and a linear classifier (Table 2's final 1x1 convolution, on a 1x1 map).

The 32x32 adaptations (all of them; ``paper_strides=True`` undoes the first two):

1. The stem's 3x3 convolution runs at stride 1, not 2.
2. The first bottleneck stage with stride 2 (t=6, c=24, n=2) runs at stride 1.
   Table 2 shrinks a 224x224 input 32-fold, to 7x7; on 32x32 that would leave a 1x1 map after
   the c=160 stage. With 1 and 2 the maps stay 32x32 up to the c=32 stage, which halves them to
   16x16; the c=64 stage gives 8x8 and the c=160 stage the final 4x4 (a 16-fold reduction, as
   in most CIFAR ports of the network). Strides change no weight, so the parameter count is the
   paper's network's with a 10-way classifier.
3. No dropout before the classifier (the authors' released models use 0.2): the network is a
   fixed function of its weights, and a trace prices what runs.
4. Table 2's final "conv2d 1x1" classifier is a Linear layer on the pooled 1280 features (the
   same weights and multiply-accumulates, with a bias).
"""

from __future__ import annotations

import torch
from torch import nn

# Table 2's bottleneck stages: expansion t, output channels c, repeats n, first stride s.
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))
STEM_CHANNELS, LAST_CHANNELS = 32, 1280
STEM_STRIDE = 2
# The 32x32 adaptation: the stem and this stage (c=24, Table 2's second row) run at stride 1.
CIFAR_STRIDE_ONE = 24


def divisible(channels: float, divisor: int = 8) -> int:
    """A width multiplier's channel count rounded to the nearest multiple of ``divisor`` (the
    authors' released models do this so channels pack into vector lanes), never below the
    divisor nor more than 10% below the exact value."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * channels:
        rounded += divisor
    return rounded


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int, groups: int = 1,
            activation: bool = True) -> nn.Sequential:
    """Convolution (no bias: the batch norm has one), batch norm, and ReLU6 unless linear."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups,
                  bias=False),
        nn.BatchNorm2d(out_channels)]
    if activation:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """Expand (1x1, skipped when t = 1 as in the paper's first bottleneck), filter (3x3
    depthwise), project (1x1, linear); residual only when shapes match (stride 1, same width)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(conv_bn(in_channels, hidden, 1, 1))
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden),
                   conv_bn(hidden, out_channels, 1, 1, activation=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class MobileNetV2(nn.Module):
    """Stem, the seventeen inverted residual blocks, the 1x1 head, pooling, classifier."""

    def __init__(self, num_classes: int, width: float, paper_strides: bool) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ValueError(f"width must be a number > 0, got {width!r}")
        channels = divisible(STEM_CHANNELS * width)
        self.stem = conv_bn(3, channels, 3, STEM_STRIDE if paper_strides else 1)
        blocks = []
        for expansion, out, repeats, stride in STAGES:
            if out == CIFAR_STRIDE_ONE and not paper_strides:
                stride = 1
            out_channels = divisible(out * width)
            for index in range(repeats):
                blocks.append(InvertedResidual(channels, out_channels,
                                               stride if index == 0 else 1, expansion))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        # The paper keeps the last convolution at 1280 for multipliers below 1.
        last = divisible(LAST_CHANNELS * max(1.0, width))
        self.head = conv_bn(channels, last, 1, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(last, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.flatten(self.pool(x)))


def mobilenet_v2(num_classes: int = 10, width: float = 1.0, paper_strides: bool = False
                 ) -> MobileNetV2:
    """MobileNetV2 for 32x32 inputs; ``width`` is the paper's width multiplier.

    At 10 classes and width 1: 2,236,682 parameters and 87,976,448 multiply-accumulates per
    32x32 image (convolutions and classifier). ``paper_strides=True`` gives Table 2's network
    for 224x224 inputs: at 1000 classes 3,504,872 parameters and 300,774,272 multiply-adds
    (Table 3: "3.4M" and "300M"). Initialisation: He-normal convolutions (fan in), classifier
    N(0, 0.01), batch norms at 1 and 0, all from torch's global generator.
    """
    if not isinstance(paper_strides, bool):
        raise ValueError(f"paper_strides must be true or false, got {paper_strides!r}")
    return MobileNetV2(num_classes, width, paper_strides)
