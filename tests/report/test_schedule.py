"""The schedule owns time: serial ops back to back; overlapped neighbours never slower than
serial and never faster than the compute-bound or the DRAM-bound time."""

from itertools import pairwise

import pytest

from accelsim.hardware import load_hardware
from accelsim.replay import CostCache, OverlapSchedule, SerialSchedule, placed_ops, replay
from accelsim.trace.records import Gemm, Transfer, Vector
from accelsim.trace.synthetic import lenet5_mnist, training_trace


def _ops():
    ops = list(training_trace(lenet5_mnist(16), 2))
    ops += [Vector(iter=2, layer="bn", phase="fwd", kind="batchnorm", elements=50_000,
                   in_bits=8, out_bits=8, ops=6),
            Gemm(iter=2, layer="fc", phase="fwd", m=64, n=512, k=512, a_bits=8, b_bits=8,
                 acc_bits=32, c_bits=8, count=3),
            Transfer(iter=2, layer="fc", tensor="weights", dir="read", elements=200_000, bits=8)]
    # an epilogue chain after a GEMM, and a long one that outlasts its GEMM
    ops += [Gemm(iter=2, layer="fc2", phase="fwd", m=512, n=64, k=256, a_bits=8, b_bits=8,
                 acc_bits=32, c_bits=8),
            _fused("bias_add", 32_768, 1), _fused("relu", 32_768, 1),
            _fused("quantize", 32_768, 40, count=2)]
    return ops


def _fused(kind, elements, ops, count=1, layer="fc2"):
    return Vector(iter=2, layer=layer, phase="fwd", kind=kind, elements=elements, in_bits=8,
                  out_bits=8, ops=ops, fused=True, count=count)


MACHINES = [[], ["array.rows=8", "array.cols=8"], ["array.dataflow=os"],
            ["dram.lpddr4.data_rate_mtps=800"], ["buffers.ifmap.size_kib=8",
                                                 "buffers.filter.size_kib=8"],
            ["buffers.ofmap.double_buffered=false"], ["vector.lanes=2"]]


@pytest.mark.parametrize("overrides", MACHINES)
def test_overlap_is_bounded_by_serial_and_by_each_resource(overrides):
    hw = load_hardware("edge-16x16", overrides)
    ops = _ops()
    cache = CostCache(hw)
    serial = replay(hw, ops, cache=cache, schedule=SerialSchedule()).cycles
    overlapped = replay(hw, ops, cache=cache, schedule=OverlapSchedule(hw)).cycles
    busy = {"array": 0.0, "vector": 0.0}
    for op in ops:
        busy[cache(op)[0].profile.unit] += op.count * cache(op)[0].profile.compute
    dram = sum(op.count * cache(op)[0].profile.dram for op in ops)
    assert overlapped <= serial
    # two compute units: the busier one bounds the time, as does the channel
    assert overlapped >= max(busy["array"], busy["vector"], dram) - 1e-6
    if overrides == []:  # the default machine does hide some loads
        assert overlapped < serial


def test_serial_schedule_places_ops_back_to_back(default_hw):
    ends = []
    for placed in placed_ops(default_hw, _ops(), schedule=SerialSchedule()):
        if ends:
            assert placed.start == ends[-1]
        assert placed.period == placed.cost.cycles
        ends.append(placed.end)


def test_overlapped_times_partition_the_run(default_hw):
    """Each placed op holds the time it adds to the run: they sum to the latency, and the
    breakdowns by layer and phase still partition the totals."""
    report = replay(default_hw, _ops(), schedule=OverlapSchedule(default_hw))
    doc = report.to_json()
    assert doc["total_cycles"] == sum(doc["cycles_by_layer"].values())
    assert doc["total_cycles"] == doc["compute_cycles"] + doc["stall_cycles"]
    assert doc["stall_cycles_by_cause"].get("overlap", 0) <= 0
    total = doc["energy_pj"]["total"]
    assert total == pytest.approx(sum(v["total"] for v in doc["energy_pj_by_layer"].values()))
    assert total == pytest.approx(sum(doc["energy_pj_by_kind"].values()))


