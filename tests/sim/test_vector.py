"""The vector unit: its time against the closed forms it is bounded by (operations over the
lanes, SRAM port width, DRAM bandwidth), bytes in equal bytes out, occupancy never above the
SRAM, energy the sum of its parts, and a clean error when one element cannot fit."""

from __future__ import annotations

from math import ceil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from machines import machine

from accelsim.energy.model import energy_of, time_energy
from accelsim.errors import SimulationError
from accelsim.hardware import load_hardware
from accelsim.sim.ops import simulate
from accelsim.trace.records import Vector


def vec(elements, in_bits=8, out_bits=8, ops=1, inputs=1, **kw):
    return Vector(iter=0, layer="l", phase=kw.pop("phase", "fwd"), kind=kw.pop("kind", "relu"),
                  elements=elements, in_bits=in_bits, out_bits=out_bits, ops=ops, inputs=inputs,
                  **kw)


def fast_memory(**vector):
    """Memory that never limits, so the vector unit's own rate sets the time."""
    return machine(vector=vector, dram={"model": "fixed_bandwidth",
                                        "fixed_bandwidth": {"words_per_cycle": 1e9,
                                                            "word_bits": 8}})


@pytest.mark.parametrize(("lanes", "per_lane", "ops"), [(16, 1, 1), (16, 1, 9), (64, 2, 3),
                                                        (1, 1, 4)])
