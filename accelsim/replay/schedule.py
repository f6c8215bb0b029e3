"""When each op runs: the one owner of op start and end times.

The report, the timeline and the time-proportional energy all read a ``Placed`` op's times;
nothing else assumes how ops follow each other. ``SerialSchedule`` runs ops one after the
other, each starting with empty buffers and closed DRAM rows (the price of caching op costs):
its totals do not depend on op order, so a sweep may merge identical ops (``order_free``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accelsim.energy.model import Energy
from accelsim.sim.costs import OpCost


@dataclass(frozen=True)
class Placed:
    """An op with its cost and energy per execution, placed in time.

    Its ``op.count`` executions start ``period`` cycles apart from ``start``; each holds the
    machine for ``held`` cycles (the time its static energy and its share of the total latency
    are counted for)."""

    op: Any
    cost: OpCost
    energy: Energy
    start: float
    period: float
    held: float

    @property
    def end(self) -> float:
        return self.start + self.op.count * self.period


class SerialSchedule:
    """Ops back to back, each execution after the last one ends."""

    order_free = True  # totals are independent of op order

    def __init__(self) -> None:
        self.now = 0

    def place(self, op: Any, cost: OpCost) -> tuple[float, float, float]:
        """(start, period, held) for ``op``'s executions."""
        start = self.now
        self.now += op.count * cost.cycles
        return start, cost.cycles, cost.cycles
