"""Fixed-point quantisation with a per-tensor power-of-two step, and its straight-through gradient.

What it owns: :func:`quantise` (float tensor -> values on a b-bit grid, 1 <= b <= 32),
:func:`round_float` (onto IEEE half or single precision: the floating-point formats), the
:class:`Quantised` result it returns (dequantised values plus the step exponent and width, from
which the integer codes follow exactly), the choice of that exponent from the tensor's range
(:func:`choose_exponent`), :func:`straight_through`, the gradient rule QAT uses, and
:func:`quantise_ops`, what one quantisation costs a vector unit per element.

The grid. A b-bit tensor holds integer codes c, two's complement, and stands for c * 2**e with
one exponent e per tensor (a shift, no multiplier, as fixed-point hardware wants):

* b >= 2: c in [-2**(b-1), 2**(b-1) - 1].
* b = 1: c in {-1, +1}, the binary (sign) case; the one stored bit says which. The grid spacing
  is then 2 * step, zero has no code, round-to-nearest is the sign (0 goes to +1).

The exponent. Unless one is given, e is the smallest integer for which the largest positive
code reaches the tensor's max abs: ``top * 2**e >= max|x|`` with ``top = 2**(b-1) - 1`` (1 when
b = 1). So no value is ever clipped, the round-to-nearest error is at most half the grid
spacing everywhere, and stochastic rounding is unbiased everywhere; the price is that the most
negative code -2**(b-1) is reached only by values below -max|x| (never, for this tensor). An
all-zero tensor gets e = 0. Given an ``exponent`` (a fixed grid, as when updating weights that
already live on one), values beyond the grid saturate at its end codes.

Rounding. ``"nearest"`` rounds half to even (numpy's rint). ``"stochastic"`` rounds v = x / step
up with probability frac(v) and down otherwise (at b = 1: to +1 with probability (1 + v) / 2),
so E[q] = x; draws come from the caller's ``numpy.random.Generator``, so a seed fixes them.

Dtype. Values keep the input's dtype (float32 in training, float64 in checks); scaling by
2**e is exact, so the codes are exact integers even at 32 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_BITS, MAX_BITS = 1, 32
ROUNDINGS = ("nearest", "stochastic")


def check_bits(bits: int) -> int:
    """Return ``bits`` if it is an integer in [1, 32], else raise ValueError."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not (
            MIN_BITS <= bits <= MAX_BITS):
        raise ValueError(f"bits must be an integer in {MIN_BITS}..{MAX_BITS}, got {bits!r}")
    return int(bits)


def code_range(bits: int) -> tuple[int, int]:
    """Smallest and largest integer code of a ``bits``-wide grid ((-1, 1) at 1 bit)."""
    bits = check_bits(bits)
    return (-1, 1) if bits == 1 else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def choose_exponent(max_abs: float, bits: int) -> int:
    """Smallest e with ``top * 2**e >= max_abs`` (top = largest positive code); 0 for 0."""
    top = code_range(bits)[1]
    max_abs = float(max_abs)
    if not math.isfinite(max_abs) or max_abs < 0:
        raise ValueError(f"cannot choose a scale for a tensor whose max abs is {max_abs}")
    if max_abs == 0.0:
        return 0
    _, e = math.frexp(max_abs / top)  # a first guess, corrected exactly below
    while math.ldexp(top, e - 1) >= max_abs:  # products of an int and 2**e are exact
        e -= 1
    while math.ldexp(top, e) < max_abs:
        e += 1
    return e


@dataclass(frozen=True)
class Quantised:
    """A tensor on a fixed-point grid: ``values = codes * 2**exponent``, codes ``bits`` wide."""

    values: np.ndarray
    exponent: int
    bits: int

    @property
    def step(self) -> float:
        """Value of one code unit, 2**exponent (the grid spacing, except at 1 bit: 2 * step)."""
        return math.ldexp(1.0, self.exponent)

    def codes(self) -> np.ndarray:
        """The integer codes, int64, exactly (values / step is exact for a power of two)."""
        return np.rint(np.ldexp(self.values, -self.exponent)).astype(np.int64)

    def representable(self) -> tuple[float, float]:
        """Smallest and largest value of the grid."""
        low, high = code_range(self.bits)
        return math.ldexp(low, self.exponent), math.ldexp(high, self.exponent)


def quantise(x: np.ndarray, bits: int, *, rounding: str = "nearest",
             rng: np.random.Generator | None = None, exponent: int | None = None) -> Quantised:
    """Put float tensor ``x`` on a ``bits``-wide power-of-two grid (see the module docstring)."""
    bits = check_bits(bits)
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}; valid: {', '.join(ROUNDINGS)}")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"quantise expects a float tensor, got dtype {x.dtype}")
    # max and -min instead of abs(): no temporary the size of x (this runs on every GEMM operand)
    max_abs = float(max(x.max(), -x.min())) if x.size else 0.0
    if not math.isfinite(max_abs):
        raise ValueError(f"cannot quantise a tensor holding inf or nan (max abs {max_abs})")
    if exponent is None:
        exponent = choose_exponent(max_abs, bits)
    elif isinstance(exponent, bool) or not isinstance(exponent, (int, np.integer)):
        raise ValueError(f"exponent must be an integer, got {exponent!r}")
    exponent = int(exponent)
    low, high = code_range(bits)
    scaled = _scale(x, -exponent)  # exact: x / 2**exponent; then rounded in place
    if rounding == "nearest":
        if bits == 1:
            scaled = np.where(scaled >= 0, 1.0, -1.0).astype(x.dtype, copy=False)
        else:
            np.rint(scaled, out=scaled)
    elif bits == 1:  # +1 with probability (1 + v) / 2, so E[code] = v on [-1, 1]
        scaled = np.where(_uniform(rng, x.shape) < (1 + np.clip(scaled, -1, 1)) / 2, 1.0,
                          -1.0).astype(x.dtype, copy=False)
    else:  # up with probability frac(v)
        codes = np.floor(scaled)
        codes += _uniform(rng, x.shape) < (scaled - codes)
        scaled = codes
    if bits > 1:
        np.clip(scaled, low, _below(high, x.dtype), out=scaled)
    return Quantised(_scale(scaled, exponent, out=scaled), exponent, bits)


