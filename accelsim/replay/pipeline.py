"""The replay pipeline: ops -> costs -> schedule -> energy -> report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from accelsim.hardware.model import Hardware
from accelsim.replay.cache import CostCache
from accelsim.replay.schedule import OverlapSchedule, Placed, SerialSchedule, schedule_for
from accelsim.report.summary import Report
from accelsim.trace.records import Header

Schedule = SerialSchedule | OverlapSchedule


def placed_ops(hw: Hardware, ops: Iterable[Any], cache: CostCache | None = None,
               schedule: Schedule | None = None) -> Iterator[Placed]:
    """Every op with its cost and action energy, placed in time by ``schedule`` (by default
    the one the machine asks for)."""
    cache = cache or CostCache(hw)
    schedule = schedule or schedule_for(hw)
    for op in ops:
        cost, actions = cache(op)
        start, period, held = schedule.place(op, cost)
        yield Placed(op, cost, actions, start, period, held)


def replay(hw: Hardware, ops: Iterable[Any], header: Header | None = None,
           progress: Callable[[int], None] | None = None,
           cache: CostCache | None = None, schedule: Schedule | None = None) -> Report:
    """Price every op of a trace on ``hw`` and gather the report."""
    cache = cache or CostCache(hw)
    report = Report(hw, header or Header())
    for n, placed in enumerate(placed_ops(hw, ops, cache, schedule), start=1):
        report.add(placed)
        if progress is not None:
            progress(n)
    report.distinct_ops = cache.misses
    return report
