"""Tiling a GEMM to the buffers: which blocks move between DRAM and the SRAMs, and when.

A tile is a block of ``tr`` x ``tc`` of the array's rows and columns dimensions (multiples of the
array size, so a tile is a whole number of folds) with the full time dimension; cutting the time
dimension would add fill and drain and change the compute cycles, so it is streamed instead. Per
dataflow (see ``mapping.FoldGeometry``) each operand is indexed by the tile's row index i, column index
j, or both: the stationary operand by (i, j), the row-side one by i, the column-side one by j.
For ws/is the column-side operand is the output C, which accumulates over i.

Tiles run in one of two loop orders (rows outer or columns outer). A block stays in its buffer
while consecutive tiles share its index (reuse); a block larger than a buffer slot cannot stay and
is *streamed* through the slot for every tile that needs it. An accumulating output that cannot
stay resident across its reduction spills partial sums to DRAM (written at ``acc_bits`` and read
back). The planner scores every candidate (tile sizes are the array size times powers of two, or
the whole dimension) by DRAM bytes, then by the bytes the pipeline cannot hide (the first tile's
loads, the last tile's writes and one request latency per tile), and keeps the best. Buffers that are double buffered offer two
slots of half their size, others one slot of their whole size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil

from accelsim.errors import SimulationError
from accelsim.hardware.model import BUFFER_OF, Hardware
from accelsim.sim.mapping import (
    ArrayAccesses,
    Beat,
    FoldGeometry,
    Folding,
    beat_for,
    block_accesses,
    block_cycles,
)
from accelsim.trace.records import Gemm

STORAGE = {"a": ("m", "k"), "b": ("k", "n"), "c": ("m", "n")}  # row-major in DRAM


MAX_TILES = 1 << 20  # tiles one op may take: each is a few events of the SimPy model


class TilingError(SimulationError):
    """No tiling fits the buffers (an impossible op for this machine), or every tiling that
    fits needs more than ``MAX_TILES`` tiles."""


@dataclass(frozen=True)
class Block:
    """Bytes of one operand moved between DRAM and a buffer, with their DRAM layout."""

    operand: str
    bytes: int
    chunks: int
    chunk_bytes: int
    stride_bytes: int
    base: int = 0  # byte offset of its first chunk in the operand's tensor


@dataclass(frozen=True)
class Step:
    """What happens to one operand's buffer around one tile."""

    operand: str
    acquire: bool  # a new block takes a slot before this tile
    load: Block | None  # bytes fetched from DRAM into it before (or while) the tile runs
    streamed: bool  # the block is larger than a slot and streams through it
    release: bool  # the block leaves after this tile (once its write, if any, is done)
    write: Block | None  # bytes written to DRAM after this tile (outputs or partial sums)
    hold_bytes: int  # bytes the block occupies in its buffer


@dataclass(frozen=True)
class Tile:
    rows: int
    cols: int
    compute_cycles: int
    accesses: ArrayAccesses
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Plan:
    tile_rows: int
    tile_cols: int
    rows_outer: bool
    resident: dict[str, bool]
    beat: Beat
    dram_bytes: int  # closed-form DRAM bytes of the plan (reads + writes)
    tiles: tuple[Tile, ...]


def _bytes(elements: int, bits: int) -> int:
    return (elements * bits + 7) // 8