def quantise_ops(bits: int, rounding: str = "nearest", *, ranged: bool = True) -> int:
    """Vector operations per element of :func:`quantise`, counted from its code.

    ==========================  ==================================================  =====
    quantisation                operations (per element)                            total
    ==========================  ==================================================  =====
    nearest, b >= 2             range: max, min; scale 1; rint 1; clip: max, min    6
    stochastic, b >= 2          range 2; scale 1; floor 1; draw, subtract,          10
                                compare, add 4; clip 2
    nearest, b = 1              the sign: one compare-select (no scale needed)      1
    stochastic, b = 1           range 2; scale 1; clip 2; (1 + v) / 2: add,         10
                                multiply 2; draw, compare, select 3
    ==========================  ==================================================  =====

    ``ranged=False`` leaves out the range (onto a grid whose exponent is given). The numpy
    code's final rescale to dequantised values is not counted: a device keeps the codes and one
    exponent per tensor.
    """
    bits = check_bits(bits)
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}; valid: {', '.join(ROUNDINGS)}")
    if bits == 1 and rounding == "nearest":
        return 1
    ops = 8 if rounding == "stochastic" else 4
    return ops + (2 if ranged else 0)


FLOAT_BITS = (16, 32)  # the floating-point formats: IEEE half and single precision


def round_float(x: np.ndarray, bits: int) -> np.ndarray:
    """``x`` rounded to the IEEE binary format of ``bits`` (16: half precision, numpy
    float16; 32: single, float32), nearest with ties to even, overflow to +-inf, and returned
    in ``x``'s dtype: what ``tf.cast(x, tf.float16)`` and back does in Wang et al.'s
    emulation. Unlike :func:`quantise` there is no per-tensor scale: the format's own
    exponent (5 bits at 16) gives every element its own."""
    if bits not in FLOAT_BITS:
        raise ValueError(f"a floating-point format has {' or '.join(map(str, FLOAT_BITS))} "
                         f"bits, got {bits!r}")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"round_float expects a float tensor, got dtype {x.dtype}")
    narrow = np.float16 if bits == 16 else np.float32
    if x.dtype.itemsize * 8 <= bits:
        return x.copy()
    return x.astype(narrow).astype(x.dtype)


def round_float_ops(bits: int) -> int:
    """Vector operations per element of :func:`round_float`: one conversion to the narrower
    format (rounding included)."""
    if bits not in FLOAT_BITS:
        raise ValueError(f"a floating-point format has 16 or 32 bits, got {bits!r}")
    return 1


def straight_through(grad: np.ndarray, x: np.ndarray, q: Quantised) -> np.ndarray:
    """Gradient w.r.t. ``x`` given the gradient w.r.t. its quantised copy ``q`` (QAT's STE).

    Rounding is treated as the identity, so ``grad`` passes unchanged where ``x`` lies inside
    the grid's range and is zeroed where quantisation saturated it. With the exponent chosen
    from the tensor's own range nothing saturates and this returns ``grad`` itself.
    """
    if grad.shape != x.shape or x.shape != q.values.shape:
        raise ValueError(f"straight_through: grad {list(grad.shape)}, x {list(x.shape)} and "
                         f"quantised {list(q.values.shape)} must have one shape")
    low, high = q.representable()
    if q.bits == 1:  # any value maps to +-step; treat [-step, step] as the linear region
        low, high = -q.step, q.step
    inside = (x >= low) & (x <= high)
    return grad if inside.all() else grad * inside


def _scale(x: np.ndarray, power: int, out: np.ndarray | None = None) -> np.ndarray:
    """x * 2**power, exactly: a multiply when 2**power is a normal number of x's dtype (four
    times faster than ldexp), ldexp otherwise."""
    info = np.finfo(x.dtype)
    if info.minexp <= power <= info.maxexp - 1:
        return np.multiply(x, x.dtype.type(2.0 ** power), out=out)
    return np.ldexp(x, power, out=out)


def _below(limit: int, dtype: np.dtype) -> float:
    """``limit`` as the largest value of ``dtype`` not above it (2**31 - 1 is not a float32)."""
    value = np.asarray(limit, dtype=dtype)
    if int(value) > limit:
        value = np.nextafter(value, dtype.type(0))
    return float(value)


def _uniform(rng: np.random.Generator | None, shape: tuple[int, ...]) -> np.ndarray:
    """U[0, 1) draws (float64, so even tiny fractions keep their probability) from ``rng``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError("stochastic rounding needs a seeded numpy.random.Generator as rng, "
                         f"got {rng!r}")
    return rng.random(shape)
