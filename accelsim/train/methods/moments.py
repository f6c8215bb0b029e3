"""The grid a method stores a non-negative optimizer state on: Adam's second moment v.

What it owns: :func:`quantise_nonnegative` (a float tensor >= 0 onto a ``bits``-wide unsigned
floating-point grid with one power-of-two exponent per tensor), :func:`nonnegative_fields`
(how the bits split into exponent and mantissa) and :func:`nonnegative_ops` (what it costs a
vector unit per element). Signed state (SGD's momentum, Adam's m) stays on the fixed-point grid
of ``accelsim.train.quant``.

Why not that fixed-point grid for v. v averages squared gradients, so its dynamic range is the
square of the gradient's: on a 16-bit fixed-point grid scaled to the tensor's largest v, every
element whose gradient is below about 1/256 of the tensor's largest (v below 2**-16 of the
largest v) rounds to v = 0, while its m, on a grid scaled like the gradient, survives down to
2**-16 of the largest. Adam then divides m by sqrt(0) + eps (1e-8): the step explodes. So:

* **unsigned**: v >= 0, so no bit is spent on a sign;
* **floating point, one exponent per tensor**: an element is ``(1 + j / 2**M) * 2**e`` (j < 2**M)
  with e in the 2**E - 1 binades ending at the binade of the tensor's largest value, plus a
  subnormal range below them (``j * 2**(lowest - M)``), E and M from
  :func:`nonnegative_fields` (16 bits: E = 5, M = 11). Every v within 2**31 of the tensor's
  largest keeps M + 1 significant bits (relative error <= 2**-(M+1)); 32 binades of v are 16
  binades of the gradient, the whole range of a 16-bit fixed-point m;
* **never zero unless zero**: a v > 0 that would round to 0 takes the smallest positive code, so
  the stored v is never below half the true v and Adam's step stays bounded (at most sqrt(2)
  times the unquantised step) however small the gradient.

Rounding is to nearest (ties to even), as the signed state is stored. Known limit: with nearest
rounding a v that receives no gradient decays only if (1 - beta2) exceeds half a mantissa step
(2**-(M+2); at 16 bits, beta2 below about 0.99988), so at beta2 = 0.9999 or above a 16-bit v
holds still where its float counterpart would decay slowly.
"""

from __future__ import annotations

import math

import numpy as np

MAX_EXPONENT_BITS = 5
MAX_MANTISSA_BITS = 23  # a float32 significand holds M + 1 = 24 bits exactly


def nonnegative_fields(bits: int) -> tuple[int, int]:
    """(exponent bits E, mantissa bits M) of a ``bits``-wide unsigned grid (2 <= bits <= 32):
    up to 5 exponent bits (half the width at most), the rest mantissa, the mantissa capped at
    23 so that every grid value is exact in float32."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 32:
        raise ValueError(f"bits must be an integer in 2..32, got {bits!r}")
    exponent = max(min(MAX_EXPONENT_BITS, bits // 2), bits - MAX_MANTISSA_BITS)
    return exponent, bits - exponent


def quantise_nonnegative(x: np.ndarray, bits: int) -> np.ndarray:
    """``x`` (float, every value >= 0) on the ``bits``-wide unsigned floating-point grid of the
    module docstring, nearest, in ``x``'s dtype. Idempotent: a tensor on its grid stays put."""
    exponent_bits, mantissa_bits = nonnegative_fields(bits)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"quantise_nonnegative expects a float tensor, got dtype {x.dtype}")
    if x.size == 0:
        return x.copy()
    top_value = float(x.max())
    if not math.isfinite(top_value) or float(x.min()) < 0.0:
        raise ValueError("quantise_nonnegative expects finite values >= 0, got a range "
                         f"[{float(x.min())}, {top_value}]")
    if top_value == 0.0:
        return np.zeros_like(x)
    top = math.frexp(top_value)[1] - 1             # the binade of the largest value
    lowest = top - (2 ** exponent_bits - 2)        # the lowest normal binade
    values = x.astype(np.float64)
    binade = np.clip(np.frexp(values)[1] - 1, lowest, top)  # exact; 0 lands on lowest
    step_power = binade - mantissa_bits
    q = np.ldexp(np.rint(np.ldexp(values, -step_power)), step_power)
    largest = math.ldexp(2 ** (mantissa_bits + 1) - 1, top - mantissa_bits)
    np.minimum(q, largest, out=q)
    smallest = math.ldexp(1.0, lowest - mantissa_bits)
    q = np.where((q == 0.0) & (values > 0.0), smallest, q)
    return q.astype(x.dtype)


def nonnegative_ops(bits: int) -> int:
    """Vector operations per element of :func:`quantise_nonnegative`, counted from its code:
    the range (max: 1; no min, the values are non-negative), the binade (exponent extract 1,
    clamp to the grid's binades: max, min 2), the scale (a shift: 1), rint (1), the clip to the
    largest code (1) and keeping a non-zero value non-zero (compare, select: 2): 9. The numpy
    code's rescale to values is not counted (a device keeps codes and the tensor's exponent)."""
    nonnegative_fields(bits)
    return 9
