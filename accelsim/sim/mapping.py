"""How a GEMM maps onto the systolic array: the one timing model all three dataflows share.

C[M,N] = A[M,K].B[K,N]. A dataflow decides which GEMM dimension spans the array rows, which the
columns and which streams through time (SCALE-Sim's mapping):

    dataflow  rows  cols  time   stationary in PEs   row-side operand   column-side operand
    os        M     N     K      C (outputs)         A                  B
    ws        K     N     M      B (weights)         A                  C (partial sums)
    is        K     M     N      A (inputs)          B                  C (partial sums)

A GEMM is cut into folds of at most R x C PEs. A fold with r rows and c columns used streams its
time dimension as *beats* (``pack`` elements of the time dimension per beat, ``serial`` cycles per
beat, set by the precision mode) and costs, in accelsim's native timing,

    2r + c - 2 + ceil(T / pack) * serial   cycles

(r cycles of preload for ws/is or of output drain for os, r + c - 2 cycles of skew across the
array, one beat per step). Binary operands (1 x 1 bit) are XNOR-popcount beats: in Bit Fusion the
bricks become native^2 XNOR lanes, bit-serially one cycle carries the whole 1-bit beat. ``timing: scalesim`` reproduces SCALE-Sim 3.0's counting instead: every
fold pays the full array, os has no drain, and the GEMM reports the last cycle's 0-based index
(``folds x per-fold - 1``). The cycle-stepped functional model in ``functional.py`` executes the
same microarchitecture and must agree with these formulas cycle for cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """How the time dimension streams: ``pack`` elements per beat, ``serial`` cycles per beat."""

    pack: int = 1
    serial: int = 1

    def steps(self, t: int) -> int:
        """Cycles the stream of ``t`` elements occupies one PE."""
        return ceil(t / self.pack) * self.serial


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
    R, C = array.rows, array.cols
    fr, fc = ceil(rows_used / R), ceil(cols_used / C)
    steps = beat.steps(t)
    if array.timing == "scalesim":
        preload = R if FoldGeometry.of(array.dataflow).accumulates else 0  # ws/is load the PEs
        per_fold = preload + R + C + steps - 2
        return fr * fc * per_fold
    # Sum over folds of 2r + c - 2 + steps: each row chunk appears once per column fold.
    return 2 * fc * rows_used + fr * cols_used + fr * fc * (steps - 2)


def gemm_cycles(array: Array, m: int, n: int, k: int, a_bits: int = 8, b_bits: int = 8) -> int:
    """Stall-free compute cycles of a whole GEMM (the closed form the simulator must match)."""
    rows, cols, t = dims(array.dataflow, m, n, k)
    total = block_cycles(array, rows, cols, t, beat_for(array, a_bits, b_bits))
    return total - 1 if array.timing == "scalesim" else total


def folds(array: Array, m: int, n: int, k: int) -> int:
    rows, cols, _ = dims(array.dataflow, m, n, k)
    return ceil(rows / array.rows) * ceil(cols / array.cols)


@dataclass(frozen=True)
class ArrayAccesses:
    """Elements the array reads from / writes to each SRAM for one block of folds."""

    a_reads: int
    b_reads: int
    c_reads: int  # partial sums read back to accumulate onto
    c_writes: int  # outputs or partial sums written


def block_accesses(array: Array, rows_used: int, cols_used: int, t: int,
                   accumulate_onto_existing: bool) -> ArrayAccesses:
    """SRAM traffic of a block: the streamed operands are read once per fold that needs them,
    the stationary one once; ws/is write a partial sum per fold and read back all but the first
    (or all of them when the block continues an earlier block's reduction)."""
    R, C = array.rows, array.cols
    fr, fc = ceil(rows_used / R), ceil(cols_used / C)
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
