"""The unsigned floating-point grid Adam's second moment is stored on below 32 bits
(``methods.moments``): its fields, rounding, range, and the bound it keeps on Adam's step."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.train.methods.moments import (
    nonnegative_fields,
    nonnegative_ops,
    quantise_nonnegative,
)
from accelsim.train.quant import quantise


@pytest.mark.parametrize(("bits", "fields"), [(2, (1, 1)), (4, (2, 2)), (8, (4, 4)),
                                               (10, (5, 5)), (16, (5, 11)), (28, (5, 23)),
                                               (32, (9, 23))])
def test_fields(bits, fields):
    assert nonnegative_fields(bits) == fields
    assert nonnegative_ops(bits) == 9


@pytest.mark.parametrize("bits", [1, 33, 8.0, True])
def test_bad_widths(bits):
    with pytest.raises(ValueError, match=r"bits must be an integer in 2\.\.32"):
        nonnegative_fields(bits)


def test_bad_tensors():
    with pytest.raises(ValueError, match="expects a float tensor, got dtype int64"):
        quantise_nonnegative(np.arange(3), 16)
    with pytest.raises(ValueError, match=r"expects finite values >= 0, got a range \[-1.0, 2.0\]"):
        quantise_nonnegative(np.array([-1.0, 2.0]), 16)
    with pytest.raises(ValueError, match="expects finite values >= 0"):
        quantise_nonnegative(np.array([np.inf]), 16)


def test_sixteen_bits_by_hand():
    """M = 11: values in the top binade [1, 2) sit on steps of 2**-11."""
    x = np.array([1.0, 1.0 + 2.0 ** -12, 1.0 + 3 * 2.0 ** -12, 1.9999, 0.0], dtype=np.float32)
    q = quantise_nonnegative(x, 16)
    np.testing.assert_array_equal(q, [1.0, 1.0, 1.0 + 2 * 2.0 ** -11, 2.0 - 2.0 ** -11, 0.0])
    assert q.dtype == np.float32


@pytest.mark.parametrize("bits", [4, 8, 12, 16, 24])
def test_nearest_within_half_a_step_and_idempotent(bits):
    _, mantissa = nonnegative_fields(bits)
    rng = np.random.default_rng(bits)
    x = (rng.random(2000) * 10.0 ** rng.uniform(-6, 0, 2000)).astype(np.float64)
    q = quantise_nonnegative(x, bits)
    np.testing.assert_array_equal(quantise_nonnegative(q, bits), q)
    top = math.frexp(float(x.max()))[1] - 1
    lowest = top - (2 ** (bits - mantissa) - 2)
    normal = x >= 2.0 ** lowest
    relative = np.abs(q[normal] - x[normal]) / x[normal]
    assert relative.max() <= 2.0 ** -(mantissa + 1) * (1 + 1e-12)
    assert len(np.unique(q)) <= 2 ** bits


def test_small_values_are_never_flushed_to_zero():
    """A fixed-point grid scaled to the largest v flushes anything below 2**-16 of it; this
    grid keeps every non-zero v non-zero, at least half its true value."""
    x = np.array([1.0, 1e-3, 1e-9, 1e-30, 0.0])
    q = quantise_nonnegative(x, 16)
    assert quantise(x, 16).values[2] == 0.0  # the fixed-point grid loses it
    assert np.all(q[:4] > 0) and q[4] == 0.0
    assert np.all(q[:4] >= x[:4] / 2)
    np.testing.assert_allclose(q[:3], x[:3], rtol=2.0 ** -12)


def test_the_adam_step_stays_bounded_with_a_stored_v():
    """m / sqrt(v) with v on its grid is at most sqrt(2) times m / sqrt(true v): a gradient
    1e6 times smaller than the tensor's largest still steps about as far as it should."""
    g = np.array([1.0, 1e-3, 1e-6], dtype=np.float32)
    m, v = 0.1 * g, 0.001 * g * g
    stored = quantise_nonnegative(v, 16)
    step = m / (np.sqrt(stored) + 1e-8)
    true = m / (np.sqrt(v) + 1e-8)
    assert np.all(step <= true * math.sqrt(2) * (1 + 1e-6)) and np.all(step > 0.5 * true)


def test_all_zero_and_empty():
    np.testing.assert_array_equal(quantise_nonnegative(np.zeros(3), 8), np.zeros(3))
    assert quantise_nonnegative(np.zeros((0, 2)), 8).shape == (0, 2)
