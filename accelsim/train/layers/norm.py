"""Batch normalisation: BatchNorm1d over [N, F] and BatchNorm2d over [N, C, H, W].

What it owns: one :class:`BatchNorm` base that normalises each feature (channel) over every
other axis, with learnable scale ``weight`` (gamma) and shift ``bias`` (beta), and running
statistics for evaluation; the two variants only say which input rank they take.

Semantics are PyTorch's: in training mode the batch mean and biased variance normalise, and the
running statistics move by ``momentum`` toward the batch mean and the *unbiased* variance; in
eval mode the running statistics normalise and are left alone. Not a GEMM: nothing here calls
:func:`accelsim.train.gemm.gemm`.

Backward, with xhat the normalised input, g = dy * gamma and means taken over the reduced axes:
training ``dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)``; eval
``dx = g / sqrt(running_var + eps)`` (the statistics are constants there).

Vector work of training (``LayerInfo.vectors``, per element of the input; per-feature work such
as 1/sqrt(var + eps) and the running statistics is not counted):

==========  ========================================================  ===  ===================
phase       counted from ``BatchNorm.forward`` / ``backward``         ops  widths
==========  ========================================================  ===  ===================
fwd         mean: add 1; ``x.var``: subtract the mean, square,         8    input -> value
            add 3; xhat = (x - mean) * inv_std 2; y = xhat * gamma
            + beta 2
bwd_weight  dgamma = sum(dy * xhat): multiply, add 2; dbeta =          3    error in -> acc
            sum(dy): add 1 (reads dy and xhat)                              (weight_grads)
bwd_data    g = dy * (gamma * inv_std) 1; mean(g) 1; mean(g * xhat)    7    error in -> error
            2; g - mean_g - xhat * mean_gx 3 (reads dy and xhat)
==========  ========================================================  ===  ===================
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.interfaces import (
    ACC_WIDTH,
    ERROR_WIDTH,
    VALUE_WIDTH,
    KeptSpec,
    LayerInfo,
    VectorSpec,
    Width,
)
from accelsim.train.layers.base import (
    Layer,
    Parameter,
    check_input,
    check_positive,
    check_shape,
)


def check_norm_options(owner: str, num_features: int, momentum: float, eps: float) -> None:
    """The options every batch norm shares (standard and l1)."""
    check_positive(owner, num_features=num_features)
    if not 0.0 <= momentum <= 1.0:
        raise WorkloadError(f"{owner}: momentum must be in [0, 1], got {shown(momentum)}")
    if not eps > 0.0:
        raise WorkloadError(f"{owner}: eps must be positive, got {shown(eps)}")


class NormBase(Layer):
    """What every batch norm shares (standard and l1): checked options, per-feature gamma
    (``weight``), beta (``bias``) and running mean, and the axes it reduces over."""

    rank = 0  # set by the variants
    kind = ""  # LayerInfo.kind, set by the variants

    def __init__(self, num_features: int, *, name: str, momentum: float, eps: float,
                 dtype: Any):
        super().__init__(name)
        self.owner = f"layer {shown(name)} ({type(self).__name__})"
        check_norm_options(self.owner, num_features, momentum, eps)
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.weight = Parameter(f"{name}.weight", np.ones(num_features, dtype=dtype),
                                role="norm_scale")
        self.bias = Parameter(f"{name}.bias", np.zeros(num_features, dtype=dtype),
                              role="norm_shift")
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self._axes = (0, *range(2, self.rank))
        self._shape = (1, num_features) + (1,) * (self.rank - 2)  # broadcasts a per-feature value

    def _expected(self) -> tuple[int | str, ...]:
        return ("N", self.num_features) + ("*",) * (self.rank - 2)

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        """Keeps the normalised input (at ``normalised_width``) and two 32-bit statistics per
        feature; its output is a real value of the method's value width."""
        check_shape(self, in_shape, self._expected())
        n = math.prod(in_shape)
        count, bits = self.statistics
        kept = (KeptSpec("normalised", n, self.normalised_width),
                KeptSpec("statistics", count * self.num_features, bits))
        forward, weight_grad, data_grad = self.vector_ops()
        reads = 1 if self.normalised_width == 1 else 2  # dy, and xhat unless it is a sign bit
        # the statistics are reduced as the input arrives; normalising is a second pass over
        # the whole batch (forward), as is the data gradient (it needs two batch means)
        vectors = [VectorSpec("fwd", self.kind, n, forward, out_width=VALUE_WIDTH, fused=False)]
        if self.parameters():
            vectors.append(VectorSpec("bwd_weight", self.kind, n, weight_grad, inputs=reads,
                                      out_width=ACC_WIDTH, tensor="weight_grads"))
        if self.needs_input_grad:
            vectors.append(VectorSpec("bwd_data", self.kind, n, data_grad, inputs=reads,
                                      out_width=ERROR_WIDTH, fused=False))
        return LayerInfo(self.name, self.kind, in_shape, in_shape, kept=kept,
                         params=self.param_infos(), out_width=VALUE_WIDTH,
                         vectors=tuple(vectors))

    def vector_ops(self) -> tuple[int, int, int]:
        """Operations per element of training forward, bwd_weight and bwd_data (see the
        module's table)."""
        raise NotImplementedError

    @property
    def normalised_width(self) -> Width:
        """Width rule of the normalised input kept for backward."""
        return VALUE_WIDTH

    @property
    def statistics(self) -> tuple[int, int]:
        """Per-feature statistics kept for backward (and the running statistics), and their
        bits: the mean and 1/sigma, 32 bits each."""
        return 2, 32


class BatchNorm(NormBase):
    """Normalise axis 1 of an input of rank ``rank`` over all its other axes."""

    kind = "batchnorm"

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 name: str = "bn", dtype: Any = np.float32):
        super().__init__(num_features, name=name, momentum=momentum, eps=eps, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def vector_ops(self) -> tuple[int, int, int]:
        return 8, 3, 7  # the module's table

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, self._expected())
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise WorkloadError(f"layer {shown(self.name)} ({type(self).__name__}): training "
                                    f"needs more than one value per feature, got input "
                                    f"{list(x.shape)}")
            mean = x.mean(axis=self._axes)
            var = x.var(axis=self._axes)
            keep = 1.0 - self.momentum
            self.running_mean *= keep
            self.running_mean += self.momentum * mean
            self.running_var *= keep
            self.running_var += (self.momentum * count / (count - 1)) * var
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        xhat = (x - mean.reshape(self._shape)) * inv_std.reshape(self._shape)
        self._saved = (xhat, inv_std, self.training)
        return xhat * self.weight.value.reshape(self._shape) + self.bias.value.reshape(self._shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        xhat, inv_std, trained = self.saved()
        self.weight.grad = (grad_out * xhat).sum(axis=self._axes)
        self.bias.grad = grad_out.sum(axis=self._axes)
        if not self.needs_input_grad:
            return None
        g = grad_out * (self.weight.value * inv_std).reshape(self._shape)
        if not trained:
            return g
        mean_g = g.mean(axis=self._axes, keepdims=True)
        mean_gx = (g * xhat).mean(axis=self._axes, keepdims=True)
        return g - mean_g - xhat * mean_gx


class BatchNorm1d(BatchNorm):
    """BatchNorm over features of an [N, F] input."""

    rank = 2


class BatchNorm2d(BatchNorm):
    """BatchNorm over channels of an [N, C, H, W] input."""

    rank = 4
