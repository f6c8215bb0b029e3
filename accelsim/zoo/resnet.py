"""Residual networks of He et al. 2016 ("Deep Residual Learning for Image Recognition"):
ResNet-20 for 32x32 CIFAR images (§4.2) and ResNet-18 for 224x224 ImageNet images (Table 1).

Both stack basic blocks (two 3x3 convolutions, each followed by batch norm, ReLU after the sum
with the shortcut; Fig. 2 left). Where a block changes resolution and width the shortcut is
either option A (parameter-free: stride-2 subsampling and zero channels appended) or option B
(a strided 1x1 convolution and batch norm, a "projection"). Convolutions carry no bias, as the
batch norm after each one makes a bias redundant. Every op is a module or an explicit tensor op
(``+``), so a tracer sees each convolution, norm, activation, pooling and residual add.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SHORTCUTS = ("A", "B")


class ZeroPadShortcut(nn.Module):
    """Option A: an identity that subsamples by ``stride`` and appends zero channels, so the
    deeper stage's shortcut adds no parameters and no multiply-accumulates (§3.3, §4.2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"option A shortcut cannot narrow {in_channels} to "
                             f"{out_channels} channels")
        self.stride = stride
        self.extra = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option B: a strided 1x1 convolution and batch norm (ResNet-18's downsampling shortcut)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU. The first convolution carries
    the block's stride (the paper downsamples "by convolutional layers that have a stride of 2")."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.shortcut: nn.Module
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        elif shortcut == "A":
            self.shortcut = ZeroPadShortcut(in_channels, out_channels, stride)
        else:
            self.shortcut = projection(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet(nn.Module):
    """A stem, stages of basic blocks (the first block of every stage but the first halves the
    resolution), global average pooling and one fully connected classifier."""

    def __init__(self, stem: nn.Sequential, stem_channels: int, widths: tuple[int, ...],
                 blocks: int, shortcut: str, num_classes: int) -> None:
        super().__init__()
        _check_classes(num_classes)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        self.stem = stem
        stages = []
        channels = stem_channels
        for index, width in enumerate(widths):
            layers = []
            for block in range(blocks):
                stride = 2 if index > 0 and block == 0 else 1
                layers.append(BasicBlock(channels, width, stride, shortcut))
                channels = width
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)
        he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.stages(self.stem(x)))))


def he_init(model: nn.Module) -> None:
    """He et al. 2015 initialisation for every convolution (normal, std sqrt(2 / fan_in)), as
    the paper prescribes; batch norms start at weight 1, bias 0, and the classifier keeps
    torch's default. Draws from torch's global generator only."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def resnet20(num_classes: int = 10, shortcut: str = "A") -> ResNet:
    """CIFAR ResNet-20 (§4.2, n = 3): a 3x3 convolution to 16 channels, three stages of three
    basic blocks at 16, 32 and 64 channels on 32x32, 16x16 and 8x8 maps, average pooling, FC.

    ``shortcut="A"`` (the default) is the paper's CIFAR choice: 269,722 parameters at 10
    classes (Table 6's "0.27M") and 40,551,040 multiply-accumulates per 32x32 image in its
    convolutions and FC layer. ``"B"`` uses projections at the two widening blocks: 272,474
    parameters, 40,813,184 MACs.
    """
    stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
    return ResNet(stem, 16, (16, 32, 64), 3, shortcut, num_classes)


def resnet18(num_classes: int = 1000) -> ResNet:
    """ImageNet ResNet-18 (Table 1) for 224x224 inputs: conv 7x7/2 to 64 channels, max pool
    3x3/2, four stages of two basic blocks at 64, 128, 256 and 512 channels, 1x1/2 projection
    shortcuts (option B) where the width grows, average pooling, FC.

    At 1000 classes: 11,689,512 parameters and 1,814,073,344 multiply-accumulates per image in
    its convolutions and FC layer (the "1.8 x 10^9 FLOPs" of Table 1).
    """
    stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.MaxPool2d(3, 2, 1))
    return ResNet(stem, 64, (64, 128, 256, 512), 2, "B", num_classes)


def _check_classes(num_classes: int) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