class _Geometry:
    """Sizes and roles of one GEMM on one machine, shared by scoring and tile generation."""

    def __init__(self, hw: Hardware, op: Gemm):
        self.hw, self.op = hw, op
        fold = FoldGeometry.of(hw.array.dataflow)
        self.rows_dim, self.cols_dim, self.time_dim = fold.rows_dim, fold.cols_dim, fold.time_dim
        self.stationary = fold.stationary
        self.size = {"m": op.m, "n": op.n, "k": op.k}
        self.accumulates = fold.accumulates  # C is the column-side operand, reduced over i
        self.slot = {}
        for operand, name in BUFFER_OF.items():
            buf = hw.buffer(name)
            self.slot[operand] = buf.size_bytes // (2 if buf.double_buffered else 1)

    def index(self, operand: str) -> str:
        dims = STORAGE[operand]
        return ("i" if self.rows_dim in dims else "") + ("j" if self.cols_dim in dims else "")

    def extent(self, r: int, c: int) -> dict[str, int]:
        return {self.rows_dim: r, self.cols_dim: c, self.time_dim: self.size[self.time_dim]}

    def block(self, operand: str, r: int, c: int, bits: int, i: int = 0, j: int = 0,
              tr: int = 0, tc: int = 0) -> Block:
        """Block (i, j) of ``r`` x ``c`` of the rows/cols dims, tiles being ``tr`` x ``tc``."""
        d0, d1 = STORAGE[operand]
        ext = self.extent(r, c)
        start = {self.rows_dim: i * tr, self.cols_dim: j * tc, self.time_dim: 0}
        base = (start[d0] * self.size[d1] + start[d1]) * bits // 8
        if ext[d1] == self.size[d1]:
            n = _bytes(ext[d0] * ext[d1], bits)
            return Block(operand, n, 1, n, n, base)
        chunk = _bytes(ext[d1], bits)
        return Block(operand, chunk * ext[d0], ext[d0], chunk, _bytes(self.size[d1], bits), base)

    def view(self, operand: str) -> int:
        op = self.op
        return {"a": op.m * op.k, "b": op.k * op.n, "c": op.m * op.n}[operand]

    def dram_block(self, operand: str, i: int, j: int, r: int, c: int, tr: int, tc: int,
                   bits: int) -> Block:
        """A block as DRAM moves it. An im2col view's block moves an exact share of the
        underlying tensor (the chip expands the view): shares are cumulative ceilings, so the
        blocks of one pass add up to the tensor's bytes exactly."""
        footprint = self.op.footprint(operand)
        view = self.view(operand)
        if footprint >= view:
            return self.block(operand, r, c, bits, i, j, tr, tc)
        total = _bytes(footprint, bits)
        sr, sc = self.size[self.rows_dim], self.size[self.cols_dim]
        idx = self.index(operand)
        if idx == "i":
            den, start, size = sr, i * tr, r
        elif idx == "j":
            den, start, size = sc, j * tc, c
        else:  # row-major over the (i, j) blocks
            den, start, size = sr * sc, i * tr * sc + r * j * tc, r * c
        first = -(-total * start // den)
        n = -(-total * (start + size) // den) - first  # ceil differences
        return Block(operand, n, 1, n, n, first)

    def pass_bytes(self, operand: str, tr: int, tc: int, bits: int, view: bool = False) -> int:
        """DRAM bytes of one pass over every block of an operand (``view``: at the view's
        size, as partial sums are, not the footprint's)."""
        if not view and self.op.footprint(operand) < self.view(operand):
            return _bytes(self.op.footprint(operand), bits)
        sr, sc = self.size[self.rows_dim], self.size[self.cols_dim]
        rows = [(size, count) for size, count in ((tr, sr // tr), (sr % tr, 1)) if size and count]
        cols = [(size, count) for size, count in ((tc, sc // tc), (sc % tc, 1)) if size and count]
        idx = self.index(operand)
        if idx == "i":
            return sum(n * self.block(operand, r, tc, bits).bytes for r, n in rows)
        if idx == "j":
            return sum(n * self.block(operand, tr, c, bits).bytes for c, n in cols)
        return sum(nr * nc * self.block(operand, r, c, bits).bytes
                   for r, nr in rows for c, nc in cols)

    def hold_bits(self, operand: str) -> int:
        op = self.op
        return {"a": op.a_bits, "b": op.b_bits, "c": op.acc_bits}[operand]

    def fits(self, operand: str, r: int, c: int) -> bool:
        d0, d1 = STORAGE[operand]
        ext = self.extent(r, c)
        return _bytes(ext[d0] * ext[d1], self.hold_bits(operand)) <= self.slot[operand]


def _loads(index: str, rows_outer: bool, nr: int, nc: int, resident: bool) -> int:
    """How many times a block with this index is fetched over the loop nest."""
    if not resident or index == "ij":
        return nr * nc
    if index == "i":
        return nr if (rows_outer or nr == 1) else nr * nc
    return nc if (not rows_outer or nc == 1) else nr * nc


def _score(g: _Geometry, tr: int, tc: int, rows_outer: bool,
           request_bytes: int) -> tuple[int, int] | None:
    """(DRAM bytes, bytes the pipeline cannot hide) of a candidate tiling, exactly the bytes
    the generated tiles move, from the few distinct block sizes."""
    op = g.op
    sr, sc = g.size[g.rows_dim], g.size[g.cols_dim]
    nr, nc = ceil(sr / tr), ceil(sc / tc)
    if not g.fits(g.stationary, tr, tc):
        return None
    total = 0
    first = 0
    for operand in ("a", "b", "c"):
        idx = g.index(operand)
        resident = g.fits(operand, tr, tc)
        if operand == "c":
            keeps = resident and (not rows_outer or nc == 1)
            spills = g.accumulates and nr > 1 and not keeps
            total += g.pass_bytes("c", tr, tc, op.out_bits)
            if spills:  # partial sums written by all but the last row block, read by all but
                total += 2 * (nr - 1) * g.pass_bytes("c", tr, tc, op.acc_bits, view=True)
            continue
        per_block = nr if idx == "i" else (nc if idx == "j" else nr * nc)
        repeats = _loads(idx, rows_outer, nr, nc, resident) // per_block
        total += repeats * g.pass_bytes(operand, tr, tc, g.hold_bits(operand))
        first += g.dram_block(operand, 0, 0, min(tr, sr), min(tc, sc), tr, tc,
                              g.hold_bits(operand)).bytes
    last = _bytes(min(tr, sr) * min(tc, sc) if not g.accumulates else
                  min(tc, sc) * g.size[g.time_dim], op.out_bits)
    return total, first + last + request_bytes * nr * nc


def _request_overhead_bytes(hw: Hardware) -> int:
    """What a tile's extra DRAM request costs, in bytes the channel could have moved meanwhile:
    the latency of a small request times the peak bandwidth. It stops the planner from cutting
    a GEMM into many tiny tiles when the traffic is the same."""
    from accelsim.sim.channel import Channel

    channel = Channel(hw)
    return int(channel.latency_cycles() * channel.peak_bytes_per_cycle)


def _candidates(size: int, unit: int) -> list[int]:
    full = ceil(size / unit) * unit
    out, t = [], unit
    while t < full:
        out.append(t)
        t *= 2
    out.append(full)
    return out


@lru_cache(maxsize=4096)
def plan_gemm(hw: Hardware, op: Gemm) -> Plan:
    """The cheapest tiling of ``op`` on ``hw`` and its tile sequence."""
    g = _Geometry(hw, op)
    beat = beat_for(hw.array, op.a_bits, op.b_bits)
    R, C = Folding.of(hw.array, beat).row_span, hw.array.cols  # a fold's extent of each dim
    sr, sc = g.size[g.rows_dim], g.size[g.cols_dim]
    best = None
    request_bytes = _request_overhead_bytes(hw)
    too_many = 0
    for tr in _candidates(sr, R):
        for tc in _candidates(sc, C):
            if ceil(sr / tr) * ceil(sc / tc) > MAX_TILES:
                too_many += 1
                continue
            for rows_outer in (True, False):
                score = _score(g, tr, tc, rows_outer, request_bytes)
                if score is not None and (best is None or score < best[0]):
                    best = (score, tr, tc, rows_outer)
    if best is None and too_many and g.fits(g.stationary, R, C):
        raise TilingError(f"gemm m={op.m} n={op.n} k={op.k}: every tiling that fits this "
                          f"machine's buffers needs more than {MAX_TILES:,} tiles, the "
                          "simulator's limit per op; split the op or enlarge the buffers")
    if best is None:
        buf = BUFFER_OF[g.stationary]
        raise TilingError(f"gemm m={op.m} n={op.n} k={op.k}: one {R}x{C} block of operand "
                          f"{g.stationary.upper()} does not fit buffers.{buf} "
                          f"({g.slot[g.stationary]} bytes per slot)")
    (traffic, _), tr, tc, rows_outer = best
    tiles = tuple(_tiles(g, tr, tc, rows_outer))
    resident = {o: g.fits(o, tr, tc) for o in ("a", "b", "c")}
    return Plan(tr, tc, rows_outer, resident, beat,
                traffic, tiles)


def _tiles(g: _Geometry, tr: int, tc: int, rows_outer: bool):
    op, hw = g.op, g.hw
    sr, sc = g.size[g.rows_dim], g.size[g.cols_dim]
    nr, nc = ceil(sr / tr), ceil(sc / tc)
    beat = beat_for(hw.array, op.a_bits, op.b_bits)
    t = g.size[g.time_dim]
    order = ([(i, j) for i in range(nr) for j in range(nc)] if rows_outer else
             [(i, j) for j in range(nc) for i in range(nr)])
    resident = {o: g.fits(o, tr, tc) for o in ("a", "b", "c")}

    def key(operand: str, i: int, j: int) -> tuple[int, int]:
        idx = g.index(operand)
        return (i if "i" in idx else -1, j if "j" in idx else -1)

    for pos, (i, j) in enumerate(order):
        r, c = min(tr, sr - i * tr), min(tc, sc - j * tc)
        prev = order[pos - 1] if pos else None
        nxt = order[pos + 1] if pos + 1 < len(order) else None
        steps = []
        for operand in ("a", "b", "c"):
            k_now = key(operand, i, j)
            same_prev = prev is not None and key(operand, *prev) == k_now
            same_next = nxt is not None and key(operand, *nxt) == k_now
            keep = resident[operand]
            acquire = not (keep and same_prev)
            release = not (keep and same_next)
            hold = g.block(operand, r, c, g.hold_bits(operand)).bytes
            streamed = not keep
            hold = min(hold, g.slot[operand])
            if operand == "c":
                # Outputs: fresh blocks start empty unless they continue a spilled reduction.
                first_i, last_i = i == 0, i == nr - 1
                if not g.accumulates:
                    first_i = last_i = True
                load = None
                if acquire and g.accumulates and not first_i:
                    load = g.block("c", r, c, op.acc_bits, i, j, tr, tc)
                write = None
                if release:
                    write = (g.dram_block("c", i, j, r, c, tr, tc, op.out_bits) if last_i else
                             g.block("c", r, c, op.acc_bits, i, j, tr, tc))
                    write = write if write.bytes else None
                steps.append(Step("c", acquire, load, streamed, release, write, hold))
            else:
                load = (g.dram_block(operand, i, j, r, c, tr, tc, g.hold_bits(operand))
                        if acquire else None)
                load = load if load is not None and load.bytes else None
                steps.append(Step(operand, acquire, load, streamed, release, None, hold))
        continuing = g.accumulates and i > 0
        yield Tile(r, c, block_cycles(hw.array, r, c, t, beat),
                   block_accesses(hw.array, r, c, t, continuing, beat), tuple(steps))
