"""The replay pipeline: ops -> costs -> schedule -> energy -> report.

A training trace repeats itself: every iteration runs the same ops unless a method changes a
width. The schedule is a state machine that does not care where time zero is, so the replay
places each iteration from its own origin (``rebase``) and remembers, for every iteration it
has placed, what it added to the report and the state it left. The same ops from the same
state add the same again, exactly: such an iteration is counted from memory rather than
placed op by op, and its ops' starts for the occupancy timeline come from memory too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import groupby
from operator import attrgetter
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


_ITER, _WORK = attrgetter("iter"), attrgetter("work")  # (read at every op of a trace)


def iterations(ops: Iterable[Any]) -> Iterator[list[Any]]:
    """The ops of a trace, cut where the iteration number changes."""
    for _, batch in groupby(ops, _ITER):
        yield list(batch)


def work_of(ops: Sequence[Any]) -> tuple:
    """What makes two iterations the same work: each op's place, signature and count
    (``Record.work``)."""
    return tuple(map(_WORK, ops))


class Replayer:
    """Places iterations on one machine into one report, from memory where it can.

    An iteration that starts from the state the previous one started from, doing the same
    work, repeats it exactly: a run of such iterations is counted once, times its length.
    While the occupancy timeline samples, a remembered iteration gives its samples from
    memory too (each op's start, relative to the iteration's origin)."""

    def __init__(self, hw: Hardware, report: Report, cache: CostCache, schedule: Schedule):
        self.hw, self.report, self.cache, self.schedule = hw, report, cache, schedule
        self.origin = 0.0  # absolute time of the schedule's origin
        self._energies: dict[tuple, float] = {}
        self._works: dict[tuple, int] = {}  # an iteration's work -> a small number
        # (work number, state before) -> (what it counted, its cycles, its energy, state after)
        self._memory: dict[tuple, tuple[list[tuple], float, float, tuple]] = {}
        # id of a remembered iteration (kept in ``_memory``) -> its samples (``samples_of``)
        self._samples: dict[int, tuple[list, int]] = {}

    def run(self, ops: Sequence[Any], iters: Iterable[int], work: Any = None) -> None:
        """Place ``ops``, one iteration's, once for each iteration number in ``iters``.
        ``work``, if given, names what ``ops`` do (``work_of``, worked out by a caller that
        replays the same iterations on many machines)."""
        if work is None:
            work = work_of(ops)
        number = self._works.setdefault(work, len(self._works))
        report, schedule = self.report, self.schedule
        last_before: tuple | None = None
        known: tuple | None = None
        repeats = 0  # iterations since ``known`` was counted that repeat it
        for it in iters:
            self.origin += schedule.rebase()
            before = schedule.state()
            placed = False
            if known is not None and before == last_before:
                repeats += 1  # the same work from the same state: the last one again
            else:
                self._count(known, repeats)
                repeats = 0
                known = self._memory.get((number, before))
                if known is None:
                    known = self._memory[(number, before)] = self._place(ops, it)
                    placed = True
                else:
                    repeats = 1
                last_before = before
            if not placed and report.sampling:
                self._sample(known)
            schedule.restore(known[3])
            report.iteration_cycles[it] += known[1]
            report.iteration_energy[it] += known[2]
            report.cycles = max(report.cycles, self.origin + schedule.end)
        self._count(known, repeats)

    def _count(self, known: tuple | None, times: int) -> None:
        if known is None or not times:
            return
        for key, op, cost, energy, executions, held, _, _ in known[0]:
            self.report.count_times(key, op, cost, energy, executions, held, times)

    def _sample(self, known: tuple) -> None:
        """The timeline's samples of a remembered iteration, as placing it gives them: at
        once while the whole iteration fits the timeline, op by op for the last one."""
        report = self.report
        run = self._samples.get(id(known))
        if run is None:
            run = self._samples[id(known)] = report.samples_of(
                [(cost, start, period, op.count) for _, op, cost, _, _, _, start, period
                 in known[0]])
        if report.sample_run(self.origin, *run):
            return
        for _, op, cost, _, _, _, start, period in known[0]:
            if not report.sampling:
                return
            report.sample_cost(cost, self.origin + start, period, op.count)

    def _op_energy(self, energy: Any, executions: int, held: float) -> float:
        """``op_energy``, remembered: a trace repeats a few hundred (op, time held) pairs."""
        key = (id(energy), executions, held)
        pj = self._energies.get(key)
        if pj is None:
            pj = self._energies[key] = op_energy(self.hw, energy, executions, held)
        return pj

    def _place(self, ops: Sequence[Any], it: int) -> tuple[list[tuple], float, float, tuple]:
        counted = []
        total = energy_pj = 0.0
        for op in ops:
            cost, energy = self.cache(op)
            start, period, held = self.schedule.place(op, cost)
            key = (id(cost), op.place())
            self.report.count_times(key, op, cost, energy, op.count, held, 1)
            if self.report.sampling:
                self.report.sample_cost(cost, self.origin + start, period, op.count)
            counted.append((key, op, cost, energy, op.count, held, start, period))
            total += held
            energy_pj += self._op_energy(energy, op.count, held)
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
    # An iteration doing new work is placed as it comes; the iterations after it doing the
    # same work are handed over together when the work changes, so that a run of repeats is
    # counted at once (``Replayer.run``), in the same order as one by one.
    first: list[Any] = []
    work: tuple | None = None
    repeats: list[int] = []
    for batch in iterations(ops):
        same = work_of(batch)
        if same == work:
            repeats.append(batch[0].iter)
        else:
            if repeats:
                replayer.run(first, repeats, work)
            first, work, repeats = batch, same, []
            replayer.run(batch, (batch[0].iter,), work)
        done += len(batch)
        if progress is not None:
            progress(done)
    if repeats:
        replayer.run(first, repeats, work)
    report.distinct_ops = cache.misses
    return report
