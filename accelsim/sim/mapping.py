"""How a GEMM maps onto the systolic array: the one timing model all three dataflows share.

C[M,N] = A[M,K].B[K,N]. A dataflow decides which GEMM dimension spans the array rows, which the
columns and which streams through time (SCALE-Sim's mapping):

    dataflow  rows  cols  time   stationary in PEs   row-side operand   column-side operand
    os        M     N     K      C (outputs)         A                  B
    ws        K     N     M      B (weights)         A                  C (partial sums)
    is        K     M     N      A (inputs)          B                  C (partial sums)

The precision mode sets a *beat* (``beat_for``): a PE multiplies ``pack`` pairs of the
reduction dimension K per step and adds them into one partial sum (Bit Fusion's fused PE), and
a step lasts ``serial`` cycles (bit-serial operands, or operands wider than the PE). Packing
follows K wherever the dataflow puts it: along time in os (a step consumes ``pack`` K
elements), along the rows in ws and is (a PE row holds ``pack`` K elements, so a fold spans
R x pack of K). A GEMM is cut into folds of at most R PE rows and C columns; a fold using r PE
rows and c columns costs, in accelsim's native timing,

    2r + c - 2 + steps      cycles,    steps = ceil(T / pack_T) * serial

(r cycles of preload for ws/is or of output drain for os, r + c - 2 cycles of skew across the
array, one beat per step; ``pack_T`` is ``pack`` in os, 1 in ws/is). So Bit Fusion's rule,
M x ceil(K / (rows x pf)) x ceil(N / cols) cycles for ws, holds up to fill and drain. Binary
operands (1 x 1 bit) are XNOR-popcount beats: in Bit Fusion the bricks become native^2 XNOR
lanes, bit-serially one cycle carries the whole 1-bit beat. ``timing: scalesim`` reproduces
SCALE-Sim 3.0's counting instead: every fold pays the full array, os has no drain, and the GEMM
reports the last cycle's 0-based index (``folds x per-fold - 1``). The cycle-stepped functional
model in ``functional.py`` executes the same microarchitecture and must agree with these
formulas cycle for cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil

from accelsim.hardware.model import Array


@dataclass(frozen=True)
class FoldGeometry:
    """Which GEMM dimension spans the array's rows, its columns and time under a dataflow, and
    which operand stays in the PEs, enters along the rows or along the columns.

    The one description of a mapping: the tiler cuts blocks by it, the event model counts
    busy PEs by it and the functional array chooses its machine by it."""

    dataflow: str
    rows_dim: str
    cols_dim: str
    time_dim: str
    stationary: str  # the operand held in the PEs: a, b or c
    row_side: str  # the operand entering along the rows (from the left)
    col_side: str  # the operand along the columns (from the top, or leaving at the bottom)

    @classmethod
    def of(cls, dataflow: str) -> FoldGeometry:
        return _GEOMETRIES[dataflow]

    def sizes(self, m: int, n: int, k: int) -> tuple[int, int, int]:
        """(rows, cols, time) extents of a GEMM."""
        size = {"m": m, "n": n, "k": k}
        return size[self.rows_dim], size[self.cols_dim], size[self.time_dim]

    @property
    def accumulates(self) -> bool:
        """Outputs leave the array as partial sums reduced over the rows dimension (ws, is)."""
        return self.col_side == "c"


_GEOMETRIES = {
    "os": FoldGeometry("os", "m", "n", "k", stationary="c", row_side="a", col_side="b"),
    "ws": FoldGeometry("ws", "k", "n", "m", stationary="b", row_side="a", col_side="c"),
    "is": FoldGeometry("is", "k", "m", "n", stationary="a", row_side="b", col_side="c"),
}


@dataclass(frozen=True)
class Beat:
    """A PE's step: ``pack`` K-pairs multiplied and summed, ``serial`` cycles long."""

    pack: int = 1
    serial: int = 1


@dataclass(frozen=True)
class Folding:
    """A GEMM's folds on one array under one beat: how many elements of the rows dimension a
    PE row holds (``rows_pack``), of the time dimension a step consumes (``time_pack``)."""

    rows: int
    cols: int
    rows_pack: int
    time_pack: int
    serial: int

    @classmethod
    def of(cls, array: Array, beat: Beat) -> Folding:
        return _folding(array, beat)

    @property
    def row_span(self) -> int:
        """Elements of the rows dimension one fold covers."""
        return self.rows * self.rows_pack

    def steps(self, t: int) -> int:
        """Cycles the stream of ``t`` time elements occupies one PE."""
        return ceil(t / self.time_pack) * self.serial

    def pe_rows(self, rows_used: int) -> int:
        """PE rows all folds of ``rows_used`` elements occupy, summed over the row folds."""
        span = self.row_span
        full, rest = divmod(rows_used, span)
        return full * self.rows + ceil(rest / self.rows_pack)

    def folds(self, rows_used: int, cols_used: int) -> tuple[int, int]:
        return ceil(rows_used / self.row_span), ceil(cols_used / self.cols)


