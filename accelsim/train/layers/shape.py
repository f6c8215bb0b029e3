"""Layers without parameters or GEMMs: the ReLU non-linearity and Flatten.

What it owns: :class:`ReLU` (max(x, 0); gradient passes where x > 0, so exactly 0 at 0, as
PyTorch) and :class:`Flatten` ([N, ...] -> [N, prod(...)], a view both ways).

Vector work (``LayerInfo.vectors``; one op is one element-wise instruction of a vector unit):

=======  ========  ==========================================================  ===  ===========
layer    phase     counted from the code, per element                          ops  widths
=======  ========  ==========================================================  ===  ===========
ReLU     fwd       ``x * (x > 0)``: one compare-select (max(x, 0)); the        1    input ->
                   compare's predicate is the kept 1-bit mask                       input
ReLU     bwd_data  ``grad_out * passed``: a select by the 1-bit mask           1    error in ->
                                                                                    error
Flatten  -         a reshape, no work                                          -    -
=======  ========  ==========================================================  ===  ===========
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.interfaces import ERROR_WIDTH, KeptSpec, LayerInfo, VectorSpec
from accelsim.train.layers.base import Layer


class ReLU(Layer):
    """max(x, 0), elementwise."""

    def __init__(self, name: str = "relu"):
        super().__init__(name)

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        """Keeps a 1-bit mask (x > 0); its output has its input's width."""
        n = math.prod(in_shape)
        vectors = [VectorSpec("fwd", "relu", n, 1)]
        if self.needs_input_grad:
            vectors.append(VectorSpec("bwd_data", "relu", n, 1, out_width=ERROR_WIDTH))
        return LayerInfo(self.name, "relu", in_shape, in_shape,
                         kept=(KeptSpec("mask", n, 1),), vectors=tuple(vectors))

    def forward(self, x: np.ndarray) -> np.ndarray:
        passed = x > 0
        self._saved = passed
        return x * passed

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        passed = self.saved()
        return grad_out * passed if self.needs_input_grad else None


class Flatten(Layer):
    """Keep axis 0 (the batch), merge all others: [N, d1, d2, ...] -> [N, d1*d2*...]."""

    def __init__(self, name: str = "flatten"):
        super().__init__(name)

    def _check(self, shape: tuple[int, ...]) -> None:
        if len(shape) < 2:
            raise WorkloadError(f"layer {shown(self.name)} (Flatten): expected input with a batch "
                                f"axis and at least one more, got shape {list(shape)}")

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        """A view both ways: keeps nothing."""
        self._check(in_shape)
        return LayerInfo(self.name, "flatten", in_shape, (in_shape[0], math.prod(in_shape[1:])))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x.shape)
        self._saved = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        shape = self.saved()
        return grad_out.reshape(shape) if self.needs_input_grad else None
