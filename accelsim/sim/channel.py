"""The DRAM channel as the simulator sees it: a request in, accelerator cycles and counts out.

Wraps the configured DRAM model (``lpddr4`` priced by ``dram.py``, or SCALE-Sim's
``fixed_bandwidth``) behind one call, converting DRAM clock cycles to array cycles. Refresh
depends on when a request runs, so the caller passes the current array cycle.
"""

from __future__ import annotations

from functools import cached_property
from math import ceil

from accelsim.errors import SimulationError
from accelsim.hardware.model import Hardware
from accelsim.sim.costs import DramStats
from accelsim.sim.dram import (
    MAX_REQUEST_PIECES,
    DramTiming,
    price_stream,
    refresh_stall,
    request_pieces,
)


class Channel:
    """Prices one strided request on the configured DRAM, in array cycles."""

    def __init__(self, hw: Hardware):
        self.hw = hw
        self.model = hw.dram.model
        self.cycle_ns = hw.cycle_ns

    @cached_property
    def timing(self) -> DramTiming:
        t = self.hw.dram.lpddr4
        assert t is not None
        return DramTiming.of(t)

    def transfer(self, now: float, chunks: int, chunk_bytes: int, stride_bytes: int,
                 write: bool) -> tuple[int, DramStats]:
        """Cycles the request occupies the channel from array cycle ``now``, and its counts."""
        requested = chunks * chunk_bytes
        stats = DramStats(read_bytes=0 if write else requested,
                          write_bytes=requested if write else 0)
        if self.model == "fixed_bandwidth":
            fb = self.hw.dram.fixed_bandwidth
            assert fb is not None
            cycles = fb.latency_cycles + ceil(requested * 8 / (fb.words_per_cycle * fb.word_bits))
            stats.read_moved_bytes = 0 if write else requested
            stats.write_moved_bytes = requested if write else 0
            stats.busy_cycles = cycles
            return cycles, stats
        t = self.timing
        if request_pieces(t, chunk_bytes, stride_bytes, chunks) > MAX_REQUEST_PIECES:
            raise SimulationError(f"a DRAM request of {chunks:,} chunks of {chunk_bytes:,} bytes "
                                  f"every {stride_bytes:,} bytes touches more than "
                                  f"{MAX_REQUEST_PIECES:,} row segments, the simulator's limit "
                                  "per request")
        cost = price_stream(t, chunk_bytes=chunk_bytes, stride_bytes=stride_bytes,
                            chunks=chunks, write=write)
        ratio = t.tck_ns / self.cycle_ns
        start_tck = int(now / ratio)
        stall_tck = refresh_stall(t, start_tck, cost.tck)
        cycles = ceil((cost.tck + stall_tck) * ratio)
        stats.read_moved_bytes = 0 if write else cost.bytes_moved
        stats.write_moved_bytes = cost.bytes_moved if write else 0
        stats.activates = cost.activates
        stats.row_hits, stats.row_misses = cost.row_hits, cost.row_misses
        stats.row_conflicts = cost.row_conflicts
        stats.busy_cycles = cycles
        stats.refresh_cycles = ceil(stall_tck * ratio)
        return cycles, stats

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
