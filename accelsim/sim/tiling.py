"""Tiling a GEMM to the buffers: which blocks move between DRAM and the SRAMs, and when.

A tile is a block of ``tr`` x ``tc`` of the array's rows and columns dimensions (multiples of a
fold, so a tile is a whole number of folds) and a chunk of ``tt`` of the time dimension, the
whole of it unless cutting it keeps accumulating outputs on chip (ws/is: each chunk of M or N is
then a sub-GEMM whose partial sums stay in the output SRAM across the reduction, at the price
of fill and drain per fold and of reloading the operand that does not depend on time). Per
dataflow (see ``mapping.FoldGeometry``) each operand is indexed by the tile's row index i,
column index j and time chunk s, as far as its storage spans them. For ws/is the column-side
operand is the output C, which accumulates over i.

Tiles run in one of two loop orders (rows outer or columns outer). A block stays in its buffer
while consecutive tiles share its index (reuse); a block larger than a buffer slot cannot stay and
is *streamed* through the slot for every tile that needs it. An accumulating output that cannot
stay resident across its reduction spills partial sums to DRAM (written at ``acc_bits`` and read
back). The planner estimates each candidate's time (compute, or DRAM traffic at peak bandwidth,
whichever is longer, plus what the pipeline cannot hide: the first tile's loads, the last
tile's writes and one request latency per tile) and energy (its DRAM traffic, and the power
burnt meanwhile), and keeps the lowest energy-delay product: each cut costs preload and skew,
each spill or reload costs traffic. Buffers that are double buffered offer two slots of half their size,
others one slot of their whole size; an operand loaded once and never refilled may take the
whole SRAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import Any, NamedTuple

from accelsim.errors import SimulationError
from accelsim.hardware.model import BUFFER_OF, Array, Hardware
from accelsim.hardware.power import dram_command_energy, static_mw
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


class Block(NamedTuple):
    """Bytes of one operand moved between DRAM and a buffer, with their DRAM layout. (Block,
    Step and Tile are named tuples, not dataclasses: a plan makes several per tile, and a
    tuple is made several times faster.)"""

    operand: str
    bytes: int
    chunks: int
    chunk_bytes: int
    stride_bytes: int
    base: int = 0  # byte offset of its first chunk in the operand's tensor


class Step(NamedTuple):
    """What happens to one operand's buffer around one tile."""

    operand: str
    acquire: bool  # a new block takes a slot before this tile
    load: Block | None  # bytes fetched from DRAM into it before (or while) the tile runs
    streamed: bool  # the block is larger than a slot and streams through it
    release: bool  # the block leaves after this tile (once its write, if any, is done)
    write: Block | None  # bytes written to DRAM after this tile (outputs or partial sums)
    hold_bytes: int  # bytes the block occupies in its buffer


class Tile(NamedTuple):
    rows: int
    cols: int
    compute_cycles: int
    accesses: ArrayAccesses
    steps: tuple[Step, ...]
    time: int  # elements of the time dimension the tile streams (its chunk of it)


@dataclass(frozen=True)
class Plan:
    tile_rows: int
    tile_cols: int
    tile_time: int  # time chunk (the whole time dimension unless cut)
    rows_outer: bool
    resident: dict[str, bool]
    beat: Beat
    dram_bytes: int  # closed-form DRAM bytes of the plan (reads + writes)
    tiles: tuple[Tile, ...]


def _bytes(elements: int, bits: int) -> int:
    return (elements * bits + 7) // 8


Capacities = tuple[tuple[int, int], ...]  # (slot, whole SRAM) bytes of operands a, b, c


