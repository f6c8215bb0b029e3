"""Layers whose weight is a plain matrix: Linear (one GEMM per phase) and Embedding (a lookup).

GEMM shapes of Linear, x [M, in] -> y [M, out] with M the number of rows (batch, or batch
times positions for inputs [..., in]), weight stored [out, in] as in PyTorch:

==============  =======================  ======  =====  =====
phase           C = A . B                m       n      k
==============  =======================  ======  =====  =====
``fwd``         y  = x . W^T             M       out    in
``bwd_data``    dx = dy . W              M       in     out
``bwd_weight``  dW^T = x^T . dy          in      out    M
==============  =======================  ======  =====  =====

Embedding performs no GEMM: forward gathers rows of its table, backward scatter-adds the
output gradient into them; its integer input has no gradient, so backward returns None.

Vector work (``LayerInfo.vectors``): Linear's bias as Conv2d's (``conv.bias_vectors``: one add
per output element forward, one per output-gradient element in ``bwd_weight``); Embedding's
``bwd_weight`` ``scatter_add``, ``np.add.at(grad, indices, grad_out)``, one add per element of
the output gradient, written at the accumulator width as weight gradients. The forward gather
is data movement, not vector work.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.gemm import gemm
from accelsim.train.interfaces import (
    ACC_WIDTH,
    INPUT_WIDTH,
    VALUE_WIDTH,
    GemmShape,
    KeptSpec,
    LayerInfo,
    VectorSpec,
)
from accelsim.train.layers.base import Layer, Parameter, check_positive, claim, uniform
from accelsim.train.layers.conv import bias_vectors


class Linear(Layer):
    """y = x . W^T + b over the last axis of x; weight [out, in], bias [out]."""

    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator,
                 bias: bool = True, name: str = "linear", dtype: Any = np.float32):
        super().__init__(name)
        check_positive(f"layer {shown(name)} (Linear)", in_features=in_features,
                       out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(f"{name}.weight",
                                uniform(rng, bound, (out_features, in_features), dtype,
                                        f"layer {name!r}"), role="gemm_weight")
        self.bias = (Parameter(f"{name}.bias", uniform(rng, bound, (out_features,), dtype),
                               role="bias") if bias else None)

    def parameters(self) -> list[Parameter]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def _check(self, shape: tuple[int, ...]) -> None:
        if len(shape) < 2 or shape[-1] != self.in_features:
            raise WorkloadError(f"layer {shown(self.name)} (Linear): expected input of shape "
                                f"[..., {self.in_features}], got {list(shape)}")

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        """Keeps its input (at the width it arrives) for bwd_weight; see the GEMM table."""
        self._check(in_shape)
        rows, i, o = math.prod(in_shape[:-1]), self.in_features, self.out_features
        gemms = [GemmShape("fwd", rows, o, i), GemmShape("bwd_weight", i, o, rows)]
        if self.needs_input_grad:
            gemms.append(GemmShape("bwd_data", rows, i, o))
        return LayerInfo(self.name, "linear", in_shape, (*in_shape[:-1], o), tuple(gemms),
                         kept=(KeptSpec("activations", math.prod(in_shape), INPUT_WIDTH,
                                        is_input=True),),
                         params=self.param_infos(), out_width=VALUE_WIDTH,
                         vectors=bias_vectors(rows * o, self.bias is not None))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x.shape)
        rows = x.reshape(-1, self.in_features)
        y = gemm(rows, self.weight.value.T, layer=self.name, phase="fwd")
        if self.bias is not None:
            y += self.bias.value
        self._saved = rows
        return y.reshape(*x.shape[:-1], self.out_features)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        rows = self.saved()
        dy = grad_out.reshape(-1, self.out_features)
        grad_t = gemm(rows.T, dy, layer=self.name, phase="bwd_weight")  # [in, out]
        self.weight.grad = np.ascontiguousarray(grad_t.T)
        if self.bias is not None:
            self.bias.grad = dy.sum(axis=0)
        if not self.needs_input_grad:
            return None
        dx = gemm(dy, self.weight.value, layer=self.name, phase="bwd_data")
        return dx.reshape(*grad_out.shape[:-1], self.in_features)


class Embedding(Layer):
    """Row lookup: integer indices [...] -> vectors [..., dim]; table [num_embeddings, dim]."""

    def __init__(self, num_embeddings: int, dim: int, *, rng: np.random.Generator,
                 name: str = "embedding", dtype: Any = np.float32):
        super().__init__(name)
        check_positive(f"layer {shown(name)} (Embedding)", num_embeddings=num_embeddings, dim=dim)
        self.num_embeddings, self.dim = num_embeddings, dim
        # PyTorch's default: N(0, 1).
        self.weight = Parameter(f"{name}.weight",
                                rng.standard_normal(claim(f"layer {name!r}", (num_embeddings, dim)))
                                .astype(dtype), role="embedding")
        self.needs_input_grad = False

    def parameters(self) -> list[Parameter]:
        return [self.weight]

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        """No GEMM; keeps its indices, ceil(log2(num_embeddings)) bits each."""
        index_bits = max(1, math.ceil(math.log2(self.num_embeddings)))
        lookups = math.prod(in_shape)
        # rows of the gradient table, read, added to and written back wherever they fall
        scatter = VectorSpec("bwd_weight", "scatter_add", lookups * self.dim, 1,
                             out_width=ACC_WIDTH, tensor="weight_grads", fused=False)
        return LayerInfo(self.name, "embedding", in_shape, (*in_shape, self.dim),
                         kept=(KeptSpec("indices", lookups, index_bits),),
                         params=self.param_infos(), out_width=VALUE_WIDTH, vectors=(scatter,))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not np.issubdtype(x.dtype, np.integer):
            raise WorkloadError(f"layer {shown(self.name)} (Embedding): expected integer indices, "
                                f"got dtype {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.num_embeddings):
            raise WorkloadError(f"layer {shown(self.name)} (Embedding): indices must be in "
                                f"[0, {self.num_embeddings}), got values in "
                                f"[{x.min()}, {x.max()}]")
        self._saved = x
        return self.weight.value[x]

    def backward(self, grad_out: np.ndarray) -> None:
        indices = self.saved()
        grad = np.zeros_like(self.weight.value, dtype=grad_out.dtype)
        np.add.at(grad, indices.ravel(), grad_out.reshape(-1, self.dim))
        self.weight.grad = grad
        return None