@lru_cache(maxsize=1024)
def _folding(array: Array, beat: Beat) -> Folding:
    """``Folding.of``, one per (array, beat): the tiler and the event model ask for it per
    block."""
    g = FoldGeometry.of(array.dataflow)
    k_on_rows = g.rows_dim == "k"
    return Folding(array.rows, array.cols, beat.pack if k_on_rows else 1,
                   beat.pack if g.time_dim == "k" else 1, beat.serial)


def _pow2_at_least(bits: int, floor: int) -> int:
    value = max(floor, 1)
    while value < bits:
        value *= 2
    return value


def beat_for(array: Array, a_bits: int, b_bits: int) -> Beat:
    """The beat shape a precision mode gives a GEMM with these operand widths."""
    native = array.native_bits
    mode = array.precision_scaling
    if a_bits == 1 and b_bits == 1 and mode != "fixed":  # binary: XNOR and popcount
        return Beat(native * native, 1) if mode == "bit_fusion" else Beat(1, 1)
    if mode == "fixed":
        return Beat(1, ceil(a_bits / native) * ceil(b_bits / native))
    if mode == "bit_fusion":
        ba = _pow2_at_least(a_bits, array.fusion_min_bits)
        bb = _pow2_at_least(b_bits, array.fusion_min_bits)
        if ba * bb <= native * native:
            return Beat(native * native // (ba * bb), 1)
        return Beat(1, ceil(ba * bb / (native * native)))
    if mode == "bit_serial":
        # the operand entering from the left arrives bit-serially
        left_is_b = FoldGeometry.of(array.dataflow).row_side == "b"
        streamed, other = (b_bits, a_bits) if left_is_b else (a_bits, b_bits)
        return Beat(1, streamed * ceil(other / native))
    raise ValueError(f"unknown precision mode {mode!r}")


def dims(dataflow: str, m: int, n: int, k: int) -> tuple[int, int, int]:
    """(rows-dim, cols-dim, time-dim) sizes of a GEMM under a dataflow."""
    return FoldGeometry.of(dataflow).sizes(m, n, k)


def block_cycles(array: Array, rows_used: int, cols_used: int, t: int, beat: Beat) -> int:
    """Compute cycles of a block of ``rows_used`` x ``cols_used`` of the rows/cols dims, i.e. of
    all its folds run back to back (closed form, exact for either timing)."""
    f = Folding.of(array, beat)
    fr, fc = f.folds(rows_used, cols_used)
    steps = f.steps(t)
    if array.timing == "scalesim":
        R, C = array.rows, array.cols
        preload = R if FoldGeometry.of(array.dataflow).accumulates else 0  # ws/is load the PEs
        per_fold = preload + R + C + steps - 2
        return fr * fc * per_fold
    # Sum over folds of 2r + c - 2 + steps: each row chunk appears once per column fold.
    return 2 * fc * f.pe_rows(rows_used) + fr * cols_used + fr * fc * (steps - 2)


def busy_pe_cycles(array: Array, rows_used: int, cols_used: int, t: int, beat: Beat) -> int:
    """PE-cycles spent on useful steps by a block (the utilisation numerator)."""
    f = Folding.of(array, beat)
    return f.pe_rows(rows_used) * cols_used * f.steps(t)


def gemm_cycles(array: Array, m: int, n: int, k: int, a_bits: int = 8, b_bits: int = 8) -> int:
    """Stall-free compute cycles of a whole GEMM (the closed form the simulator must match)."""
    rows, cols, t = dims(array.dataflow, m, n, k)
    total = block_cycles(array, rows, cols, t, beat_for(array, a_bits, b_bits))
    return total - 1 if array.timing == "scalesim" else total


def folds(array: Array, m: int, n: int, k: int, a_bits: int = 8, b_bits: int = 8) -> int:
    rows, cols, _ = dims(array.dataflow, m, n, k)
    fr, fc = Folding.of(array, beat_for(array, a_bits, b_bits)).folds(rows, cols)
    return fr * fc


@dataclass(frozen=True)
class ArrayAccesses:
    """Elements the array reads from / writes to each SRAM for one block of folds."""

    a_reads: int
    b_reads: int
    c_reads: int  # partial sums read back to accumulate onto
    c_writes: int  # outputs or partial sums written


def block_accesses(array: Array, rows_used: int, cols_used: int, t: int,
                   accumulate_onto_existing: bool, beat: Beat) -> ArrayAccesses:
    """SRAM traffic of a block: the streamed operands are read once per fold that needs them,
    the stationary one once; ws/is write a partial sum per fold and read back all but the first
    (or all of them when the block continues an earlier block's reduction)."""
    fr, fc = Folding.of(array, beat).folds(rows_used, cols_used)
    stationary = rows_used * cols_used
    row_side = fc * rows_used * t  # each column fold re-streams the row-side operand
    col_side = fr * cols_used * t  # each row fold re-streams (or re-accumulates) the column side
    g = FoldGeometry.of(array.dataflow)
    if not g.accumulates:  # os: C stays, A along the rows, B along the columns
        return ArrayAccesses(a_reads=row_side, b_reads=col_side, c_reads=0, c_writes=stationary)
    psum_reads = col_side - (0 if accumulate_onto_existing else cols_used * t)
    reads = {g.stationary: stationary, g.row_side: row_side}
    return ArrayAccesses(a_reads=reads["a"], b_reads=reads["b"], c_reads=psum_reads,
                         c_writes=col_side)
