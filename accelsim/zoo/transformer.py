"""A small decoder-only character transformer for the ``text`` data set (next-character
prediction), in the pre-LayerNorm GPT style (Radford et al. 2019; Vaswani et al. 2017 for the
attention itself).

The ``text`` data set gives a window of ``context`` character ids as input and one label, the
character after the window. So the network reads the whole window with causal self-attention
(each position sees only itself and earlier positions, as a decoder must) and classifies from
the last position: the output is logits of shape ``[batch, num_classes]`` (for ``text``, the
number of distinct characters, which is also the number of input ids).

Attention is spelled out (Linear projections, ``q @ k.transpose(-2, -1)``, a causal mask,
softmax, ``@ v``) rather than calling ``nn.MultiheadAttention`` or
``scaled_dot_product_attention``, whose fused kernels hide the two matrix products from a tracer.
No dropout: the network is a fixed function of its weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention with separate query, key, value and output projections."""

    future: torch.Tensor  # the causal mask, a buffer (typed here: register_buffer is untyped)

    def __init__(self, dim: int, heads: int, context: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.softmax = nn.Softmax(dim=-1)
        # True above the diagonal: key positions later than the query, hidden from it.
        future = torch.ones(context, context, dtype=torch.bool).triu(1)
        self.register_buffer("future", future, persistent=False)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, time, dim] -> [batch, heads, time, head_dim]."""
        batch, time, _ = x.shape
        return x.view(batch, time, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, dim = x.shape
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = (q @ k.transpose(-2, -1)) * self.scale
        scores = scores.masked_fill(self.future[:time, :time], float("-inf"))
        mixed = self.softmax(scores) @ v
        return self.out(mixed.transpose(1, 2).reshape(batch, time, dim))


class Block(nn.Module):
    """Pre-LN transformer block: x + attention(LN(x)), then x + MLP(LN(x)) with GELU."""

    def __init__(self, dim: int, heads: int, context: int, hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = CausalSelfAttention(dim, heads, context)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharTransformer(nn.Module):
    """Token and learned position embeddings (GPT-2's choice; Vaswani et al. found learned and
    sinusoidal positions equal), the blocks, a final LayerNorm and a Linear to the classes,
    applied at the last position only (the one the label follows)."""

    def __init__(self, vocab: int, num_classes: int, context: int, dim: int, heads: int,
                 layers: int, mlp_ratio: int) -> None:
        super().__init__()
        for key, value in (("vocab", vocab), ("num_classes", num_classes),
                           ("context", context), ("dim", dim),
                           ("heads", heads), ("layers", layers), ("mlp_ratio", mlp_ratio)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
        if dim % heads:
            raise ValueError(f"dim {dim} must be a multiple of heads {heads}")
        self.context = context
        self.token = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(context, dim)
        self.blocks = nn.Sequential(*(Block(dim, heads, context, dim * mlp_ratio)
                                      for _ in range(layers)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, 0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def features(self, ids: torch.Tensor) -> torch.Tensor:
        """Hidden states [batch, time, dim] after the last block, at every position."""
        time = ids.shape[1]
        if time > self.context:
            raise ValueError(f"input has {time} positions, more than context={self.context}")
        positions = torch.arange(time, device=ids.device)
        return self.blocks(self.token(ids) + self.position(positions))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Character ids [batch, time] (int64) -> next-character logits [batch, classes]."""
        return self.head(self.norm(self.features(ids)[:, -1]))


def char_transformer(num_classes: int, context: int, *, vocab: int | None = None,
                     dim: int = 64, heads: int = 4, layers: int = 2, mlp_ratio: int = 4
                     ) -> CharTransformer:
    """A decoder-only character transformer for windows of ``context`` character ids.

    ``num_classes`` is the text data set's class count, which is its vocabulary: the label is
    the next character, and the inputs are ids of the same characters (``vocab``, the number
    of input ids, defaults to it). ``context`` is the data set's ``context``, the window length
    (inputs may be shorter, not longer). The input is what the numpy ``charlm`` model reads:
    int64 ids of shape [batch, context]; the output, logits [batch, num_classes].

    Weights: N(0, 0.02) for embeddings and Linear layers, zero biases, LayerNorms at 1 and 0,
    drawn from torch's global generator. At 100 classes, context 32 and the defaults: 115,044
    parameters and 3,414,272 multiply-accumulates per window (3,152,128 in the Linear layers,
    262,144 in the two attention products).
    """
    return CharTransformer(num_classes if vocab is None else vocab, num_classes, context, dim,
                           heads, layers, mlp_ratio)
