"""The event model: conservation, occupancy bounds, memory-bound stalls, determinism."""

from itertools import pairwise

import pytest
from machines import gemm, machine

from accelsim.sim.engine import simulate_gemm
from accelsim.sim.ops import simulate_transfer
from accelsim.sim.tiling import plan_gemm
from accelsim.trace.records import Transfer

SHAPES = [(100, 37, 55), (6272, 6, 25), (3136, 64, 576), (400, 120, 32), (25, 6, 25088)]
SMALL = {"ifmap": {"size_kib": 8}, "filter": {"size_kib": 8}, "ofmap": {"size_kib": 8}}


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("double", [True, False])
def test_bytes_from_dram_reach_the_buffers_and_the_array(dataflow, shape, double):
    bufs = {name: {**cfg, "double_buffered": double} for name, cfg in SMALL.items()}
    hw = machine(array={"dataflow": dataflow}, buffers=bufs)
    op = gemm(*shape)
    cost = simulate_gemm(hw, op)
    # Everything read from DRAM is written into a buffer, and everything the buffers send back
    # to DRAM was read out of them.
    for operand in ("a", "b", "c"):
        stats = cost.dram.get(operand)
        read = stats.read_bytes if stats else 0
        assert cost.sram_bits.get((operand, "write"), 0) >= read * 8
        if operand != "c":
            assert cost.sram_bits.get((operand, "read"), 0) >= read * 8  # the array reads it
            assert read >= {"a": op.m * op.k, "b": op.k * op.n}[operand]  # at least once
    c_writes = cost.dram["c"].write_bytes
    assert c_writes >= op.m * op.n  # every output leaves at least once
    # The DRAM bytes the planner promised are the bytes the event model moved.
    moved = sum(s.read_bytes + s.write_bytes for s in cost.dram.values())
    assert moved == cost.plan.dram_bytes


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("double", [True, False])
def test_occupancy_never_exceeds_capacity(dataflow, double):
    bufs = {name: {**cfg, "double_buffered": double} for name, cfg in SMALL.items()}
    hw = machine(array={"dataflow": dataflow}, buffers=bufs)
    for shape in SHAPES:
        cost = simulate_gemm(hw, gemm(*shape))
        for name, occ in cost.occupancy.items():
            assert min(occ.levels) >= 0 and occ.peak <= hw.buffer(name).size_bytes
            assert occ.levels[-1] == 0  # everything released at the end
            assert list(occ.times) == sorted(occ.times)


def _fixed_bw(words, dataflow="ws", double=True, kib=8):
    bufs = {name: {"size_kib": kib, "double_buffered": double} for name in SMALL}
    return machine(array={"dataflow": dataflow}, buffers=bufs,
                   dram={"model": "fixed_bandwidth",
                         "fixed_bandwidth": {"words_per_cycle": words, "word_bits": 8}})


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_memory_bound_ops_stall_and_more_bandwidth_stalls_less(dataflow):
    op = gemm(3136, 64, 576)
    stalls = [simulate_gemm(_fixed_bw(w, dataflow), op).stall_cycles["memory"]
              for w in (0.25, 1, 4, 16, 64)]
    assert stalls[0] > simulate_gemm(_fixed_bw(0.25, dataflow), op).compute_cycles  # memory-bound
    assert all(a > b for a, b in pairwise(stalls)), stalls


def test_lpddr4_data_rate_reduces_stalls():
    op = gemm(3136, 64, 576)
    stalls = []
    for rate in (400, 1600, 3200):
        hw = machine(buffers=SMALL, dram={"lpddr4": {"data_rate_mtps": rate}})
        stalls.append(simulate_gemm(hw, op).stall_cycles["memory"])
    assert stalls[0] > stalls[1] > stalls[2]


@pytest.mark.parametrize("shape", [(400, 120, 32), (100, 37, 55)])
def test_double_buffering_hides_loads_at_equal_traffic(shape):
    """Halving the slots can raise traffic (a real trade-off with tiny buffers); where it does
    not, overlapping loads with compute must save time."""
    double = simulate_gemm(_fixed_bw(8, double=True, kib=64), gemm(*shape))
    single = simulate_gemm(_fixed_bw(8, double=False, kib=64), gemm(*shape))
    assert double.plan.dram_bytes == single.plan.dram_bytes
    assert double.cycles < single.cycles


