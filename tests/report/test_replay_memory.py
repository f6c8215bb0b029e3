"""The replay's memory of iterations: a trace placed iteration by iteration from memory gives
the report of placing every op, on both schedules, with fused vector work and width changes."""

import pytest

from accelsim.hardware import load_hardware
from accelsim.replay import CostCache, placed_ops, replay, schedule_for
from accelsim.report.summary import Report
from accelsim.trace import Header
from accelsim.trace.synthetic import lenet5_mnist, narrowing_trace


def mixed_trace():
    return narrowing_trace(lenet5_mnist(16), 6)


def op_by_op(hw, ops):
    """The reference: every op placed and added, nothing remembered."""
    report = Report(hw, Header())
    for placed in placed_ops(hw, ops, CostCache(hw), schedule_for(hw)):
        report.add(placed)
    return report.to_json()


def close(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-6), path
    else:
        assert a == b, path


@pytest.mark.parametrize("overrides", [[], ["schedule.overlap_ops=false"],
                                       ["array.dataflow=os", "array.rows=8"]])
def test_remembered_iterations_equal_placing_every_op(overrides):
    hw = load_hardware("edge-16x16", overrides)
    ops = mixed_trace()
    remembered = replay(hw, ops, timeline=False).to_json()
    reference = op_by_op(hw, ops)
    del remembered["buffers"], reference["buffers"]  # mean occupancy: checked below
    remembered.pop("distinct_ops"), reference.pop("distinct_ops")
    close(remembered, reference)


def test_the_timeline_is_the_same_with_memory():
    hw = load_hardware("edge-16x16")
    ops = mixed_trace()
    a, b = replay(hw, ops), Report(hw, Header())
    for placed in placed_ops(hw, ops, CostCache(hw), schedule_for(hw)):
        b.add(placed)
    assert a.timeline == b.timeline
    close(a.to_json()["buffers"], b.to_json()["buffers"])


@pytest.mark.parametrize("overrides", [[], ["schedule.overlap_ops=false"]])
def test_energy_and_cycles_by_iteration_partition_the_totals(overrides):
    hw = load_hardware("edge-16x16", overrides)
    doc = replay(hw, mixed_trace(), timeline=False).to_json()
    assert len(doc["energy_pj_by_iteration"]) == len(doc["cycles_by_iteration"]) == 6
    assert sum(doc["energy_pj_by_iteration"]) == pytest.approx(doc["energy_pj"]["total"],
                                                               rel=1e-12)
    assert sum(doc["cycles_by_iteration"]) == pytest.approx(doc["total_cycles"], rel=1e-12)


def eager_timeline(hw, ops, limit):
    """The timeline as every placed op's changes, expanded one execution at a time until
    ``limit`` changes are kept (the last execution whole)."""
    from accelsim.hardware.model import BUFFERS

    deltas = []
    for placed in placed_ops(hw, ops, CostCache(hw), schedule_for(hw)):
        cost = placed.cost
        for rep in range(placed.op.count):
            if len(deltas) >= limit:
                break
            offset = placed.start + rep * placed.period
            for index, name in enumerate(BUFFERS):
                occ, previous = cost.occupancy[name], 0
                for time, level in zip(occ.times, occ.levels, strict=True):
                    if level != previous:
                        deltas.append((offset + time, index, level - previous))
                        previous = level
                if previous:
                    deltas.append((offset + cost.cycles, index, -previous))
    levels, out = [0] * len(BUFFERS), []
    for time, index, delta in sorted(deltas):
        levels[index] += delta
        if out and out[-1][0] == time:
            out[-1] = (time, *levels)
        else:
            out.append((float(time), *levels))
    return out


def repeating_trace():
    """Iterations doing the same work: placed once, then counted and sampled from memory (a
    whole iteration at once while it fits the timeline)."""
    from accelsim.trace.synthetic import training_trace

    return training_trace(lenet5_mnist(16), 40)


@pytest.mark.parametrize("trace", [mixed_trace, repeating_trace])
@pytest.mark.parametrize("limit", [1, 37, 500, 5000, 20000])
def test_the_timeline_is_each_executions_changes_up_to_its_limit(monkeypatch, limit, trace):
    """The report keeps a cost's changes once and offsets them when the timeline is asked
    for: the same samples as expanding each execution as it is placed, cut at the limit."""
    from accelsim.report import summary

    monkeypatch.setattr(summary, "TIMELINE_POINTS", limit)
    hw = load_hardware("edge-16x16")
    ops = trace()
    assert replay(hw, ops).timeline == eager_timeline(hw, ops, limit)
