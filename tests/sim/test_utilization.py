"""Utilisation's numerator: the PE-cycles a GEMM spends on useful steps. At fixed precision (one
MAC per PE per beat) it is the GEMM's MACs times the beat's cycles, however the plan tiles and
cuts the time dimension, and no op keeps more PEs busy than the array has."""

import pytest

from accelsim.hardware import load_hardware
from accelsim.sim.mapping import beat_for
from accelsim.sim.ops import simulate
from accelsim.trace.records import Gemm

SHAPES = [(8, 8, 8), (100, 37, 55), (25088, 6, 25), (6, 25, 25088), (3136, 64, 576),
          (64, 1000, 512), (1, 10, 84)]
MACHINES = [[], ["array.dataflow=os"], ["array.dataflow=is"],
            ["buffers.ifmap.size_kib=4", "buffers.filter.size_kib=4", "buffers.ofmap.size_kib=4"],
            ["array.rows=8", "array.cols=32"]]


@pytest.mark.parametrize(("bits", "dtype"), [(8, "int"), (32, "fp")])
@pytest.mark.parametrize("overrides", MACHINES)
@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
def test_busy_pe_cycles_are_the_macs_at_fixed_precision(overrides, m, n, k, bits, dtype):
    hw = load_hardware("edge-16x16", ["array.precision_scaling=fixed", *overrides])
    op = Gemm(iter=0, layer="l", phase="fwd", m=m, n=n, k=k, a_bits=bits, b_bits=bits,
              acc_bits=32, c_bits=bits, dtype=dtype)
    cost = simulate(hw, op)
    serial = beat_for(hw.array, bits, bits).serial  # cycles one MAC takes at this width
    assert cost.busy_pe_cycles == m * n * k * serial
    assert cost.busy_pe_cycles <= cost.compute_cycles * hw.array.rows * hw.array.cols


@pytest.mark.parametrize("scaling", ["bit_fusion", "bit_serial"])
@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
def test_no_op_keeps_more_pes_busy_than_the_array_has(scaling, m, n, k):
    hw = load_hardware("edge-16x16", [f"array.precision_scaling={scaling}"])
    for bits in (2, 4, 8):
        op = Gemm(iter=0, layer="l", phase="fwd", m=m, n=n, k=k, a_bits=bits, b_bits=bits,
                  acc_bits=32, c_bits=bits)
        cost = simulate(hw, op)
        assert 0 < cost.busy_pe_cycles <= cost.compute_cycles * hw.array.rows * hw.array.cols