def test_single_ported_sram_stalls_when_dma_shares_the_port():
    narrow = {"banks": 1, "bank_width_bits": 64}
    op = gemm(3136, 64, 576)
    two = machine(buffers={n: {**narrow, "ports": 2} for n in SMALL})
    one = machine(buffers={n: {**narrow, "ports": 1} for n in SMALL})
    s2 = simulate_gemm(two, op).stall_cycles["sram_port"]
    s1 = simulate_gemm(one, op).stall_cycles["sram_port"]
    assert s2 > 0 and s1 > s2


def test_accumulating_outputs_spill_partial_sums_when_ofmap_is_small():
    op = gemm(3136, 64, 576)  # ws: C (3136 x 64 at 32 bits) cannot stay in 8 KiB
    hw = machine(buffers=SMALL)
    cost = simulate_gemm(hw, op)
    c = cost.dram["c"]
    assert c.read_bytes > 0  # partial sums read back
    assert c.write_bytes > op.m * op.n


def test_narrower_operands_move_fewer_bytes_and_fusion_is_faster(default_hw):
    wide, narrow = gemm(3136, 64, 576, bits=16), gemm(3136, 64, 576, bits=4)
    cw, cn = simulate_gemm(default_hw, wide), simulate_gemm(default_hw, narrow)
    assert cn.plan.dram_bytes < cw.plan.dram_bytes
    assert cn.compute_cycles < cw.compute_cycles  # bit_fusion packs 4-bit beats


def test_determinism(default_hw):
    a = simulate_gemm(default_hw, gemm(400, 120, 32))
    plan_gemm.cache_clear()
    b = simulate_gemm(default_hw, gemm(400, 120, 32))
    assert (a.cycles, a.stall_cycles, a.sram_bits) == (b.cycles, b.stall_cycles, b.sram_bits)


def test_transfer_is_one_sequential_stream(default_hw):
    op = Transfer(iter=0, layer="fc1", tensor="weights", dir="read", elements=48000, bits=8)
    cost = simulate_transfer(default_hw, op)
    stats = cost.dram["transfer"]
    assert stats.read_bytes == 48000 and stats.write_bytes == 0
    assert cost.compute_cycles == 0 and sum(cost.stall_cycles.values()) == cost.cycles
    assert set(cost.stall_cycles) <= {"transfer", "refresh"}
    # near peak: 25.6 GB/s at 500 MHz is 51.2 bytes per cycle
    assert 48000 / cost.cycles > 0.8 * 51.2


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_im2col_views_move_only_their_footprint(dataflow):
    """A convolution's A is an im2col view of a feature map ~k*k times smaller: DRAM moves the
    feature map, the array still computes the whole GEMM."""
    hw = machine(array={"dataflow": dataflow})
    view, conv = gemm(6272, 16, 150), gemm(6272, 16, 150, a_elements=6272 * 150 // 25)
    full, small = simulate_gemm(hw, view), simulate_gemm(hw, conv)
    assert small.compute_cycles == full.compute_cycles
    assert small.dram["a"].read_bytes == pytest.approx(full.dram["a"].read_bytes / 25, rel=0.05)
    assert small.dram["b"].read_bytes == full.dram["b"].read_bytes


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("bits", [1, 3, 5, 8])
@pytest.mark.parametrize("shape", [(25, 6, 25088), (6272, 6, 25), (1, 5, 1), (100, 37, 55)])
@pytest.mark.parametrize("view", [None, 7, 2])
def test_plan_bytes_are_the_bytes_moved_for_any_width_and_view(dataflow, bits, shape, view):
    """The planner scores exactly what the event model moves, for sub-byte widths and im2col
    views (a_elements = view / ``view``) too, and a view's footprint is moved exactly once per
    pass over it (never less than the tensor)."""
    m, n, k = shape
    hw = machine(array={"dataflow": dataflow, "rows": 4, "cols": 4},
                 buffers={"ifmap": {"size_kib": 1}, "filter": {"size_kib": 1},
                          "ofmap": {"size_kib": 1}})
    extra = {"a_elements": max(1, m * k // view), "c_elements": max(1, m * n // view)} \
        if view else {}
    op = gemm(m, n, k, bits=bits, **extra)
    cost = simulate_gemm(hw, op)
    moved = sum(s.read_bytes + s.write_bytes for s in cost.dram.values())
    assert moved == cost.plan.dram_bytes
    a_reads = cost.dram["a"].read_bytes
    footprint = -(-op.footprint("a") * bits // 8)
    assert a_reads >= footprint
    if view:  # whole passes over the feature map
        assert a_reads % footprint == 0
