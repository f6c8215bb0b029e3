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