def test_compute_cycles_are_operations_over_the_lanes(lanes, per_lane, ops):
    hw = fast_memory(lanes=lanes, ops_per_lane_per_cycle=per_lane)
    op = vec(100_000, ops=ops)
    cost = simulate(hw, op)
    buf = hw.buffer(hw.vector.sram)
    per_chunk = (buf.size_bytes // 2 - 2) * 8 // (op.in_bits + op.out_bits)
    chunks = [min(per_chunk, op.elements - start) for start in range(0, op.elements, per_chunk)]
    assert cost.compute_cycles == sum(ceil(n * ops / (lanes * per_lane)) for n in chunks)
    # with memory that never limits, the op takes its compute (or port) time and little more
    port = ceil(op.elements * (op.in_bits + op.out_bits) / buf.bits_per_cycle)
    assert cost.cycles >= max(cost.compute_cycles, port)
    assert cost.cycles <= max(cost.compute_cycles, port) * 1.05 + 100


def test_a_wide_op_is_bound_by_the_sram_port():
    """One operation on 32-bit data: the SRAM's port feeds fewer elements than the lanes eat."""
    hw = fast_memory(lanes=1024)
    op = vec(200_000, in_bits=32, out_bits=32, inputs=2)
    cost = simulate(hw, op)
    buf = hw.buffer(hw.vector.sram)
    port = op.elements * (2 * 32 + 32) / buf.bits_per_cycle
    assert cost.stall_cycles["sram_port"] > 0
    assert cost.cycles >= port


def test_a_long_stream_is_bound_by_dram_bandwidth():
    """Two 32-bit inputs and a 32-bit output per one-operation element: 12 bytes of DRAM per
    element against 16 elements a cycle; the channel's peak (a 128-B burst every 8 tCK of
    0.625 ns, at 500 MHz) sets the time."""
    hw = load_hardware("edge-16x16")
    op = vec(4_000_000, in_bits=32, out_bits=32, inputs=2, ops=1)
    cost = simulate(hw, op)
    stats = cost.dram["vector"]
    moved = stats.read_moved_bytes + stats.write_moved_bytes
    assert moved >= op.read_bytes + op.write_bytes
    peak_bytes_per_cycle = 128 / (8 * 0.625) * hw.cycle_ns
    assert cost.cycles >= moved / peak_bytes_per_cycle
    assert cost.cycles <= 1.25 * moved / peak_bytes_per_cycle  # refresh, turnarounds, rows
    assert cost.cycles > 2 * cost.compute_cycles


@settings(max_examples=60, deadline=None)
@given(elements=st.integers(1, 300_000), in_bits=st.sampled_from([1, 2, 4, 8, 16, 32]),
       out_bits=st.sampled_from([1, 8, 16, 32]), inputs=st.integers(1, 3),
       ops=st.integers(1, 20), kib=st.sampled_from([1, 4, 64]),
       double=st.booleans())
def test_bytes_in_equal_bytes_out_and_occupancy_stays_in_the_sram(elements, in_bits, out_bits,
                                                                   inputs, ops, kib, double):
    hw = load_hardware("edge-16x16", [f"buffers.ofmap.size_kib={kib}",
                                      f"buffers.ofmap.double_buffered={str(double).lower()}",
                                      "array.dataflow=ws"])
    op = vec(elements, in_bits, out_bits, ops, inputs)
    cost = simulate(hw, op)
    stats = cost.dram["vector"]
    # rounding to bytes per chunk can only add, never lose, and at most a byte per chunk each
    assert op.read_bytes <= stats.read_bytes and op.write_bytes <= stats.write_bytes
    chunks = ceil(elements / max(1, ((hw.buffer("ofmap").size_bytes // (2 if double else 1))
                                     - 2) * 8 // (inputs * in_bits + out_bits)))
    assert stats.read_bytes - op.read_bytes <= chunks
    assert stats.write_bytes - op.write_bytes <= chunks
    assert stats.read_moved_bytes >= stats.read_bytes
    for name, occupancy in cost.occupancy.items():
        assert min(occupancy.levels) >= 0 and occupancy.peak <= hw.buffer(name).size_bytes
        assert occupancy.levels[-1] == 0, name  # everything loaded is released
    assert cost.cycles >= cost.compute_cycles
    sram = cost.sram_bits
    assert sram[("vector", "read")] == sram[("vector", "write")] == \
        elements * (inputs * in_bits + out_bits)


def test_energy_is_the_sum_of_its_parts_and_the_same_every_time():
    hw = load_hardware("edge-16x16")
    op = vec(50_000, in_bits=16, out_bits=16, ops=5, dtype="fp", phase="update",
             kind="sgd_update", inputs=3)
    first, second = simulate(hw, op), simulate(hw, op)
    assert first.cycles == second.cycles and first.dram == second.dram
    energy = energy_of(hw, op, first)
    assert energy.components["vector"] == pytest.approx(50_000 * 5 * hw.vector.fp16_op_pj)
    assert energy.total == pytest.approx(sum(energy.components.values()))
    assert energy.components[hw.vector.sram] > 0 and energy.components["dram"] > 0
    moved = sum(energy.by_operand.values())  # the SRAM and DRAM actions, all the vector's
    assert moved == pytest.approx(energy.total - energy.components["vector"]
                                  - sum(time_energy(hw, first.cycles).values()))


def test_an_element_wider_than_a_slot_is_a_clean_error():
    hw = load_hardware("edge-16x16", ["buffers.ofmap.size_kib=0.1"])  # 51-byte halves
    with pytest.raises(SimulationError, match=r"does not fit a slot of buffers\.ofmap"):
        simulate(hw, vec(10, in_bits=64, out_bits=64, inputs=16))


@pytest.mark.parametrize("elements", [1, 1000, 300_000])
def test_a_fused_record_moves_no_dram_and_takes_its_compute_time(elements):
    hw = load_hardware("edge-16x16")
    op = vec(elements, in_bits=8, out_bits=8, ops=3, fused=True)
    cost = simulate(hw, op)
    assert not any(s.read_bytes or s.write_bytes for s in cost.dram.values())
    rate = hw.vector.lanes * hw.vector.ops_per_lane_per_cycle
    per_chunk = (hw.buffer(hw.vector.sram).size_bytes // 2 - 2) * 8 // 16
    chunks = [min(per_chunk, elements - s) for s in range(0, elements, per_chunk)]
    assert cost.compute_cycles == sum(ceil(n * 3 / rate) for n in chunks)
    assert cost.cycles == cost.compute_cycles  # the port feeds 16 B/cycle and more
    assert cost.occupancy["ofmap"].levels[-1] == 0
    streamed = simulate(hw, vec(elements, in_bits=8, out_bits=8, ops=3))
    assert streamed.cycles >= cost.cycles
    assert energy_of(hw, op, cost).total < energy_of(hw, op, streamed).total
