"""Small PyTorch models for the torch front-end's tests (factories a workload can name).

``lenet5`` matches accelsim's numpy LeNet-5 (``accelsim.train.models.lenet5``) layer for layer:
the same names, shapes and order. The others cover what the capture must see: grouped and
depthwise convolutions, residual adds, batch norm (``convnet``); attention spelled out with
``q @ k^T`` and ``softmax @ v``, layer norm, GELU and Linear layers on [batch, time, features]
inputs (``attention``).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, side: int = 32) -> None:
        super().__init__()
        after = ((side - 4) // 2 - 4) // 2
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * after * after, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            x = module(x)
        return x


def lenet5(num_classes: int = 10) -> LeNet5:
    return LeNet5(num_classes)


class Block(nn.Module):
    """conv - BN - ReLU - depthwise conv (strided) - BN, plus a shortcut, then ReLU."""

    def __init__(self, channels: int, out: int, stride: int) -> None:
        super().__init__()
        self.expand = nn.Conv2d(channels, out, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.relu1 = nn.ReLU()
        self.depthwise = nn.Conv2d(out, out, 3, stride, padding=1, groups=out, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.shortcut = (nn.Identity() if stride == 1 and channels == out else
                         nn.Conv2d(channels, out, 1, stride, groups=math.gcd(channels, out)))
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.depthwise(self.relu1(self.bn1(self.expand(x)))))
        return self.relu2(y + self.shortcut(x))


class ConvNet(nn.Module):
    def __init__(self, num_classes: int = 10, channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Conv2d(channels, 8, 3, padding=1, dilation=1)
        self.block1 = Block(8, 8, 1)
        self.block2 = Block(8, 12, 2)
        self.grouped = nn.Conv2d(12, 16, 3, padding=2, dilation=2, groups=4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.block1(torch.relu(self.stem(x))))
        return self.fc(self.flatten(self.pool(self.grouped(x))))


def convnet(num_classes: int = 10, channels: int = 3) -> ConvNet:
    return ConvNet(num_classes, channels)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, dim = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, time, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        mixed = torch.softmax(scores, dim=-1) @ v
        return self.out(mixed.transpose(1, 2).reshape(batch, time, dim))


class AttentionNet(nn.Module):
    """Pre-LN transformer block on [batch, time, features] inputs, mean over time, classifier."""

    def __init__(self, num_classes: int = 4, dim: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return self.head(x.mean(dim=1))


def attention(num_classes: int = 4, dim: int = 16, heads: int = 2) -> AttentionNet:
    return AttentionNet(num_classes, dim, heads)
