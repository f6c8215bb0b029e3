"""The simulator's array timing against the cycle-stepped functional model and the closed form.

The functional model moves real integers through the PEs; it must compute A.B exactly in the
same number of cycles the event simulator charges, for every dataflow, both timings and the
precision modes' beat shapes.
"""

import numpy as np
import pytest
from machines import gemm, ideal_memory, machine

from accelsim.hardware import load_hardware
from accelsim.sim.engine import simulate_gemm
from accelsim.sim.functional import run_functional
from accelsim.sim.mapping import FoldGeometry, beat_for, gemm_cycles
from accelsim.sim.tiling import plan_gemm

SHAPES = [(5, 7, 3), (16, 16, 16), (20, 9, 33), (9, 21, 14), (1, 13, 40)]


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("timing", ["native", "scalesim"])
@pytest.mark.parametrize("shape", SHAPES)
def test_functional_model_matches_simulator(dataflow, timing, shape):
    m, n, k = shape
    hw = ideal_memory(8, 6, dataflow, timing=timing)
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    a = rng.integers(-128, 128, size=(m, k))
    b = rng.integers(-128, 128, size=(k, n))
    ref = run_functional(a, b, 8, 6, dataflow, timing=timing)
    np.testing.assert_array_equal(ref.c, a @ b)
    cost = simulate_gemm(hw, gemm(m, n, k))
    assert cost.compute_cycles == ref.cycles
    assert cost.compute_cycles == gemm_cycles(hw.array, m, n, k)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize(("mode", "bits"), [("bit_fusion", 4), ("bit_fusion", 2),
                                            ("bit_serial", 3), ("bit_serial", 6),
                                            ("fixed", 4)])
def test_precision_modes_match_functional_model(dataflow, mode, bits):
    hw = ideal_memory(4, 4, dataflow, precision_scaling=mode, native_bits=8)
    beat = beat_for(hw.array, bits, bits)
    m, n, k = 11, 6, 9
    rng = np.random.default_rng(bits)
    lo = -(2 ** (bits - 1))
    a = rng.integers(lo, -lo, size=(m, k))
    b = rng.integers(lo, -lo, size=(k, n))
    ref = run_functional(a, b, 4, 4, dataflow, pack=beat.pack, serial=beat.serial)
    np.testing.assert_array_equal(ref.c, a @ b)
    cost = simulate_gemm(hw, gemm(m, n, k, bits=bits))
    assert cost.compute_cycles == ref.cycles


def test_beat_shapes_follow_the_precision_modes():
    fusion = machine(array={"precision_scaling": "bit_fusion", "native_bits": 8}).array
    assert (beat_for(fusion, 8, 8).pack, beat_for(fusion, 4, 4).pack) == (1, 4)
    assert beat_for(fusion, 2, 8).pack == 4 and beat_for(fusion, 3, 3).pack == 4
    assert beat_for(fusion, 16, 16).serial == 4 and beat_for(fusion, 16, 4).pack == 1
    serial = machine(array={"precision_scaling": "bit_serial", "native_bits": 8}).array
    assert beat_for(serial, 5, 8).serial == 5 and beat_for(serial, 5, 16).serial == 10
    fixed = machine(array={"precision_scaling": "fixed", "native_bits": 8}).array
    assert beat_for(fixed, 2, 2).serial == 1 and beat_for(fixed, 32, 32).serial == 16


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("shape", [(100, 37, 55), (6272, 6, 25), (3136, 64, 576), (64, 10, 400),
                                   (1, 1, 1), (17, 300, 2)])
