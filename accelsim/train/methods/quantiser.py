"""The GEMM hook that puts each operand on its method's grid: one per method, any front-end.

What it owns: :class:`OperandQuantiser`, the ``GemmObserver`` a method installs so that every
GEMM's A and B reach the product at the widths the method stores them (``Method.bits``), and
report those widths to the tracer installed after it. A front-end only has to pass its numpy
operands through :func:`accelsim.train.gemm.gemm` (or the same observer chain); and
:func:`operand_work`, the same quantisations by shape, as the trace's ``vector`` records.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from accelsim.trace.records import OPERAND_TENSORS, Vector
from accelsim.train.gemm import GemmObserver, GemmOp
from accelsim.train.quant import quantise, quantise_ops, round_float, round_float_ops

if TYPE_CHECKING:
    from accelsim.train.methods.base import Method
    from accelsim.train.widths import Place


class OperandQuantiser(GemmObserver):
    """Puts each GEMM operand on its tensor's grid and reports the widths.

    A tensor used by two GEMMs of a batch (a convolution's patch matrix in fwd and bwd_weight,
    an error tensor in bwd_data and bwd_weight) is quantised once and reused, as hardware would
    store it once: the same values (and the same stochastic draw) reach both GEMMs.
    """

    def __init__(self, method: Method):
        self.method = method
        self._cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def reset(self) -> None:
        self._cache.clear()

    def operands(self, op: GemmOp, a: np.ndarray, b: np.ndarray
                 ) -> tuple[GemmOp, np.ndarray, np.ndarray]:
        m = self.method
        if m.dtype == "fp":
            return op, a, b
        a_tensor, b_tensor, _ = OPERAND_TENSORS[op.phase]
        a_bits, b_bits = m.bits(op.layer, a_tensor), m.bits(op.layer, b_tensor)
        a_dtype, b_dtype = m.tensor_dtype(op.layer, a_tensor), m.tensor_dtype(op.layer, b_tensor)
        qa = self._quantise(a, a_bits, a_tensor, a_dtype)
        qb = self._quantise(b, b_bits, b_tensor, b_dtype)
        dtype = "fp" if "fp" in (a_dtype, b_dtype) else "int"
        return replace(op, a_bits=a_bits, b_bits=b_bits, dtype=dtype), qa, qb

    def _quantise(self, x: np.ndarray, bits: int, tensor: str, dtype: str = "int"
                  ) -> np.ndarray:
        """Errors are rounded stochastically (unbiased: the many small gradient entries survive
        on average, Gupta et al. 2015); activations and weights to nearest; a tensor in a
        floating-point format (``dtype`` "fp") to its nearest value in that format."""
        if bits >= 32 or (tensor == "weights" and self.method.weights_on_grid):
            return x
        key, transposed = _layout_key(x, bits, tensor)
        hit = self._cache.get(key)
        if hit is None:
            canonical = x.T if transposed else x
            if dtype == "fp":
                q = round_float(canonical, bits)
            elif tensor == "errors":
                q = quantise(canonical, bits, rounding="stochastic", rng=self.method.rng).values
            else:
                q = quantise(canonical, bits).values
            hit = self._cache[key] = (x, q)  # holding x keeps its memory from being reused
        return hit[1].T if transposed else hit[1]


def _layout_key(x: np.ndarray, bits: int, tensor: str) -> tuple[tuple, bool]:
    """Identify a 2-D operand by its memory and layout, a transposed view like the original."""
    address = x.__array_interface__["data"][0]
    shape, strides = x.shape, x.strides
    transposed = x.ndim == 2 and strides[0] < strides[1]
    if transposed:
        shape, strides = shape[::-1], strides[::-1]
    return (address, shape, strides, x.dtype.str, bits, tensor), transposed


def operand_work(method: Method, place: Place, iteration: int
                 ) -> tuple[list[Vector], list[Vector]]:
    """The quantisations :class:`OperandQuantiser` makes for one layer's GEMMs in a batch, as
    vector records: (before its forward GEMM, before its first backward GEMM).

    As the quantiser: nothing for a floating-point method or a width of 32 bits; weights only
    when they are not already on their grid (``weights_on_grid``). Each tensor once per batch:
    the activation entering the forward GEMM (``quantize``, nearest) and the error entering the
    backward ones (``stochastic_round``; in a floating-point format ``quantize``, to nearest,
    one conversion, dtype fp), over the tensor's own elements (a convolution's
    feature map, not its im2col view), read at the width it arrives at and written at the
    operand's; an activation that arrives as a fixed-width code no wider (a Sign's +-1) is
    already on its grid. Operations: ``quant.quantise_ops``.
    """
    info = place.info
    fwd = next((g for g in info.gemms if g.phase == "fwd"), None)
    backward = next((g.phase for g in info.gemms if g.phase != "fwd"), None)
    if fwd is None or method.dtype == "fp":
        return [], []
    layer, dtype = info.name, method.value_dtype(place.owner)

    def record(phase: str, kind: str, elements: int, in_bits: int, bits: int, tensor: str,
               rounding: str = "nearest") -> Vector:
        return Vector(iter=iteration, layer=layer, phase=phase, kind=kind, elements=elements,
                      in_bits=in_bits, out_bits=bits, ops=quantise_ops(bits, rounding),
                      dtype=dtype, tensor=tensor, fused=True)  # on the operand's way in

    before: list[Vector] = []
    bits = method.bits(layer, "activations")
    if bits < 32 and not (place.arriving_fixed and place.arriving <= bits):
        before.append(record("fwd", "quantize", fwd.a_elements or fwd.m * fwd.k,
                             place.arriving, bits, "activations"))
    bits = method.bits(layer, "weights")
    if bits < 32 and not method.weights_on_grid:
        weights = sum(p.elements for p in info.params if p.role == "gemm_weight")
        before.append(record("fwd", "quantize", weights, 32, bits, "weights"))
    after: list[Vector] = []
    bits = method.bits(layer, "errors")
    if backward is not None and bits < 32:
        errors = fwd.c_elements or fwd.m * fwd.n
        if method.tensor_dtype(layer, "errors") == "fp":  # nearest, in its float format
            after.append(replace(record(backward, "quantize", errors, place.error_in, bits,
                                        "errors"), ops=round_float_ops(bits), dtype="fp"))
        else:
            after.append(record(backward, "stochastic_round", errors, place.error_in, bits,
                                "errors", "stochastic"))
    return before, after