@pytest.mark.parametrize("overrides", MACHINES)
def test_overlapping_ops_never_overfill_a_buffer(overrides):
    """Two ops overlap only if their blocks fit the SRAMs together: the replay's occupancy
    (overlapping ops added up) stays within every buffer's capacity."""
    hw = load_hardware("edge-16x16", overrides)
    report = replay(hw, _ops(), schedule=OverlapSchedule(hw))
    caps = [hw.buffer(name).size_bytes for name in ("ifmap", "filter", "ofmap")]
    assert report.timeline
    for _, *levels in report.timeline:
        assert all(0 <= level <= cap for level, cap in zip(levels, caps, strict=True))


def test_no_prefetch_without_room():
    """A machine whose SRAMs are full at the end of every op gets no prefetch overlap."""
    from accelsim.replay.schedule import overlap
    from accelsim.sim.costs import OpProfile

    hw = load_hardware("edge-16x16")
    full = {name: hw.buffer(name).size_bytes for name in ("ifmap", "filter", "ofmap")}
    before = OpProfile(lead=10, idle_tail=500, trail=0, tail_held=full)
    after = OpProfile(lead=300, slack=0, lead_held={"ifmap": 1})
    assert overlap(hw, before, after) == 0
    assert overlap(hw, OpProfile(idle_tail=500), after) == 300


def test_a_fused_epilogue_runs_beside_its_gemm():
    """A short epilogue hides under the GEMM it follows; a chain of them takes its turns on
    the vector unit; one longer than the GEMM sets the end; none starts before the GEMM
    computes, and the overlap saves at most the GEMM's computing window."""
    hw = load_hardware("edge-16x16")
    gemm = Gemm(iter=0, layer="fc2", phase="fwd", m=2048, n=64, k=256, a_bits=8, b_bits=8,
                acc_bits=32, c_bits=8)
    short = [_fused("bias_add", 4096, 1), _fused("relu", 4096, 1)]
    placed = list(placed_ops(hw, [gemm, *short], schedule=OverlapSchedule(hw)))
    g, bias, relu = placed
    assert bias.start >= g.start + g.cost.profile.lead
    assert relu.start >= bias.end  # one vector unit: the chain takes turns
    assert relu.end <= g.end
    assert bias.held == relu.held == 0  # hidden: the run ends when the GEMM does
    long = _fused("quantize", 131_072, 60)
    placed = list(placed_ops(hw, [gemm, long], schedule=OverlapSchedule(hw)))
    g, q = placed
    assert q.start == pytest.approx(g.start + g.cost.profile.lead)  # as soon as values come
    assert q.end > g.end and q.held == pytest.approx(q.end - g.end)
    serial = list(placed_ops(hw, [gemm, long], schedule=SerialSchedule()))
    assert serial[-1].end - q.end == pytest.approx(g.end - g.start - g.cost.profile.lead)


def test_the_machine_chooses_its_schedule():
    from accelsim.replay import schedule_for

    assert isinstance(schedule_for(load_hardware("edge-16x16")), OverlapSchedule)
    assert isinstance(schedule_for(load_hardware("scalesim-like")), SerialSchedule)


@pytest.mark.parametrize("overrides", [[], ["array.dataflow=os", "array.rows=8"],
                                       ["dram.lpddr4.data_rate_mtps=800"]])
def test_computing_never_moves_back(overrides):
    """What lets ``rebase`` keep a vector unit's old free time as ``computing``: each unfused
    op starts computing no earlier than the one before it did (fused ops leave it be)."""
    from accelsim.trace.synthetic import narrowing_trace

    hw = load_hardware("edge-16x16", ["schedule.overlap_ops=true", *overrides])
    schedule, cache = OverlapSchedule(hw), CostCache(hw)
    seen = []
    for op in [*_ops(), *narrowing_trace(lenet5_mnist(16), 3)]:
        schedule.place(op, cache(op)[0])
        seen.append(schedule.computing)
    assert all(a <= b for a, b in pairwise(seen))
