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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.layers.base import Layer, Parameter, check_input, check_positive


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

    def __init__(self, num_features: int, *, name: str, momentum: float, eps: float,
                 dtype: Any):
        super().__init__(name)
        self.owner = f"layer {shown(name)} ({type(self).__name__})"
        check_norm_options(self.owner, num_features, momentum, eps)
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.weight = Parameter(f"{name}.weight", np.ones(num_features, dtype=dtype))
        self.bias = Parameter(f"{name}.bias", np.zeros(num_features, dtype=dtype))
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self._axes = (0, *range(2, self.rank))
        self._shape = (1, num_features) + (1,) * (self.rank - 2)  # broadcasts a per-feature value


class BatchNorm(NormBase):
    """Normalise axis 1 of an input of rank ``rank`` over all its other axes."""

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 name: str = "bn", dtype: Any = np.float32):
        super().__init__(num_features, name=name, momentum=momentum, eps=eps, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ("N", self.num_features) + ("*",) * (self.rank - 2))
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
