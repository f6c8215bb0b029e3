"""When each op runs: the one owner of op start and end times.

The report, the timeline and the time-proportional energy all read a ``Placed`` op's times;
nothing else assumes how ops follow each other.

- ``SerialSchedule`` runs ops one after the other, each from empty buffers and an idle channel
  (the price of caching op costs): its totals do not depend on op order, so a sweep may merge
  identical ops (``order_free``).
- ``OverlapSchedule`` (``schedule.overlap_ops``) lets neighbours overlap where the machine
  allows, from each op's ``OpProfile``: the next op's first loads run while this one computes
  with its channel idle (prefetch), and this op's last write-backs run while the next one
  computes with its channel idle (drain), each only if the SRAMs have room for both ops'
  blocks at once. Each idle interval is lent once, so the overlapped latency is
  never above the serial one and never below the larger of the compute-bound and the
  DRAM-bound time. Its totals depend on which op follows which, so a sweep merges op pairs
  (``overlap``), not ops.

  A fused vector op (an epilogue or prologue working on values the ops before it produce)
  runs on the vector unit beside them: from when the op it follows began computing, after the
  unit's previous work. The array and the vector unit are two compute units, so the compute
  bound is the busier one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accelsim.energy.model import Energy
from accelsim.sim.costs import OpCost, OpProfile


@dataclass(frozen=True)
class Placed:
    """An op with its cost and action energy per execution, placed in time.

    Its ``op.count`` executions start ``period`` cycles apart from ``start``, each lasting
    ``cost.cycles``; ``held`` is the time the placed op adds to the run (its executions' time
    not shared with the op before it), which its share of the latency and of the
    time-proportional energy is counted for."""

    op: Any
    cost: OpCost
    energy: Energy  # actions of one execution
    start: float
    period: float
    held: float

    @property
    def end(self) -> float:
        return self.start + self.cost.cycles + (self.op.count - 1) * self.period


class SerialSchedule:
    """Ops back to back, each execution after the last one ends."""

    order_free = True  # totals are independent of op order

    def __init__(self, hw: Any = None) -> None:
        self.now = 0.0

    def place(self, op: Any, cost: OpCost) -> tuple[float, float, float]:
        """(start, period, held) for ``op``'s executions."""
        start = self.now
        self.now += op.count * cost.cycles
        return start, cost.cycles, op.count * cost.cycles

    @property
    def end(self) -> float:
        return self.now

    def rebase(self) -> float:
        """Move the time origin to the present (all that comes next is placed relative to
        it); returns the shift."""
        shift, self.now = self.now, 0.0
        return shift

    def state(self) -> tuple:
        """What the next placements depend on, relative to the origin (``rebase``)."""
        return (self.now,)

    def restore(self, state: tuple) -> None:
        (self.now,) = state


def overlap(hw: Any, before: OpProfile | None, after: OpProfile | None) -> float:
    """Cycles two consecutive ops may share: ``after``'s first loads under ``before``'s idle
    channel at the end of its computing, if the SRAMs have room for them beside what
    ``before`` still holds then; and ``before``'s last write-backs under ``after``'s idle
    channel while it computes, if what they hold fits beside ``after``'s peak."""
    if before is None or after is None:
        return 0.0

    def room(held: dict[str, int], more: dict[str, int]) -> bool:
        return all(held.get(name, 0) + more.get(name, 0) <= hw.buffer(name).size_bytes
                   for name in set(held) | set(more))

    prefetch = (min(after.lead, before.idle_tail)
                if room(before.tail_held, after.lead_held) else 0.0)
    drain = min(before.trail, after.slack) if room(before.trail_held, after.peak_held) else 0.0
    return float(int(prefetch + drain))  # whole cycles


class OverlapSchedule:
    """Consecutive ops overlap as ``overlap`` allows (``schedule.overlap_ops: true``); fused
    vector ops run beside the op whose values they work on."""

    order_free = False  # the overlap depends on which op follows which

    def __init__(self, hw: Any) -> None:
        self.hw = hw
        self._shared: dict[tuple, float] = {}  # (profile before, profile after) -> overlap
        self.end = 0.0  # when the last execution placed ends
        self.last: OpProfile | None = None  # the op ending last
        self.computing = 0.0  # when the last unfused op began computing
        self.vector_free = 0.0  # when the vector unit is next free

    def rebase(self) -> float:
        """Move the time origin to the present (see ``SerialSchedule.rebase``).

        The vector unit's free time is only ever read as ``max(vector_free, computing)``,
        and ``computing`` never moves back (an op starts computing after the one before it
        did: its start is at least the previous end less what they share, which is at most
        the previous op's idle tail and trail), so a free time before ``computing`` is kept
        as ``computing``: nothing placed changes, and a trace without vector work does not
        carry an ever older free time that would make every iteration's state new."""
        shift = self.end
        self.end, self.computing = 0.0, self.computing - shift
        self.vector_free = max(self.vector_free - shift, self.computing)
        return shift

    def state(self) -> tuple:
        return (self.end, self.last, self.computing, self.vector_free)

    def restore(self, state: tuple) -> None:
        self.end, self.last, self.computing, self.vector_free = state

    def place(self, op: Any, cost: OpCost) -> tuple[float, float, float]:
        p = cost.profile
        if p is not None and p.fused:
            return self._beside(op, cost)
        shared = self._overlap(self.last, p)
        start = self.end - shared
        period = cost.cycles - self._overlap(p, p)
        end = start + cost.cycles + (op.count - 1) * period
        held = end - self.end
        self.end, self.last = end, p
        self.computing = start + (p.lead if p is not None else 0.0)
        if p is not None and p.unit == "vector":
            self.vector_free = end
        return start, period, held

    def _overlap(self, before: OpProfile | None, after: OpProfile | None) -> float:
        """``overlap``, remembered by pair (profiles are compared by identity: one per
        distinct op cost, and a trace pairs a few dozen of them again and again)."""
        key = (before, after)
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = overlap(self.hw, before, after)
        return shared

    def _beside(self, op: Any, cost: OpCost) -> tuple[float, float, float]:
        """A fused op on the vector unit, from when its producer began computing (its values
        come tile by tile) or when the unit is free. The producer's last tile's epilogue,
        after the producer ends, is not charged: a chunk of the unit's work, against the
        whole op's."""
        total = op.count * cost.cycles
        start = max(self.vector_free, self.computing)
        end = start + total
        held = max(0.0, end - self.end)
        if end >= self.end:
            self.end, self.last = end, cost.profile
        self.vector_free = end
        return start, cost.cycles, held


def schedule_for(hw: Any) -> SerialSchedule | OverlapSchedule:
    """The schedule a machine asks for (``schedule.overlap_ops``)."""
    return OverlapSchedule(hw) if hw.schedule.overlap_ops else SerialSchedule(hw)
