"""What simulating an op produces: its cycles, action counts, DRAM statistics and buffer
occupancy. Plain data, imported by the simulator that fills it and by the energy model, the
schedule and the reports that read it; it imports nothing of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DramStats:
    """Counters of everything the channel did; the energy model prices them."""

    read_bytes: int = 0  # bytes requested
    write_bytes: int = 0
    read_moved_bytes: int = 0  # bytes on the bus (whole bursts, over-fetch included)
    write_moved_bytes: int = 0
    activates: int = 0
    row_hits: int = 0
    row_misses: int = 0
    row_conflicts: int = 0
    busy_cycles: int = 0  # cycles the data bus carried this operand's bursts

    def add(self, other: DramStats, times: int = 1) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + times * getattr(other, name))


@dataclass
class Occupancy:
    """Bytes held in one buffer over time, as a step function."""

    capacity: int
    times: list[float] = field(default_factory=lambda: [0.0])
    levels: list[int] = field(default_factory=lambda: [0])

    def change(self, now: float, delta: int) -> None:
        level = self.levels[-1] + delta
        assert 0 <= level <= self.capacity, f"occupancy {level} outside [0, {self.capacity}]"
        if self.times[-1] == now:
            self.levels[-1] = level
        else:
            self.times.append(now)
            self.levels.append(level)

    @property
    def peak(self) -> int:
        return max(self.levels)

    def level_at(self, when: float) -> int:
        """The level from ``when`` on (after any change at ``when``)."""
        level = self.levels[0]
        for time, value in zip(self.times, self.levels, strict=True):
            if time > when:
                break
            level = value
        return level

    def most(self, start: float, end: float) -> int:
        """The highest level over [start, end]."""
        highest = self.level_at(start)
        for time, value in zip(self.times, self.levels, strict=True):
            if start < time <= end:
                highest = max(highest, value)
        return highest

    def integral(self, end: float) -> float:
        """Byte-cycles held up to ``end`` (the time-weighted mean is this over ``end``)."""
        total = 0.0
        for n, t in enumerate(self.times):
            nxt = self.times[n + 1] if n + 1 < len(self.times) else end
            total += self.levels[n] * (nxt - t)
        return total


@dataclass
class OpCost:
    """Everything one execution of one op did; the energy model and reports read it."""

    cycles: int = 0
    compute_cycles: int = 0
    stall_cycles: dict[str, int] = field(default_factory=dict)  # by cause
    macs: int = 0
    busy_pe_cycles: int = 0  # PE-cycles spent on useful beats (utilisation numerator)
    sram_bits: dict[tuple[str, str], int] = field(default_factory=dict)  # (operand, read|write)
    dram: dict[str, DramStats] = field(default_factory=dict)  # by operand a, b, c or transfer
    occupancy: dict[str, Occupancy] = field(default_factory=dict)  # by buffer
    plan: Any = None  # the tiling plan of a GEMM (sim.tiling.Plan)
    spans: list[tuple[str, str, float, float]] = field(default_factory=list)  # unit, what, t0, t1
    profile: Any = None  # OpProfile: what an overlapping schedule reads


@dataclass(frozen=True, eq=False)
class OpProfile:
    """When in an op the array and the DRAM channel are busy, as the overlapping schedule
    needs it (cycles from the op's start):

    - ``lead``: before the array first computes (the first loads; the array idles);
    - ``trail``: after the array last computes (the last write-backs; the array idles);
    - ``idle_tail``: at the end of the computing window, the DRAM idles this long;
    - ``slack``: the DRAM's other idle time inside the computing window;
    - ``compute``/``dram``: busy cycles of the array (or vector unit) and of the channel;
    - ``unit``: the compute unit busy (``array`` or ``vector``); ``fused``: the op works on
      values the ops before it are producing (a vector epilogue), so it may run beside them."""

    lead: float = 0.0
    trail: float = 0.0
    idle_tail: float = 0.0
    slack: float = 0.0
    compute: float = 0.0
    dram: float = 0.0
    unit: str = "array"
    fused: bool = False
    # bytes each SRAM holds: when the array starts (what the lead loaded), during the idle
    # tail, during the trail, and at most (an overlap must fit beside them)
    lead_held: dict[str, int] = field(default_factory=dict)
    tail_held: dict[str, int] = field(default_factory=dict)
    trail_held: dict[str, int] = field(default_factory=dict)
    peak_held: dict[str, int] = field(default_factory=dict)


def _union(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Length of the union of intervals, clipped to [lo, hi]."""
    total, reach = 0.0, lo
    for start, end in sorted(intervals):
        start, end = max(start, reach), min(end, hi)
        if end > start:
            total += end - start
            reach = end
    return total


def profile(cycles: float, compute: list[tuple[float, float]],
            dram: list[tuple[float, float]], dram_busy: float,
            occupancy: dict[str, Occupancy] | None = None) -> OpProfile:
    """An op's ``OpProfile`` from its busy intervals (array or vector unit, and DRAM) and the
    occupancy of its SRAMs."""
    occupancy = occupancy or {}
    peak = {name: occ.peak for name, occ in occupancy.items()}
    if not compute:  # a pure DRAM op (a transfer): all lead
        return OpProfile(lead=cycles, dram=dram_busy, peak_held=peak)
    first = min(start for start, _ in compute)
    last = max(end for _, end in compute)
    end_of_dram = max((min(end, last) for start, end in dram if start < last), default=first)
    idle_tail = last - max(first, end_of_dram)
    busy_inside = _union(dram, first, last)
    slack = max(0.0, (last - first) - busy_inside - idle_tail)
    return OpProfile(
        lead=first, trail=max(0.0, cycles - last), idle_tail=idle_tail, slack=slack,
        compute=_union(compute, 0.0, cycles), dram=dram_busy,
        lead_held={n: o.level_at(first) for n, o in occupancy.items()},
        tail_held={n: o.most(last - idle_tail, last) for n, o in occupancy.items()},
        trail_held={n: o.most(last, cycles) for n, o in occupancy.items()}, peak_held=peak)
