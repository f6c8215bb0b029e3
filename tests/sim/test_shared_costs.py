"""Op costs shared across machines (``ops.simulate`` by ``ops.machine_key``): machines that
agree on an op's key give it the same cost simulated afresh, and machines that differ in
anything the simulation reads get keys of their own."""

from __future__ import annotations

import dataclasses
from itertools import combinations

import pytest

from accelsim.hardware import load_hardware
from accelsim.sim import ops
from accelsim.trace.records import Gemm, Transfer, Vector

# Changes the key leaves out (energy, the schedule, a precision mode giving the same beat) and
# changes it must see (array, buffers, DRAM, clock, vector unit).
VARIANTS = [[], ["schedule.overlap_ops=false"], ["energy.mac.mult_pj_linear=0.5"],
            ["energy.static.array_leakage_mw=7"], ["energy.static.array_leakage_mw=100000"],
            ["array.precision_scaling=fixed"],
            ["array.rows=8"], ["array.dataflow=os"], ["buffers.ofmap.size_kib=16"],
            ["dram.lpddr4.data_rate_mtps=1600"], ["clock_mhz=250"], ["vector.lanes=4"],
            ["vector.fp32_op_pj=9"]]
OPS = [Gemm(iter=0, layer="l", phase="fwd", m=200, n=70, k=300, a_bits=8, b_bits=8,
            acc_bits=32, c_bits=8),
       Gemm(iter=0, layer="l", phase="fwd", m=200, n=70, k=300, a_bits=4, b_bits=4,
            acc_bits=32, c_bits=8),
       Gemm(iter=0, layer="l", phase="fwd", m=100, n=37, k=55, a_bits=16, b_bits=16,
            acc_bits=32, c_bits=16),  # the same beat in both precision modes: shared
       # a plan the leakage changes: the tiler ranks by energy-delay, so power moves the tiles
       Gemm(iter=0, layer="l", phase="bwd_data", m=3200, n=150, k=16, a_bits=8, b_bits=8,
            acc_bits=32, c_bits=8),
       Vector(iter=0, layer="l", phase="fwd", kind="batchnorm", elements=40_000, in_bits=8,
              out_bits=8, ops=6),
       Transfer(iter=0, layer="l", tensor="w", dir="read", elements=100_000, bits=8)]


def observed(cost) -> str:
    """Every field of a cost, as text (the profile and plan included)."""
    fields = {f.name: getattr(cost, f.name) for f in dataclasses.fields(cost)}
    fields["occupancy"] = {k: (o.capacity, o.times, o.levels) for k, o in cost.occupancy.items()}
    return repr(fields)


@pytest.mark.parametrize("op", OPS, ids=["gemm8", "gemm4", "gemm16", "gemm-leak", "vector", "transfer"])
def test_machines_sharing_a_key_give_the_same_fresh_cost(op):
    machines = [load_hardware("edge-16x16", overrides) for overrides in VARIANTS]
    fresh = [observed(ops.SIMULATORS[op.op](hw, op)) for hw in machines]
    keys = [ops.machine_key(hw, op) for hw in machines]
    for (a, key_a, cost_a), (b, key_b, cost_b) in combinations(
            zip(machines, keys, fresh, strict=True), 2):
        if key_a == key_b:
            assert cost_a == cost_b
            assert ops.simulate(a, op) is ops.simulate(b, op)
    # what the key must tell apart
    default, *_ = keys
    different = {"array.rows=8", "buffers.ofmap.size_kib=16", "dram.lpddr4.data_rate_mtps=1600",
                 "clock_mhz=250"}
    different |= {"array.dataflow=os"} if op.op == "gemm" else set()
    different |= {"vector.lanes=4", "vector.fp32_op_pj=9"} if op.op == "vector" else set()
    for overrides, key in zip(VARIANTS, keys, strict=True):
        if overrides and overrides[0] in different and (op.op == "gemm" or "array" not in
                                                        overrides[0]):
            assert key != default, overrides


def test_the_beat_not_the_mode_is_in_a_gemm_key():
    """8-bit operands on a 16-bit native array: bit_fusion packs four, fixed packs none."""
    fixed = load_hardware("edge-16x16", ["array.precision_scaling=fixed"])
    fusion = load_hardware("edge-16x16", ["array.precision_scaling=bit_fusion"])
    wide = Gemm(iter=0, layer="l", phase="fwd", m=64, n=64, k=64, a_bits=16, b_bits=16,
                acc_bits=32, c_bits=16)
    narrow = dataclasses.replace(wide, a_bits=8, b_bits=8)
    assert ops.machine_key(fixed, wide) == ops.machine_key(fusion, wide)
    assert ops.machine_key(fixed, narrow) != ops.machine_key(fusion, narrow)
