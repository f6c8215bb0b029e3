"""The DRAM model: what one DMA request (a strided stream of bytes) costs on an LPDDR4-class channel.

Owns the timing parameters of a DRAM interface (:class:`DramTiming`), the pricing of one request
in DRAM clock cycles with its row-buffer statistics (:func:`price_stream` -> :class:`StreamCost`),
the cycles lost to all-bank refresh while a request occupies the channel (:func:`refresh_stall`)
and the LPDDR4-3200 default (:func:`lpddr4_3200`). Pure arithmetic; it knows nothing of SimPy,
the rest of the accelerator or energy.

Modelling choices:

- Address mapping is row-interleaved: a linear address falls in page ``addr // row_bytes``;
  consecutive pages go to consecutive banks (``bank = page % banks``, ``row = page // banks``).
- Every chunk is fetched in whole bursts aligned to the burst size (``bus_bytes * burst_length``
  bytes), so a 4-byte chunk costs a full burst; bytes shared by neighbouring chunks are fetched
  once. This over-fetch is why scattered streams waste bandwidth.
- Every request starts with all banks precharged (closed). This makes the price independent of
  what ran before, hence cacheable (``price_stream`` is memoised); the precharges that close the
  previous request's rows are assumed to overlap its tail and are not charged.
- An open-page controller serves bursts in address order. A burst to the open row of its bank is
  a hit; to a closed bank a miss (ACT, then tRCD); to a bank holding another row a conflict (PRE
  no earlier than tRAS after that row's ACT and tRTP after its last read, or CWL + BL/2 + tWR
  after its last write; then tRP, ACT and tRCD). ACTs issue in order but look ahead of the data:
  the next bank's row opens while the current bank streams, limited by tRRD and tFAW.
- Column commands are spaced by ``max(tCCD, BL/2)``; a burst holds the data bus for BL/2 tCK
  (double data rate). CL (CWL for writes) is paid once per request, as the pipeline's tail.
- A request moves data in one direction, so tWTR never arises inside one (it is carried for
  callers that model turnarounds). The command bus is assumed never to be the bottleneck.
- Refresh is all-bank: every tREFI (the first at tREFI, none at time 0) the channel stops for
  tRFC; :func:`refresh_stall` prices it apart so that ``price_stream`` stays history-free.

Sources: LPDDR4-3200 x16 8 Gb die timings from Ramulator (``src/LPDDR4.h`` speed table,
CMU-SAFARI/ramulator) as collected in ``/work/shared/reference/energy-and-dram.md``; CWL = 18 tCK
from the same Ramulator table (the reference file lists no write latency).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class DramTiming:
    """One DRAM interface: geometry and timing constraints, all timings in tCK."""

    tck_ns: float  # DRAM clock period
    bus_bytes: int  # bytes per beat across the whole interface (8 for a 64-bit bus)
    burst_length: int  # beats per burst (16 for LPDDR4 BL16)
    banks: int
    row_bytes: int  # page size of one row across the whole interface
    trcd: int
    cl: int
    cwl: int
    trp: int
    tras: int
    trrd: int
    tfaw: int
    twr: int
    twtr: int
    trtp: int
    tccd: int
    trefi: int
    trfc: int
    trtw: int = 23

    def __post_init__(self) -> None:
        if not self.tck_ns > 0:
            raise ValueError(f"DramTiming.tck_ns must be positive, got {self.tck_ns}")
        for f in fields(self)[1:]:
            value = getattr(self, f.name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"DramTiming.{f.name} must be a non-negative int, got {value!r}")
        for name in ("bus_bytes", "burst_length", "banks", "row_bytes", "tccd", "trefi"):
            if getattr(self, name) == 0:
                raise ValueError(f"DramTiming.{name} must be positive, got 0")
        if self.burst_length % 2:
            raise ValueError(
                f"DramTiming.burst_length must be even (two beats per tCK), got {self.burst_length}"
            )
        if self.row_bytes % self.burst_bytes:
            raise ValueError(
                f"DramTiming.row_bytes must be a multiple of the burst size {self.burst_bytes}, "
                f"got {self.row_bytes}"
            )
        if self.trfc >= self.trefi:
            raise ValueError(
                f"DramTiming.trfc must be shorter than trefi={self.trefi}, got {self.trfc}"
            )

    @classmethod
    def of(cls, config: Any) -> DramTiming:
        """The timing of a configured interface (``hardware.model.Lpddr4``): every timing is the
        config key of the same name with ``_tck`` appended, so the two never drift apart."""
        timings = {f.name: getattr(config, f"{f.name}_tck") for f in fields(cls)
                   if hasattr(config, f"{f.name}_tck")}
        return cls(tck_ns=config.tck_ns, bus_bytes=config.bus_width_bits // 8,
                   burst_length=config.burst_length, banks=config.banks,
                   row_bytes=config.row_bytes, **timings)

    @property
    def burst_bytes(self) -> int:
        """Bytes one burst moves across the whole interface."""
        return self.bus_bytes * self.burst_length

    @property
    def burst_tck(self) -> int:
        """Data-bus cycles one burst occupies (DDR: two beats per tCK)."""
        return self.burst_length // 2


@dataclass(frozen=True)
class StreamCost:
    """The price of one request; ``tck`` runs from the first command to the last data beat."""

    tck: int  # DRAM cycles the request occupies the channel, refresh not included
    bytes_moved: int  # bytes transferred on the bus, whole bursts (over-fetch counts)
    bursts: int
    activates: int
    row_hits: int
    row_misses: int
    row_conflicts: int


def lpddr4_3200() -> DramTiming:
    """LPDDR4-3200 as a 64-bit interface: four x16 channels ganged, 25.6 GB/s (Jetson Nano class).

    The four channels run in lockstep, so one burst is 4 x 32 B = 128 B and one activate opens the
    same 2 KB page in each die: ``row_bytes`` = 4 x 2 KB = 8 KB, 64 bursts per row. Timings are
    Ramulator's per-die LPDDR4-3200 values (tRPpb for row conflicts, tRFCab with tREFI).
    """
    return DramTiming(
        tck_ns=0.625, bus_bytes=8, burst_length=16, banks=8, row_bytes=8192,
        trcd=29, cl=32, cwl=18, trp=27, tras=68, trrd=16, tfaw=64, twr=28, twtr=16,
        trtp=14, tccd=8, trefi=6247, trfc=288, trtw=23,
    )  # fmt: skip


def peak_bytes_per_tck(t: DramTiming) -> float:
    """Bytes per tCK when column commands issue back to back (16 B/tCK = 25.6 GB/s for LPDDR4)."""
    return t.burst_bytes / max(t.tccd, t.burst_tck)


MAX_REQUEST_PIECES = 1 << 22  # row segments one request may be priced in (a few seconds' work)


def request_pieces(t: DramTiming, chunk_bytes: int, stride_bytes: int, chunks: int) -> int:
    """An upper bound on the row segments ``price_stream`` walks for this request."""
    if stride_bytes - chunk_bytes < t.burst_bytes:
        return ((chunks - 1) * stride_bytes + chunk_bytes) // t.row_bytes + 2
    return chunks * (chunk_bytes // t.row_bytes + 2)


def _pages(
    t: DramTiming, chunk_bytes: int, stride_bytes: int, chunks: int, base: int
) -> Iterator[tuple[int, int]]:
    """Yield ``(page, bursts)`` row segments in address order, merging pieces of the same page.

    When the gap between chunks is shorter than a burst no aligned burst lies wholly in a gap, so
    the stream fetches exactly the bursts of one contiguous range: one piece per page. Otherwise
    no two chunks share a burst and each chunk is cut at page boundaries (chunks <= bursts then).
    """
    burst, row = t.burst_bytes, t.row_bytes
    ranges: Iterable[tuple[int, int]]
    if stride_bytes - chunk_bytes < burst:
        ranges = [(base, base + (chunks - 1) * stride_bytes + chunk_bytes)]
    else:
        ranges = ((base + i * stride_bytes, base + i * stride_bytes + chunk_bytes)
                  for i in range(chunks))  # fmt: skip
    page, count = -1, 0
    for lo, hi in ranges:
        while lo < hi:
            piece_page = lo // row
            end = min(hi, (piece_page + 1) * row)
            n = (end - 1) // burst - lo // burst + 1
            if piece_page == page:
                count += n
            else:
                if count:
                    yield page, count
                page, count = piece_page, n
            lo = end
    yield page, count


@lru_cache(maxsize=4096)
def price_stream(
    t: DramTiming, *, chunk_bytes: int, stride_bytes: int, chunks: int, write: bool, base: int = 0
) -> StreamCost:
    """Price reading (or writing) ``chunks`` chunks of ``chunk_bytes`` at ``base + i*stride_bytes``.

    Starts from all banks closed (see the module docstring) and returns DRAM cycles from the first
    ACT to the last data beat, with the row-buffer outcome of every burst.
    """
    for name, value in (("chunk_bytes", chunk_bytes), ("chunks", chunks)):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if stride_bytes < chunk_bytes:
        raise ValueError(f"stride_bytes must be >= chunk_bytes={chunk_bytes}, got {stride_bytes}")
    if base < 0:
        raise ValueError(f"base must be non-negative, got {base}")

    gap = max(t.tccd, t.burst_tck)
    after_column = t.cwl + t.burst_tck + t.twr if write else t.trtp  # column -> earliest PRE
    open_row: list[int | None] = [None] * t.banks
    act_at = [0] * t.banks  # last ACT per bank
    pre_ok = [0] * t.banks  # earliest PRE per bank allowed by its column commands
    acts: list[int] = []  # recent ACT times, for tRRD and tFAW
    next_column = 0  # earliest slot for the next column command
    last_column = 0
    bursts = hits = misses = conflicts = 0
    for page, n in _pages(t, chunk_bytes, stride_bytes, chunks, base):
        bank, row = page % t.banks, page // t.banks
        bursts += n
        if open_row[bank] == row:
            hits += n
            ready = 0
        else:
            hits += n - 1
            if open_row[bank] is None:
                misses += 1
                act = 0
            else:
                conflicts += 1
                act = max(act_at[bank] + t.tras, pre_ok[bank]) + t.trp
            if acts:
                act = max(act, acts[-1] + t.trrd)
            if len(acts) >= 4:
                act = max(act, acts[-4] + t.tfaw)
            acts.append(act)
            del acts[:-4]
            act_at[bank], open_row[bank] = act, row
            ready = act + t.trcd
        first = max(next_column, ready)
        last_column = first + (n - 1) * gap
        next_column = last_column + gap
        pre_ok[bank] = last_column + after_column
    latency = t.cwl if write else t.cl
    return StreamCost(
        tck=last_column + latency + t.burst_tck,
        bytes_moved=bursts * t.burst_bytes,
        bursts=bursts,
        activates=misses + conflicts,
        row_hits=hits,
        row_misses=misses,
        row_conflicts=conflicts,
    )


def refresh_stall(t: DramTiming, start_tck: int, busy_tck: int) -> int:
    """Extra tCK a request busy from ``start_tck`` for ``busy_tck`` loses to all-bank refresh.

    Refreshes occupy ``[k*tREFI, k*tREFI + tRFC)`` for k >= 1. A request that starts inside one
    waits for its end; each refresh whose start falls while work remains adds tRFC and pushes the
    end later. Closed form: after the first boundary every window does tREFI - tRFC of work, so
    the count of refreshes crossed is a ceiling (time independent of the request's length).
    """
    if start_tck < 0:
        raise ValueError(f"start_tck must be non-negative, got {start_tck}")
    if busy_tck < 0:
        raise ValueError(f"busy_tck must be non-negative, got {busy_tck}")
    if busy_tck == 0:
        return 0
    k = start_tck // t.trefi  # the last refresh at or before the start
    wait = max(0, k * t.trefi + t.trfc - start_tck) if k >= 1 else 0
    before_next = (k + 1) * t.trefi - (start_tck + wait)  # work done before the next refresh
    left = busy_tck - before_next
    if left <= 0:
        return wait
    crossed = -(-left // (t.trefi - t.trfc))
    return wait + crossed * t.trfc