def test_compute_cycles_equal_closed_form_whatever_the_tiling(dataflow, shape):
    """Tiles are whole folds, so tiling never changes compute cycles, even when memory-bound,
    unless the plan cuts the streamed (time) dimension: then each chunk is a fold pass of its
    own and pays its fill and drain, exactly the closed form of the chunked GEMMs."""
    for timing in ("native", "scalesim"):
        for kib in (4, 8):
            hw = machine(array={"dataflow": dataflow, "timing": timing},
                         buffers={b: {"size_kib": kib} for b in ("ifmap", "filter", "ofmap")})
            op = gemm(*shape)
            cost = simulate_gemm(hw, op)
            chunk = plan_gemm(hw, op).tile_time
            if timing == "scalesim":  # SCALE-Sim's counting never cuts time
                assert cost.compute_cycles == gemm_cycles(hw.array, *shape)
            else:
                assert cost.compute_cycles == _chunked_cycles(hw, op, chunk), kib
            assert cost.cycles == cost.compute_cycles + sum(cost.stall_cycles.values())


def _chunked_cycles(hw, op, chunk):
    """The closed form summed over the time chunks of ``chunk`` steps."""
    geometry = FoldGeometry.of(hw.array.dataflow)
    size = {"m": op.m, "n": op.n, "k": op.k}
    whole = size[geometry.time_dim]
    total = 0
    for start in range(0, whole, chunk):
        size[geometry.time_dim] = min(chunk, whole - start)
        total += gemm_cycles(hw.array, size["m"], size["n"], size["k"])
    return total


def test_small_srams_cut_time_and_pay_fill_and_drain():
    """On the default machine with 4 KiB SRAMs a ws reduction of 3136 cannot keep its output
    block with the whole time dimension: the plan cuts time, and compute grows by the folds'
    extra fill and drain (the planner judged spilling partial sums dearer)."""
    hw = load_hardware("edge-16x16", ["array.dataflow=ws"]
                       + [f"buffers.{b}.size_kib=4" for b in ("ifmap", "filter", "ofmap")])
    op = gemm(576, 64, 3136)
    plan = plan_gemm(hw, op)
    assert plan.tile_time < op.m
    cost = simulate_gemm(hw, op)
    assert cost.compute_cycles == _chunked_cycles(hw, op, plan.tile_time)
    assert cost.compute_cycles > gemm_cycles(hw.array, op.m, op.n, op.k)


def test_closed_form_by_hand():
    ws = machine(array={"rows": 4, "cols": 4, "dataflow": "ws"}).array
    # K=10 over 4 rows: folds of 4, 4, 2 rows; N=5 over 4 cols: 4, 1; T = M = 7.
    # sum over folds of 2r + c - 2 + 7 = sum_r,c (2r + c + 5)
    expect = sum(2 * r + c + 5 for r in (4, 4, 2) for c in (4, 1))
    assert gemm_cycles(ws, 7, 5, 10) == expect
    scalesim = machine(array={"rows": 4, "cols": 4, "dataflow": "os", "timing": "scalesim"}).array
    assert gemm_cycles(scalesim, 7, 5, 10) == 2 * 2 * (4 + 4 + 10 - 2) - 1


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_binary_beats_match_functional_model(dataflow):
    """1 x 1-bit operands in Bit Fusion: native^2 XNOR lanes per PE, checked on +-1 values."""
    hw = ideal_memory(4, 4, dataflow, precision_scaling="bit_fusion", native_bits=4)
    beat = beat_for(hw.array, 1, 1)
    assert (beat.pack, beat.serial) == (16, 1)
    rng = np.random.default_rng(5)
    a = rng.choice([-1, 1], size=(9, 40))
    b = rng.choice([-1, 1], size=(40, 7))
    ref = run_functional(a, b, 4, 4, dataflow, pack=beat.pack, serial=beat.serial)
    np.testing.assert_array_equal(ref.c, a @ b)
    assert simulate_gemm(hw, gemm(9, 7, 40, bits=1)).compute_cycles == ref.cycles
    serial = ideal_memory(4, 4, dataflow, precision_scaling="bit_serial").array
    fixed = ideal_memory(4, 4, dataflow, precision_scaling="fixed").array
    assert beat_for(serial, 1, 1).serial == 1 and beat_for(fixed, 1, 1) == beat_for(fixed, 8, 8)