def capacities(hw: Hardware) -> Capacities:
    """What the tiler needs of a machine's buffers: each operand's slot and whole SRAM."""
    out = []
    for name in BUFFER_OF.values():
        buf = hw.buffer(name)
        out.append((buf.size_bytes // (2 if buf.double_buffered else 1), buf.size_bytes))
    return tuple(out)


class _Geometry:
    """Sizes and roles of one GEMM under one dataflow and buffer sizes, cut into time chunks
    of ``tt``; shared by scoring and tile generation, and by every machine that has these
    (``_geometry``: a sweep plans one op on hundreds of machines). Operands are indexed by the
    tile's row index i, column index j and time chunk s, each as far as its storage spans
    that dimension."""

    def __init__(self, op: Gemm, dataflow: str, caps: Capacities, tt: int | None = None):
        self.op, self.dataflow, self.caps = op, dataflow, caps
        fold = FoldGeometry.of(dataflow)
        self.rows_dim, self.cols_dim, self.time_dim = fold.rows_dim, fold.cols_dim, fold.time_dim
        self.stationary = fold.stationary
        self.size = {"m": op.m, "n": op.n, "k": op.k}
        self.accumulates = fold.accumulates  # C is the column-side operand, reduced over i
        self.tt = self.size[self.time_dim] if tt is None else tt
        self.nt = ceil(self.size[self.time_dim] / self.tt)
        self.slot = {o: caps[n][0] for n, o in enumerate(("a", "b", "c"))}
        self.whole = {o: caps[n][1] for n, o in enumerate(("a", "b", "c"))}
        self._passes: dict[tuple, int] = {}
        self._traffics: dict[tuple, Any] = {}  # (tr, tc) -> _traffic
        self._skeletons: dict[tuple, Any] = {}  # (tr, tc, rows_outer) -> _skeleton
        self._index = {o: self._dims_index(o) for o in STORAGE}
        self._spans = {o: ("i" in x, "j" in x, "t" in x) for o, x in self._index.items()}
        # each operand's storage dims (row-major d0 x d1) as positions in (rows, cols, time)
        role = {self.rows_dim: 0, self.cols_dim: 1, self.time_dim: 2}
        self._roles = {o: (role[d0], role[d1]) for o, (d0, d1) in STORAGE.items()}
        self._width = {o: self.size[d1] for o, (_, d1) in STORAGE.items()}  # a row's elements
        self._view = {o: self.view(o) for o in STORAGE}
        self._footprint = {o: op.footprint(o) for o in STORAGE}
        c_bits = op.acc_bits if self.accumulates else op.out_bits
        self._hold_bits = {"a": op.a_bits, "b": op.b_bits, "c": c_bits}

    def _dims_index(self, operand: str) -> str:
        dims = STORAGE[operand]
        return (("i" if self.rows_dim in dims else "") + ("j" if self.cols_dim in dims else "")
                + ("t" if self.time_dim in dims else ""))

    def index(self, operand: str) -> str:
        return self._index[operand]

    def block(self, operand: str, r: int, c: int, bits: int, i: int = 0, j: int = 0,
              tr: int = 0, tc: int = 0, s: int = 0, t: int | None = None) -> Block:
        """Block (i, j, s) of ``r`` x ``c`` x ``t`` of the rows/cols/time dims, tiles being
        ``tr`` x ``tc`` x ``tt``."""
        role0, role1 = self._roles[operand]
        ext = (r, c, self.tt if t is None else t)
        start = (i * tr, j * tc, s * self.tt)
        e0, e1, width = ext[role0], ext[role1], self._width[operand]
        base = (start[role0] * width + start[role1]) * bits // 8
        if e1 == width:
            n = (e0 * e1 * bits + 7) // 8
            return Block(operand, n, 1, n, n, base)
        chunk = (e1 * bits + 7) // 8
        return Block(operand, chunk * e0, e0, chunk, (width * bits + 7) // 8, base)

    def view(self, operand: str) -> int:
        op = self.op
        return {"a": op.m * op.k, "b": op.k * op.n, "c": op.m * op.n}[operand]

    def dram_block(self, operand: str, i: int, j: int, r: int, c: int, tr: int, tc: int,
                   bits: int, s: int = 0, t: int | None = None) -> Block:
        """A block as DRAM moves it. An im2col view's block moves an exact share of the
        underlying tensor (the chip expands the view): its share of the view's elements, in
        row-major order over the blocks, as cumulative ceilings, so the blocks of one pass add
        up to the tensor's bytes exactly."""
        footprint, view = self._footprint[operand], self._view[operand]
        if footprint >= view:
            return self.block(operand, r, c, bits, i, j, tr, tc, s, t)
        total = _bytes(footprint, bits)
        role0, role1 = self._roles[operand]
        ext = (r, c, self.tt if t is None else t)
        start = (i * tr, j * tc, s * self.tt)
        # elements of the view before this block, with blocks in row-major order
        before = start[role0] * self._width[operand] + ext[role0] * start[role1]
        first = -(-total * before // view)
        n = -(-total * (before + ext[role0] * ext[role1]) // view) - first  # ceil differences
        return Block(operand, n, 1, n, n, first)

    def _classes(self, size: int, tile: int) -> list[tuple[int, int]]:
        """(extent, count) of the tiles along one dimension."""
        return [(s, n) for s, n in ((tile, size // tile), (size % tile, 1)) if s and n]

    def pass_bytes(self, operand: str, tr: int, tc: int, bits: int, view: bool = False) -> int:
        """DRAM bytes of one pass over every block of an operand (``view``: at the view's
        size, as partial sums are, not the footprint's)."""
        key = (operand, tr, tc, bits, view)
        known = self._passes.get(key)
        if known is None:
            known = self._passes[key] = self._pass_bytes(operand, tr, tc, bits, view)
        return known

    def _pass_bytes(self, operand: str, tr: int, tc: int, bits: int, view: bool) -> int:
        if not view and self._footprint[operand] < self._view[operand]:
            return _bytes(self._footprint[operand], bits)
        has_i, has_j, has_t = self._spans[operand]
        rows = self._classes(self.size[self.rows_dim], tr) if has_i else [(tr, 1)]
        cols = self._classes(self.size[self.cols_dim], tc) if has_j else [(tc, 1)]
        times = self._classes(self.size[self.time_dim], self.tt) if has_t else [(self.tt, 1)]
        return sum(nr * nc * nt * self.block_bytes(operand, r, c, bits, t)
                   for r, nr in rows for c, nc in cols for t, nt in times)

    def block_bytes(self, operand: str, r: int, c: int, bits: int, t: int) -> int:
        """``block(operand, r, c, bits, t=t).bytes``, without building the block."""
        role0, role1 = self._roles[operand]
        ext = (r, c, t)
        e0, e1 = ext[role0], ext[role1]
        if e1 == self._width[operand]:
            return (e0 * e1 * bits + 7) // 8
        return (e1 * bits + 7) // 8 * e0

    def hold_bits(self, operand: str) -> int:
        """Width of an operand's values in its SRAM: outputs stay partial sums where the
        reduction runs across folds (ws/is accumulate in the ofmap SRAM); in os they finish
        in the PEs and drain at the output width."""
        return self._hold_bits[operand]

    def single(self, operand: str, nr: int, nc: int) -> bool:
        """The operand is one block for the whole op (loaded once, never refilled)."""
        has_i, has_j, has_t = self._spans[operand]
        return (not has_i or nr == 1) and (not has_j or nc == 1) and (not has_t or self.nt == 1)

    def capacity(self, operand: str, nr: int, nc: int) -> int:
        """Bytes a block may take: a slot, or the whole SRAM for an operand that is loaded once
        and never refilled (it needs no second half to prefetch into)."""
        return self.whole[operand] if self.single(operand, nr, nc) else self.slot[operand]

    def fits(self, operand: str, r: int, c: int, nr: int = 2, nc: int = 2) -> bool:
        role0, role1 = self._roles[operand]
        ext = (r, c, self.tt)
        return ((ext[role0] * ext[role1] * self._hold_bits[operand] + 7) // 8
                <= self.capacity(operand, nr, nc))


def _loads(index: str, rows_outer: bool, nr: int, nc: int, resident: bool) -> int:
    """How many times a block with this (i, j) index is fetched over one time chunk's loop
    nest."""
    index = index.replace("t", "")
    if not resident or index == "ij":
        return nr * nc
    if index == "i":
        return nr if (rows_outer or nr == 1) else nr * nc
    if index == "j":
        return nc if (not rows_outer or nc == 1) else nr * nc
    return 1  # indexed by neither: one block for the whole chunk


@dataclass(frozen=True)
class Estimate:
    """What the planner ranks a candidate by: its energy-delay product, with the energy that
    plans change, its DRAM traffic and the power burnt meanwhile."""

    cycles: float
    dram_bytes: int
    energy_pj: float

    @property
    def edp(self) -> float:
        return self.energy_pj * self.cycles


def _traffic(g: _Geometry, tr: int, tc: int) -> tuple[tuple[int, int], int, int] | None:
    """Exact DRAM bytes of a candidate tiling, rows outer and columns outer (the bytes the
    generated tiles move, from the few distinct block sizes; only the reuse of blocks differs
    between the two loop orders), and the bytes of the first tile's loads and of the last
    tile's writes; None if a block of the stationary operand does not fit. What no machine
    parameter but the buffers changes, so it is remembered with the geometry."""
    key = (tr, tc)
    if key in g._traffics:
        return g._traffics[key]
    op = g.op
    sr, sc = g.size[g.rows_dim], g.size[g.cols_dim]
    nr, nc = ceil(sr / tr), ceil(sc / tc)
    if not g.fits(g.stationary, tr, tc, nr, nc):
        g._traffics[key] = None
        return None
    totals = [0, 0]  # rows outer, columns outer
    first = 0
    for operand in ("a", "b", "c"):
        idx = g.index(operand)
        resident = g.fits(operand, tr, tc, nr, nc)
        if operand == "c":
            for n, rows_outer in enumerate((True, False)):
                keeps = resident and (not rows_outer or nc == 1)
                spills = g.accumulates and nr > 1 and not keeps
                totals[n] += g.pass_bytes("c", tr, tc, op.out_bits)
                if spills:  # partial sums written by all but the last row block, read by all
                    # but the first
                    totals[n] += 2 * (nr - 1) * g.pass_bytes("c", tr, tc, op.acc_bits, view=True)
            continue
        ij = idx.replace("t", "")
        per_block = nr if ij == "i" else (nc if ij == "j" else (nr * nc if ij else 1))
        for n, rows_outer in enumerate((True, False)):
            repeats = _loads(idx, rows_outer, nr, nc, resident) // per_block
            if "t" not in idx and not (resident and g.single(operand, nr, nc)):
                repeats *= g.nt  # reloaded for every time chunk
            totals[n] += repeats * g.pass_bytes(operand, tr, tc, g.hold_bits(operand))
        head = g.dram_block(operand, 0, 0, min(tr, sr), min(tc, sc), tr, tc,
                            g.hold_bits(operand), t=min(g.tt, g.size[g.time_dim])).bytes
        first += min(head, g.capacity(operand, nr, nc))  # a streamed block fills a slot first
    last = _bytes(min(tr, sr) * min(tc, sc) if not g.accumulates else
                  min(tc, sc) * g.tt, op.out_bits)
    out = g._traffics[key] = ((totals[0], totals[1]), first, last)
    return out


def _score(g: _Geometry, tr: int, tc: int, rates: _Rates, array: Array, beat: Beat
           ) -> tuple[Estimate | None, Estimate | None]:
    """Estimated cycles and exact DRAM bytes of a candidate tiling, rows outer and columns
    outer: compute, or the DRAM traffic at peak bandwidth, whichever is longer, plus what the
    pipeline cannot hide (the first tile's loads, the last tile's writes, a request latency
    per tile)."""
    traffic = _traffic(g, tr, tc)
    if traffic is None:
        return None, None
    totals, first, last = traffic
    sr, sc = g.size[g.rows_dim], g.size[g.cols_dim]
    nr, nc = ceil(sr / tr), ceil(sc / tc)
    compute = sum(nr_ * nc_ * nt_ * block_cycles(array, r, c, t, beat)
                  for r, nr_ in g._classes(sr, tr) for c, nc_ in g._classes(sc, tc)
                  for t, nt_ in g._classes(g.size[g.time_dim], g.tt))
    tiles = nr * nc * g.nt
    per_byte = rates.bytes_per_cycle
    out: list[Estimate | None] = []
    for total in totals:
        cycles = (max(compute, total / per_byte) + (first + last) / per_byte
                  + rates.request * tiles)
        out.append(Estimate(cycles, total,
                            total * rates.pj_per_byte + cycles * rates.pj_per_cycle))
    return out[0], out[1]


@dataclass(frozen=True)
class _Rates:
    """What the planner's estimates need of a machine."""

    request: float  # cycles a lone request takes
    bytes_per_cycle: float  # the channel's peak
    pj_per_byte: float  # DRAM energy of a byte moved (a read burst's, per byte)
    pj_per_cycle: float  # power burnt whatever happens: DRAM background and leakage


@lru_cache(maxsize=256)
def planner_rates(hw: Hardware) -> _Rates:
    from accelsim.sim.channel import Channel

    channel = Channel(hw)
    dram = dram_command_energy(hw)
    power_mw = dram.background_mw + static_mw(hw)
    return _Rates(channel.latency_cycles(), channel.peak_bytes_per_cycle,
                  dram.read_burst_pj / dram.burst_bytes, power_mw * hw.cycle_ns)


def _candidates(size: int, unit: int) -> list[int]:
    full = ceil(size / unit) * unit
    out, t = [], unit
    while t < full:
        out.append(t)
        t *= 2
    out.append(full)
    return out


def _time_chunks(g: _Geometry, tc: int, timing: str) -> list[int]:
    """Time chunks worth trying with column tiles of ``tc``: the whole time dimension, and,
    when accumulating outputs would not fit with it, the longest chunk whose output block
    stays on chip across the reduction (no partial sums to DRAM). Cutting time costs fill and
    drain per fold, so it pays only where spills cost more; SCALE-Sim's counting never cuts."""
    whole = g.size[g.time_dim]
    if not g.accumulates or timing == "scalesim":
        return [whole]
    per_time = _bytes(tc, g.op.acc_bits)  # bytes of one time step of a C block
    longest = g.slot["c"] // max(per_time, 1)
    return [whole] if longest >= whole or longest < 1 else [whole, longest]


class _PlanKey:
    """A plan request, hashed and compared by what the plan depends on: the op, the array's
    shape, dataflow and timing, the op's beat on it, the buffers' sizes and buffering, and the
    planner's rates. Machines that differ elsewhere (precision modes giving the same beat,
    vector unit, energy of actions, schedule) share plans."""

    __slots__ = ("hw", "key", "op")

    def __init__(self, hw: Hardware, op: Gemm):
        self.hw, self.op = hw, op
        a = hw.array
        self.key = (op, a.rows, a.cols, a.dataflow, a.timing, beat_for(a, op.a_bits, op.b_bits),
                    tuple((hw.buffer(name).size_bytes, hw.buffer(name).double_buffered)
                          for name in BUFFER_OF.values()), planner_rates(hw))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PlanKey) and self.key == other.key


@lru_cache(maxsize=4096)
def _cached_plan(request: _PlanKey) -> Plan:
    return _plan(request.hw, request.op)


class _Planner:
    """``plan_gemm(hw, op)``: the best tiling of ``op`` on ``hw`` (``_plan``), remembered for
    the last few thousand (op, machine) pairs, machines that plan alike sharing one
    (``_PlanKey``); ``cache_clear``/``cache_info`` as ``functools.lru_cache``'s."""

    def __call__(self, hw: Hardware, op: Gemm) -> Plan:
        return _cached_plan(_PlanKey(hw, op))

    def cache_clear(self) -> None:
        _cached_plan.cache_clear()

    def cache_info(self) -> Any:
        return _cached_plan.cache_info()


plan_gemm = _Planner()


_GEOMETRIES: dict[tuple, _Geometry] = {}
GEOMETRIES = 8192  # geometries kept (the oldest go first)


def _geometry(signature: tuple, op: Gemm, dataflow: str, caps: Capacities,
              tt: int | None) -> _Geometry:
    """The geometry of an op under a dataflow and buffer sizes, with what it remembers (block
    traffic and tile skeletons), shared by every machine that has them and by every op of
    the same signature (what tiling depends on; layer, phase and tensor names are not)."""
    key = (signature, dataflow, caps, tt)
    g = _GEOMETRIES.get(key)
    if g is None:
        if len(_GEOMETRIES) >= GEOMETRIES:
            del _GEOMETRIES[next(iter(_GEOMETRIES))]
        g = _GEOMETRIES[key] = _Geometry(op, dataflow, caps, tt)
    return g


def _plan(hw: Hardware, op: Gemm) -> Plan:
    """The best tiling of ``op`` on ``hw`` and its tile sequence: among the candidates (tile
    sizes the array's fold times powers of two, or the whole dimension; both loop orders; the
    time chunks of ``_time_chunks``), the lowest estimated energy-delay product (fewer DRAM
    bytes on ties)."""
    array = hw.array
    beat = beat_for(array, op.a_bits, op.b_bits)
    R, C = Folding.of(array, beat).row_span, array.cols  # a fold's extent of each dim
    signature, caps = op.signature(), capacities(hw)
    base = _geometry(signature, op, array.dataflow, caps, None)
    sr, sc = base.size[base.rows_dim], base.size[base.cols_dim]
    rates = planner_rates(hw)
    scored: list[tuple[Estimate, int, int, int, bool]] = []
    too_many = 0
    geometries: dict[int, _Geometry] = {}
    for tr in _candidates(sr, R):
        for tc in _candidates(sc, C):
            for tt in _time_chunks(base, tc, array.timing):
                g = geometries.get(tt)
                if g is None:
                    g = geometries[tt] = _geometry(signature, op, array.dataflow, caps, tt)
                if ceil(sr / tr) * ceil(sc / tc) * g.nt > MAX_TILES:
                    too_many += 1
                    continue
                for score, rows_outer in zip(_score(g, tr, tc, rates, array, beat),
                                             (True, False), strict=True):
                    if score is not None:
                        scored.append((score, tr, tc, tt, rows_outer))
    if not scored and too_many and base.fits(base.stationary, R, C):
        raise TilingError(f"gemm m={op.m} n={op.n} k={op.k}: every tiling that fits this "
                          f"machine's buffers needs more than {MAX_TILES:,} tiles, the "
                          "simulator's limit per op; split the op or enlarge the buffers")
    if not scored:
        buf = BUFFER_OF[base.stationary]
        raise TilingError(f"gemm m={op.m} n={op.n} k={op.k}: one {R}x{C} block of operand "
                          f"{base.stationary.upper()} does not fit buffers.{buf} "
                          f"({base.whole[base.stationary]} bytes)")
    estimate, tr, tc, tt, rows_outer = min(
        scored, key=lambda entry: (entry[0].edp, entry[0].dram_bytes))
    g = geometries[tt]
    skeleton, resident = _skeleton(g, tr, tc, rows_outer)
    cycles: dict[tuple, int] = {}  # the few distinct tile timings and accesses
    accesses: dict[tuple, ArrayAccesses] = {}
    tiles = []
    for r, c, t, continuing, steps in skeleton:
        compute = cycles.get((r, c, t))
        if compute is None:
            compute = cycles[(r, c, t)] = block_cycles(array, r, c, t, beat)
        acc = accesses.get((r, c, t, continuing))
        if acc is None:
            acc = accesses[(r, c, t, continuing)] = block_accesses(array, r, c, t, continuing,
                                                                   beat)
        tiles.append(Tile(r, c, compute, acc, steps, t))
    return Plan(tr, tc, tt, rows_outer, dict(resident), beat, estimate.dram_bytes, tuple(tiles))


def _skeleton(g: _Geometry, tr: int, tc: int, rows_outer: bool
              ) -> tuple[tuple[tuple[int, int, int, bool, tuple[Step, ...]], ...],
                         dict[str, bool]]:
    """The tile sequence without the array's timing: for each tile its extents, whether it
    continues a reduction, and its steps; and which operands stay resident. Remembered with
    the geometry (it depends on the op, the dataflow and the buffers only)."""
    key = (tr, tc, rows_outer)
    known = g._skeletons.get(key)
    if known is None:
        nr, nc = ceil(g.size[g.rows_dim] / tr), ceil(g.size[g.cols_dim] / tc)
        resident = {o: g.fits(o, tr, tc, nr, nc) for o in ("a", "b", "c")}
        known = g._skeletons[key] = (tuple(_tiles(g, tr, tc, rows_outer)), resident)
    return known


def _tiles(g: _Geometry, tr: int, tc: int, rows_outer: bool):
    """The tile sequence, as ``_skeleton``'s entries: time chunks outermost, then the (i, j)
    loop nest."""
    op = g.op
    sr, sc = g.size[g.rows_dim], g.size[g.cols_dim]
    nr, nc = ceil(sr / tr), ceil(sc / tc)
    T = g.size[g.time_dim]
    nest = ([(i, j) for i in range(nr) for j in range(nc)] if rows_outer else
            [(i, j) for j in range(nc) for i in range(nr)])
    order = [(i, j, s) for s in range(g.nt) for i, j in nest]
    resident = {o: g.fits(o, tr, tc, nr, nc) for o in ("a", "b", "c")}
    capacity = {o: g.capacity(o, nr, nc) for o in ("a", "b", "c")}
    holds: dict[tuple, int] = {}  # the few distinct block sizes
    idle: dict[tuple, Step] = {}  # steps that move nothing, shared by the tiles that have them
    # the block of each operand each tile works on: its (i, j, s), as far as its storage
    # spans them; a block stays while consecutive tiles share it
    keys = {}
    for operand in ("a", "b", "c"):
        has_i, has_j, has_t = g._spans[operand]
        keys[operand] = [(i if has_i else -1, j if has_j else -1, s if has_t else -1)
                         for i, j, s in order]
    last = len(order) - 1
    for pos, (i, j, s) in enumerate(order):
        r, c = min(tr, sr - i * tr), min(tc, sc - j * tc)
        t = min(g.tt, T - s * g.tt)
        steps = []
        for operand in ("a", "b", "c"):
            k = keys[operand]
            keep = resident[operand]
            acquire = not (keep and pos and k[pos - 1] == k[pos])
            release = not (keep and pos < last and k[pos + 1] == k[pos])
            hold = holds.get((operand, r, c, t))
            if hold is None:
                hold = holds[(operand, r, c, t)] = min(
                    g.block(operand, r, c, g.hold_bits(operand), t=t).bytes, capacity[operand])
            streamed = not keep
            load = write = None
            if operand == "c":
                # Outputs: fresh blocks start empty unless they continue a spilled reduction.
                first_i, last_i = i == 0, i == nr - 1
                if not g.accumulates:
                    first_i = last_i = True
                if acquire and g.accumulates and not first_i:
                    load = g.block("c", r, c, op.acc_bits, i, j, tr, tc, s, t)
                if release:
                    write = (g.dram_block("c", i, j, r, c, tr, tc, op.out_bits, s, t) if last_i
                             else g.block("c", r, c, op.acc_bits, i, j, tr, tc, s, t))
                    write = write if write.bytes else None
            elif acquire:
                load = g.dram_block(operand, i, j, r, c, tr, tc, g.hold_bits(operand), s, t)
                load = load if load.bytes else None
            if load is None and write is None:
                shape = (operand, acquire, streamed, release, hold)
                step = idle.get(shape)
                if step is None:
                    step = idle[shape] = Step(operand, acquire, None, streamed, release, None,
                                              hold)
            else:
                step = Step(operand, acquire, load, streamed, release, write, hold)
            steps.append(step)
        continuing = g.accumulates and i > 0
        yield r, c, t, continuing, tuple(steps)
