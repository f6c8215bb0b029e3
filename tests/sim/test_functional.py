"""Tests of the cycle-stepped functional systolic array (accelsim.sim.functional).

The closed-form cycle counts below are what the stepped model is checked AGAINST; the model
itself never uses them.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest

from accelsim.sim import functional
from accelsim.sim.functional import FunctionalResult, run_functional

DATAFLOWS = ("os", "ws", "is")
PRECISIONS = [(1, 1), (2, 1), (1, 4), (3, 2), (4, 8)]  # (pack, serial)


def _dims(dataflow: str, m: int, k: int, n: int) -> tuple[int, int, int]:
    """(array-rows dim, array-cols dim, streamed dim T) of a GEMM under ``dataflow``."""
    return {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]


def _chunks(size: int, tile: int) -> list[int]:
    return [min(tile, size - start) for start in range(0, size, tile)]


def expected_native(dataflow, m, k, n, rows, cols, pack=1, serial=1) -> int:
    """Per fold 2r + c - 2 + steps, with r the PE rows and c the cols that fold uses. ``pack``
    K elements share a PE step (Bit Fusion): in os K streams, so steps = ceil(K/p)*s; in ws/is
    K spans the rows, so a fold covers rows*p of K on ceil(chunk/p) PE rows, steps = T*s."""
    row_dim, col_dim, t = _dims(dataflow, m, k, n)
    if dataflow == "os":
        return sum(2 * r + c - 2 + math.ceil(t / pack) * serial
                   for r in _chunks(row_dim, rows) for c in _chunks(col_dim, cols))
    return sum(2 * math.ceil(r / pack) + c - 2 + t * serial
               for r in _chunks(row_dim, rows * pack) for c in _chunks(col_dim, cols))


def expected_folds(dataflow, m, k, n, rows, cols, pack=1) -> int:
    row_dim, col_dim, _ = _dims(dataflow, m, k, n)
    span = rows if dataflow == "os" else rows * pack
    return math.ceil(row_dim / span) * math.ceil(col_dim / cols)


def expected_scalesim(dataflow, m, k, n, rows, cols, pack=1, serial=1) -> int:
    """folds*(R + C + T - 2) - 1 for os, folds*(2R + C + T - 2) - 1 for ws/is, with T read
    as the PE steps (the brief states it for pack = serial = 1)."""
    _, _, t = _dims(dataflow, m, k, n)
    folds = expected_folds(dataflow, m, k, n, rows, cols, pack)
    stream = (math.ceil(t / pack) if dataflow == "os" else t) * serial
    fill = rows if dataflow == "os" else 2 * rows
    return folds * (fill + cols + stream - 2) - 1


def _operands(rng, dataflow, m, k, n, serial):
    """Random int operands; the bit-serial one (A for os/ws, B for is) fits in ``serial`` bits."""
    half = 1 << (serial - 1) if serial > 1 else 1000
    a_half = half if dataflow != "is" else 1000
    b_half = half if dataflow == "is" else 1000
    a = rng.integers(-a_half, a_half, size=(m, k), dtype=np.int64)
    b = rng.integers(-b_half, b_half, size=(k, n), dtype=np.int64)
    return a, b


# Shapes (M, K, N) on a (rows, cols) array: exact fits, partial folds, GEMMs larger than the
# array in every dim, degenerate 1-wide dims.
SHAPES = [
    ((4, 4, 4), (4, 4)),
    ((5, 7, 3), (4, 4)),
    ((9, 3, 11), (4, 3)),
    ((1, 6, 1), (3, 5)),
    ((13, 10, 6), (5, 2)),
    ((3, 1, 17), (2, 16)),
]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("timing", ["native", "scalesim"])
@pytest.mark.parametrize(("pack", "serial"), PRECISIONS)
def test_product_is_exact_and_cycles_match_closed_form(dataflow, timing, pack, serial):
    rng = np.random.default_rng(zlib.crc32(f"{dataflow}-{timing}-{pack}-{serial}".encode()))
    for (m, k, n), (rows, cols) in SHAPES:
        a, b = _operands(rng, dataflow, m, k, n, serial)
        res = run_functional(a, b, rows, cols, dataflow, pack=pack, serial=serial, timing=timing)
        assert isinstance(res, FunctionalResult)
        assert res.c.dtype == np.int64
        np.testing.assert_array_equal(res.c, a @ b)
        assert res.macs == m * n * k
        assert res.folds == expected_folds(dataflow, m, k, n, rows, cols, pack)
        expected = expected_native if timing == "native" else expected_scalesim
        assert res.cycles == expected(dataflow, m, k, n, rows, cols, pack, serial), (m, k, n)


def test_cycles_match_closed_form_on_many_random_shapes():
    rng = np.random.default_rng(7)
    for _ in range(40):
        m, k, n = (int(x) for x in rng.integers(1, 24, size=3))
        rows, cols = (int(x) for x in rng.integers(1, 17, size=2))
        dataflow = str(rng.choice(DATAFLOWS))
        pack, serial = PRECISIONS[rng.integers(len(PRECISIONS))]
        a, b = _operands(rng, dataflow, m, k, n, serial)
        for timing, expected in (("native", expected_native), ("scalesim", expected_scalesim)):
            res = run_functional(
                a, b, rows, cols, dataflow, pack=pack, serial=serial, timing=timing
            )
            np.testing.assert_array_equal(res.c, a @ b)
            want = expected(dataflow, m, k, n, rows, cols, pack, serial)
            assert res.cycles == want, (dataflow, timing, m, k, n, rows, cols, pack, serial)


def test_full_16x16_array_larger_gemm():
    rng = np.random.default_rng(3)
    m, k, n = 20, 35, 17
    for dataflow in DATAFLOWS:
        a, b = _operands(rng, dataflow, m, k, n, 1)
        for timing, expected in (("native", expected_native), ("scalesim", expected_scalesim)):
            res = run_functional(a, b, 16, 16, dataflow, timing=timing)
            np.testing.assert_array_equal(res.c, a @ b)
            assert res.cycles == expected(dataflow, m, k, n, 16, 16)


def test_single_pe_by_hand():
    a = np.array([[1, 2, 3]])
    b = np.array([[4], [5], [6]])
    # os: 3 MACs (cycles 0..2), then a 1-row drain (cycle 3): 4 cycles.
    assert run_functional(a, b, 1, 1, "os").cycles == 4
    # ws: T = M = 1; 1 preload cycle, then 1 beat for each of the 3 K folds: 2 cycles per fold.
    res = run_functional(a, b, 1, 1, "ws")
    assert (res.c.item(), res.cycles, res.folds) == (32, 6, 3)
    # scalesim: no drain, 0-based index of the last write: 3 MACs -> index 2.
    assert run_functional(a, b, 1, 1, "os", timing="scalesim").cycles == 2


def test_input_stationary_is_weight_stationary_on_transposed_operands():
    rng = np.random.default_rng(11)
    a = rng.integers(-9, 9, size=(7, 5))
    b = rng.integers(-9, 9, size=(5, 6))
    for timing in ("native", "scalesim"):
        is_res = run_functional(a, b, 3, 4, "is", pack=2, timing=timing)
        ws_res = run_functional(b.T, a.T, 3, 4, "ws", pack=2, timing=timing)
        np.testing.assert_array_equal(is_res.c, ws_res.c.T)
        assert (is_res.cycles, is_res.folds) == (ws_res.cycles, ws_res.folds)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("serial", [2, 5, 8])
def test_bit_serial_extremes_of_twos_complement(dataflow, serial):
    lo, hi = -(1 << (serial - 1)), (1 << (serial - 1)) - 1
    serial_operand = np.array([[lo, hi, -1], [0, lo, hi]])  # 2 x 3
    other = np.array([[-7, 3], [11, -2], [5, 9]])  # 3 x 2
    a, b = (other.T, serial_operand.T) if dataflow == "is" else (serial_operand, other)
    res = run_functional(a, b, 2, 2, dataflow, pack=2, serial=serial)
    np.testing.assert_array_equal(res.c, a @ b)


def test_pack_wider_than_stream_is_one_beat():
    a = np.arange(6).reshape(2, 3) - 2
    b = np.arange(12).reshape(3, 4) - 5
    res = run_functional(a, b, 2, 4, "os", pack=8, serial=3)
    np.testing.assert_array_equal(res.c, a @ b)
    assert res.cycles == 2 * 2 + 4 - 2 + 1 * 3


def test_timing_checks_are_live(monkeypatch):
    """Remove the edge skew: operands and psums of different beats then meet and must raise."""
    original = functional._EdgeFeeder.__init__

    def unskewed(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._skew = np.zeros_like(self._skew)

    monkeypatch.setattr(functional._EdgeFeeder, "__init__", unskewed)
    a = np.ones((3, 3), dtype=np.int64)
    for dataflow in DATAFLOWS:
        with pytest.raises(RuntimeError, match="without its"):
            run_functional(a, a, 3, 3, dataflow)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataflow": "rs"}, r"dataflow must be one of os, ws, is; got 'rs'"),
        ({"timing": "fast"}, r"timing must be one of native, scalesim"),
        ({"rows": 0}, r"rows must be an integer in 1\.\.16, got 0"),
        ({"rows": 17}, r"rows must be an integer in 1\.\.16, got 17"),
        ({"cols": 2.0}, r"cols must be an integer"),
        ({"cols": True}, r"cols must be an integer"),
        ({"pack": 0}, r"pack must be an integer >= 1, got 0"),
        ({"serial": 0}, r"serial must be an integer in 1\.\.32, got 0"),
        ({"serial": 33}, r"serial must be an integer in 1\.\.32"),
        ({"a": np.ones((2, 3), dtype=int), "b": np.ones((4, 2), dtype=int)}, r"inner dimensions"),
        ({"a": np.ones(3, dtype=int)}, r"a must be a 2-D matrix"),
        ({"b": np.ones((3, 2))}, r"b must hold integers, got dtype float64"),
        ({"a": np.ones((0, 3), dtype=int)}, r"a must not be empty"),
        ({"a": np.full((2, 3), 8), "serial": 4}, r"a is the bit-serial operand .* holds 8"),
        (
            {"b": np.full((3, 2), -9), "serial": 4, "dataflow": "is"},
            r"b is the bit-serial operand of dataflow 'is' .*-8\.\.7.* holds -9",
        ),
        ({"a": np.full((2, 3), 2**40), "b": np.full((3, 2), 2**30)}, r"overflow int64"),
    ],
)
def test_bad_input_raises_value_error(kwargs, message):
    args = {
        "a": np.ones((2, 3), dtype=int),
        "b": np.ones((3, 2), dtype=int),
        "rows": 4,
        "cols": 4,
        "dataflow": "os",
        **kwargs,
    }
    a, b, rows, cols, dataflow = (args.pop(key) for key in ("a", "b", "rows", "cols", "dataflow"))
    with pytest.raises(ValueError, match=message):
        run_functional(a, b, rows, cols, dataflow, **args)


def test_serial_operand_in_range_for_the_other_dataflow_is_not_checked():
    # For os/ws only A is bit-serial, so a wide B is fine with serial > 1.
    a = np.array([[1, -2]])
    b = np.array([[1000], [-3000]])
    for dataflow in ("os", "ws"):
        res = run_functional(a, b, 2, 2, dataflow, serial=3)
        np.testing.assert_array_equal(res.c, a @ b)


def test_accepts_lists_and_unsigned():
    res = run_functional([[1, 2]], np.array([[3], [4]], dtype=np.uint8), 1, 1, "ws")
    assert res.c.tolist() == [[11]]


def test_all_precisions_cross_dataflows_small():
    rng = np.random.default_rng(5)
    for dataflow, (pack, serial) in itertools.product(DATAFLOWS, [(5, 3), (2, 6)]):
        a, b = _operands(rng, dataflow, 6, 9, 5, serial)
        res = run_functional(a, b, 4, 3, dataflow, pack=pack, serial=serial)
        np.testing.assert_array_equal(res.c, a @ b)
