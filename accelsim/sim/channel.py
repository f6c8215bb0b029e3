"""The DRAM channel as the event model sees it during one op: requests in, when they complete
out (array cycles), and the counts the energy model prices.

Wraps the configured DRAM model: ``lpddr4``, a controller with queues, open rows, bank
parallelism across requests and read/write turnarounds (``controller.py``), or SCALE-Sim's
``fixed_bandwidth``, a bus that moves a fixed number of words per cycle after a fixed latency.
Requests are not serialised here: the DMA engine hands them over as buffer slots allow and
the controller decides when each burst goes.

Refresh is not simulated inside an op, whose cost must not depend on when it runs (op costs
are cached): an all-bank refresh every tREFI takes the channel for tRFC, plus closing and
reopening the rows it interrupts (tRP + tRCD), so an op's DRAM time stretches by that share
(``refresh_stall``), and the replay charges its energy over time (``energy.time_energy``).
``accelsim dram`` runs the controller on its running clock, refresh included.

Operands live in separate regions, one GiB apart and each starting a few banks further on,
row-major (A is M x K, B is K x N, C is M x N).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property, lru_cache
from itertools import accumulate
from math import ceil, gcd
from typing import Any

from accelsim.errors import SimulationError
from accelsim.hardware.model import Hardware
from accelsim.sim.controller import ControllerStats, DramController, Run
from accelsim.sim.costs import DramStats, OpCost, profile
from accelsim.sim.dram import MAX_REQUEST_PIECES, DramTiming, request_pieces

REGION_BYTES = 1 << 30
OPERAND_REGION = {"a": 0, "b": 1, "c": 2, "transfer": 0, "vector": 0}


class Channel:
    """One op's DRAM channel. ``read``/``write`` take a request at array cycle ``now`` and
    return the cycle it completes (a write: when the controller accepted it); ``flush``
    returns when everything is done. ``stats`` holds the counts by operand."""

    def __init__(self, hw: Hardware):
        self.hw = hw
        self.model = hw.dram.model
        self.cycle_ns = hw.cycle_ns
        self.stats: dict[str, DramStats] = {}
        self.busy: list[tuple[float, float]] = []  # (submitted, completed) of each request
        self._bus_free = 0.0  # fixed_bandwidth: when the bus is next free
        if self.model == "lpddr4":
            t = self.hw.dram.lpddr4
            assert t is not None
            self.timing, op_timing = _timings(t)
            self.controller = DramController(op_timing)
            self.ratio = self.timing.tck_ns / self.cycle_ns  # array cycles per tCK
            self._burst = self.timing.burst_bytes
            self._per_row = self.timing.row_bytes // self._burst
            self._banks = self.timing.banks
            self._row_region = 3 * self.timing.row_bytes

    @cached_property
    def timing(self) -> DramTiming:
        t = self.hw.dram.lpddr4
        assert t is not None
        return _timings(t)[0]

    # ---- requests ---------------------------------------------------------------------------

    def read(self, now: float, operand: str, base: int, chunks: int, chunk_bytes: int,
             stride_bytes: int) -> float:
        return self._request(now, operand, base, chunks, chunk_bytes, stride_bytes, False)

    def write(self, now: float, operand: str, base: int, chunks: int, chunk_bytes: int,
              stride_bytes: int) -> float:
        return self._request(now, operand, base, chunks, chunk_bytes, stride_bytes, True)

    def flush(self, now: float) -> float:
        """When every request, buffered writes included, is done."""
        if self.model != "lpddr4":
            return max(now, self._bus_free)
        if self.controller.buffered:
            before = _snapshot(self.controller.stats)
            self.controller.flush_writes()
            self._count(self._last_write_operand, before)
        return max(now, self.controller.done * self.ratio)

    def _request(self, now: float, operand: str, base: int, chunks: int, chunk_bytes: int,
                 stride_bytes: int, write: bool) -> float:
        requested = chunks * chunk_bytes
        stats = self._stats_of(operand)
        if write:
            stats.write_bytes += requested
        else:
            stats.read_bytes += requested
        if self.model == "fixed_bandwidth":
            fb = self.hw.dram.fixed_bandwidth
            assert fb is not None
            start = max(now, self._bus_free)
            self._bus_free = start + ceil(requested * 8 / (fb.words_per_cycle * fb.word_bits))
            done = self._bus_free + fb.latency_cycles
            if write:
                stats.write_moved_bytes += requested
            else:
                stats.read_moved_bytes += requested
            stats.busy_cycles += ceil(self._bus_free - start)
            self.busy.append((now, done))
            return done
        t = self.timing
        if request_pieces(t, chunk_bytes, stride_bytes, chunks) > MAX_REQUEST_PIECES:
            raise SimulationError(f"a DRAM request of {chunks:,} chunks of {chunk_bytes:,} bytes "
                                  f"every {stride_bytes:,} bytes touches more than "
                                  f"{MAX_REQUEST_PIECES:,} row segments, the simulator's limit "
                                  "per request")
        address = OPERAND_REGION[operand] * (REGION_BYTES + self._row_region) + base
        arrival = int(now / self.ratio)
        runs = self.runs(address, chunks, chunk_bytes, stride_bytes, write, arrival)
        before = _snapshot(self.controller.stats)
        if write:
            self._last_write_operand = operand
            done_tck = self.controller.write(arrival, runs)
        else:
            done_tck = self.controller.read(arrival, runs)
        self._count(operand, before)
        done = max(now, done_tck * self.ratio)
        self.busy.append((now, done))
        return done

    _last_write_operand = "c"

    def runs(self, address: int, chunks: int, chunk_bytes: int, stride_bytes: int, write: bool,
             arrival: int) -> list[Run]:
        """The bursts of a strided request, as runs per row in address order (chunks sharing
        a burst fetch it once)."""
        burst, per_row, banks = self._burst, self._per_row, self._banks
        out: list[Run] = []
        if stride_bytes - chunk_bytes < burst:  # one contiguous range of bursts
            b, last = address // burst, (address + (chunks - 1) * stride_bytes + chunk_bytes
                                         - 1) // burst
            while b <= last:  # row by row
                page = b // per_row
                end = min(last, (page + 1) * per_row - 1)
                out.append(Run(page % banks, page // banks, end - b + 1, write, arrival))
                b = end + 1
            return out
        pages = (stride_bytes * chunks) // (burst * per_row) + 2  # pages it spans, at most
        if chunks >= STRIDED_CLOSED_FORM and 4 * pages <= chunks:
            return [Run(page % banks, page // banks, bursts, write, arrival)
                    for page, bursts in strided_pages(address, chunks, chunk_bytes,
                                                      stride_bytes, burst, per_row)]
        previous = -1  # the page of the last run (a page is one bank's row)
        for lo in range(address, address + chunks * stride_bytes, stride_bytes):
            # chunk by chunk: gaps of a burst or more, none sharing one
            b, last = lo // burst, (lo + chunk_bytes - 1) // burst
            page = b // per_row
            if last // per_row == page:  # mostly: the chunk lies in one page
                if page == previous:
                    out[-1].bursts += last - b + 1
                else:
                    out.append(Run(page % banks, page // banks, last - b + 1, write, arrival))
                    previous = page
                continue
            while b <= last:
                page = b // per_row
                end = min(last, (page + 1) * per_row - 1)
                if page == previous:
                    out[-1].bursts += end - b + 1
                else:
                    out.append(Run(page % banks, page // banks, end - b + 1, write, arrival))
                    previous = page
                b = end + 1
        return out

    def _stats_of(self, operand: str) -> DramStats:
        """``operand``'s counts, made at its first request (not a new default each call)."""
        stats = self.stats.get(operand)
        if stats is None:
            stats = self.stats[operand] = DramStats()
        return stats

    def _count(self, operand: str, before: tuple[int, ...]) -> None:
        """Add what the controller did since ``before`` (a ``_snapshot``) to ``operand``."""
        after = self.controller.stats
        stats = self._stats_of(operand)
        burst = self._burst
        read_bursts, write_bursts, activates, row_hits, row_misses, row_conflicts = before
        stats.read_moved_bytes += (after.read_bursts - read_bursts) * burst
        stats.write_moved_bytes += (after.write_bursts - write_bursts) * burst
        stats.activates += after.activates - activates
        stats.row_hits += after.row_hits - row_hits
        stats.row_misses += after.row_misses - row_misses
        stats.row_conflicts += after.row_conflicts - row_conflicts
        bursts = (after.read_bursts + after.write_bursts - read_bursts
                  - write_bursts)
        stats.busy_cycles += ceil(bursts * self.controller.gap * self.ratio)

    def close(self, cost: OpCost, end: float, stalls: dict[str, int],
              busy: list[tuple[float, float]], sram: dict[tuple[str, str], int]) -> OpCost:
        """Finish an op's cost once its last request is done at ``end``: its length (refresh
        included), stalls, DRAM counts and the profile an overlapping schedule reads."""
        dram_busy = self.busy_cycles()
        # refresh needs more channel time; the op absorbs it where the channel idles anyway
        refresh = max(0, self.refresh_stall(dram_busy) - (ceil(end) - dram_busy))
        cost.cycles = ceil(end) + refresh
        accounted = cost.compute_cycles + sum(stalls.values())
        stalls["memory"] = stalls.get("memory", 0) + max(0, ceil(end) - accounted)
        if refresh:
            stalls["refresh"] = refresh
        cost.stall_cycles = stalls
        cost.sram_bits = dict(sram)
        cost.dram = dict(self.stats)
        cost.profile = profile(cost.cycles, busy, self.busy, dram_busy + refresh,
                               cost.occupancy)
        return cost

    # ---- what the rest of the simulator asks of the channel ----------------------------------

    def busy_cycles(self) -> int:
        """Cycles with at least one request in flight."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self.busy):
            if end <= reach:
                continue
            total += end - max(start, reach)
            reach = end
        return ceil(total)

    @cached_property
    def refresh_fraction(self) -> float:
        """The share of time refresh takes the channel: (tRFC + tRP + tRCD) per tREFI (the
        rows it interrupts are closed before and reopened after it)."""
        if self.model != "lpddr4":
            return 0.0
        t = self.timing
        return (t.trfc + t.trp + t.trcd) / t.trefi

    def refresh_stall(self, dram_cycles: float) -> int:
        """Cycles refresh adds to ``dram_cycles`` of channel time."""
        f = self.refresh_fraction
        return ceil(dram_cycles * f / (1.0 - f)) if f else 0

    @cached_property
    def refresh_interval_cycles(self) -> float:
        """Array cycles between refreshes (0 for models without refresh)."""
        if self.model != "lpddr4":
            return 0.0
        return self.timing.trefi * self.timing.tck_ns / self.cycle_ns

    @cached_property
    def peak_bytes_per_cycle(self) -> float:
        if self.model == "fixed_bandwidth":
            fb = self.hw.dram.fixed_bandwidth
            assert fb is not None
            return fb.words_per_cycle * fb.word_bits / 8
        t = self.timing
        per_tck = t.burst_bytes / max(t.tccd, t.burst_tck)
        return per_tck * self.cycle_ns / t.tck_ns

    def latency_cycles(self) -> float:
        """Array cycles of a lone small read to a closed bank (the tiler's cost of a request)."""
        if self.model == "fixed_bandwidth":
            fb = self.hw.dram.fixed_bandwidth
            assert fb is not None
            return fb.latency_cycles + 64 * 8 / (fb.words_per_cycle * fb.word_bits)
        t = self.timing
        return (t.trcd + t.cl + t.burst_tck) * self.ratio


STRIDED_CLOSED_FORM = 64  # chunks from which a strided request's runs are counted by page


def strided_pages(address: int, chunks: int, chunk_bytes: int, stride_bytes: int, burst: int,
                  per_row: int) -> list[tuple[int, int]]:
    """(page, bursts touched in it) of every page ``chunks`` chunks of ``chunk_bytes`` every
    ``stride_bytes`` from ``address`` touch, in address order, where the gap between chunks
    is a burst or more (no burst is shared): what walking the chunks one by one gives, in
    closed form, a few steps per page instead of one per chunk.

    Chunk i starts at ``address + i * stride``; its bursts run from ``floor(start / burst)``
    to ``floor((start + chunk - 1) / burst)``, so how many there are depends only on where it
    starts within a burst, ``start mod burst``. That repeats every ``burst / gcd(stride,
    burst)`` chunks, so the bursts of the first j chunks are whole periods and a prefix of
    one, from one period's running sums. The chunks starting below burst x are the first
    ``ceil((x * burst - address) / stride)``; what they touch below x is their bursts less the
    part of the last one that reaches past x. A page holds what lies below its end less what
    lies below its start."""
    last_byte = chunk_bytes - 1
    period = burst // gcd(stride_bytes, burst)
    # sums[k]: the bursts of the first k chunks, k up to a period (or all of them)
    sums = [0, *accumulate(((address + i * stride_bytes) % burst + last_byte) // burst + 1
                           for i in range(min(period, chunks)))]

    def below(x: int) -> int:  # bursts touched below burst x
        j = min(chunks, max(0, -(-(x * burst - address) // stride_bytes)))
        if not j:
            return 0
        periods, rest = divmod(j, period)  # whole periods only when chunks hold one
        total = periods * sums[-1] + sums[rest]
        end = (address + (j - 1) * stride_bytes + last_byte) // burst  # the last one's end
        return total - max(0, end - x + 1)

    first_page = address // burst // per_row
    last_page = (address + (chunks - 1) * stride_bytes + last_byte) // burst // per_row
    out = []
    low = below(first_page * per_row)
    for page in range(first_page, last_page + 1):
        high = below((page + 1) * per_row)
        if high > low:
            out.append((page, high - low))
        low = high
    return out


def _snapshot(stats: ControllerStats) -> tuple[int, ...]:
    """The counters ``Channel._count`` takes differences of."""
    return (stats.read_bursts, stats.write_bursts, stats.activates, stats.row_hits,
            stats.row_misses, stats.row_conflicts)


@lru_cache(maxsize=64)
def _timings(config: Any) -> tuple[DramTiming, DramTiming]:
    """A configured interface's timing, and the same without refresh (an op's controller:
    refresh is charged per op, see the module docstring)."""
    timing = DramTiming.of(config)
    return timing, replace(timing, trefi=1 << 62, trfc=1)

