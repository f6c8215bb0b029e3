"""The replay pipeline: ops -> costs -> schedule -> energy -> report.

A training trace repeats itself: every iteration runs the same ops unless a method changes a
width. The schedule is a state machine that does not care where time zero is, so the replay
places each iteration from its own origin (``rebase``) and remembers, for every iteration it
has placed, what it added to the report and the state it left. The same ops from the same
state add the same again, exactly: such an iteration is counted from memory rather than
placed op by op. The first iterations, whose placements the occupancy timeline samples, are
always placed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from accelsim.hardware.model import Hardware
from accelsim.replay.cache import CostCache
from accelsim.replay.schedule import OverlapSchedule, Placed, SerialSchedule, schedule_for
from accelsim.report.summary import Report, op_energy
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


def iterations(ops: Iterable[Any]) -> Iterator[list[Any]]:
    """The ops of a trace, cut where the iteration number changes."""
    batch: list[Any] = []
    for op in ops:
        if batch and op.iter != batch[-1].iter:
            yield batch
            batch = []
        batch.append(op)
    if batch:
        yield batch


class Replayer:
    """Places iterations on one machine into one report, from memory where it can."""

    def __init__(self, hw: Hardware, report: Report, cache: CostCache, schedule: Schedule):
        self.hw, self.report, self.cache, self.schedule = hw, report, cache, schedule
        self.origin = 0.0  # absolute time of the schedule's origin
        # (work, state before) -> (what it counted, its cycles, its energy, state after)
        self._memory: dict[tuple, tuple[list[tuple], float, float, tuple]] = {}

    def run(self, ops: Sequence[Any], iters: Iterable[int]) -> None:
        """Place ``ops``, one iteration's, once for each iteration number in ``iters``."""
        work = tuple((op.place(), op.signature(), op.count) for op in ops)
        for it in iters:
            self.origin += self.schedule.rebase()
            before = self.schedule.state()
            known = None if self.report.sampling else self._memory.get((work, before))
            if known is None:
                known = self._memory[(work, before)] = self._place(ops, it)
            else:
                counted, _, _, after = known
                for op, cost, energy, executions, held in counted:
                    self.report.count(op, cost, energy, executions, held)
                self.schedule.restore(after)
            self.report.iteration_cycles[it] += known[1]
            self.report.iteration_energy[it] += known[2]
            self.report.cycles = max(self.report.cycles, self.origin + self.schedule.end)

    def _place(self, ops: Sequence[Any], it: int) -> tuple[list[tuple], float, float, tuple]:
        counted = []
        total = energy_pj = 0.0
        for op in ops:
            cost, energy = self.cache(op)
            start, period, held = self.schedule.place(op, cost)
            placed = Placed(op, cost, energy, self.origin + start, period, held)
            self.report.count(op, cost, energy, op.count, held)
            if self.report.sampling:
                self.report.sample(placed)
            counted.append((op, cost, energy, op.count, held))
            total += held
            energy_pj += op_energy(self.hw, energy, op.count, held)
        return counted, total, energy_pj, self.schedule.state()


def replay(hw: Hardware, ops: Iterable[Any], header: Header | None = None,
           progress: Callable[[int], None] | None = None,
           cache: CostCache | None = None, schedule: Schedule | None = None, *,
           timeline: bool = True) -> Report:
    """Price every op of a trace on ``hw`` and gather the report (``timeline``: sample the
    buffers' occupancy of the first placements)."""
    cache = cache or CostCache(hw)
    report = Report(hw, header or Header(), timeline=timeline)
    replayer = Replayer(hw, report, cache, schedule or schedule_for(hw))
    done = 0
    for batch in iterations(ops):
        replayer.run(batch, (batch[0].iter,))
        done += len(batch)
        if progress is not None:
            progress(done)
    report.distinct_ops = cache.misses
    return report
