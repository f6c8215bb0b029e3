"""Cycle-stepped functional model of a small systolic array: accelsim's correctness anchor.

What it owns: moving real integer operands through an R x C grid of processing elements (PEs),
one clock cycle at a time, for the three classic dataflows (output, weight and input
stationary), computing C = A.B exactly and counting the cycles by stepping. It never
derives a cycle count from a formula: it clocks registers, and a fold ends when its
last output leaves the array.

Why it exists: the fast analytic simulator predicts cycle counts from closed-form
expressions. This model is the independent, slow, literal reference those expressions
are checked against, on arrays up to 16 x 16.

Microarchitecture (all registers advance once per cycle; one hop between neighbouring
PEs takes one cycle):

* Dataflows map the GEMM dims onto (array rows, array cols, time):
  ``os`` rows<-M, cols<-N, streamed T=K;  ``ws`` rows<-K, cols<-N, T=M;
  ``is`` rows<-K, cols<-M, T=N.
* os: row i of A enters from the left, column j of B from the top, skewed by i and j
  cycles; A hops right and B hops down; PE(i,j) accumulates C[i,j]. The cycle after
  the fold's last MAC the accumulators drain down the columns, one row per cycle
  (r cycles); each word leaving the bottom is an output write.
* ws: the r x c tile of B is preloaded first, shifted in from the top one row per cycle
  (r cycles). Then A[m, k0+i] enters row i with a skew of i cycles and hops right;
  partial sums flow down one PE per cycle, each PE adding its product; the psum leaving
  the bottom PE of a column is an output write. Partial sums of different K folds are
  added in the output buffer, outside the array.
* is: ws on transposed operands (C^T = B^T . A^T): PE(i,j) holds A[m0+j, k0+i], B[k0+i, n]
  enters row i, and the psum leaving column j is C[m0+j, n]. It is literally the ws
  machine fed with B^T as the streamed and A^T as the stationary operand.
* Folding: the rows dim is cut into chunks of R PE rows and the cols dim into chunks of C;
  each fold runs to completion (preload/drain included) before the next starts.
* Precision: a PE multiplies ``pack`` (p) pairs of the reduction dimension K per beat and
  adds them into one sum (Bit Fusion's fused PE). In os, K streams through time: a beat
  carries p consecutive K elements of A and of B. In ws/is, K spans the rows: PE row i holds
  p consecutive K elements (a fold covers R x p of K), its p stationary values are preloaded
  together, and each beat brings the p matching streamed values of one time step; the PE
  adds its p products to the psum from above. A beat lasts ``serial`` (s) cycles:
  for s > 1 the streamed operand entering from the left (A for os/ws, B for is) arrives
  bit-serially, LSB first, one two's-complement bit per cycle (Stripes), and the PE
  shift-adds the partial product, subtracting at the sign bit; the other operand is
  latched at the start of the beat. s = 1 means the whole word arrives at once (a plain
  bit-parallel array), so there is no range limit then. Beat q reaches PE(i,j) at cycle
  i + j + q*s after the fold's stream start and finishes s - 1 cycles later.
* Each operand and psum travels with sideband tags (bit position, beat index, "real"
  flag); a PE that would combine operands or psums of different beats raises, so the
  skew and hop timing are checked every cycle rather than assumed.

Two cycle conventions (``timing``):

* ``native``: sum over folds of the cycles from the fold's first cycle (preload start for
  ws/is, first stream cycle for os) to its last cycle with work (last output exit for
  ws/is, last drain cycle for os), as a count. Partial folds use only r <= R rows and
  c <= C cols.
* ``scalesim`` (SCALE-Sim compatibility): every fold is padded to the full R x C array
  (the unused PEs compute on zeros and the skew spans the whole array), os does not drain
  (the fold ends with its last MAC, which counts as that PE's output write), and the
  result is the 0-based index of the cycle of the last output write of the whole GEMM,
  i.e. one less than the number of cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.hardware.model import DATAFLOWS, TIMINGS
from accelsim.sim.mapping import FoldGeometry

MAX_ARRAY_DIM = 16
MAX_SERIAL_BITS = 32
_INT64_MAX = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class FunctionalResult:
    """What one GEMM on the functional array produced.

    ``c``: the exact int64 product A.B. ``cycles``: per ``timing`` (see the module
    docstring). ``folds``: how many array-sized pieces the GEMM was cut into. ``macs``:
    products of two real operands (padding excluded) the PEs performed, counted as they
    finish; always M*N*K when every product was done exactly once.
    """

    c: np.ndarray
    cycles: int
    folds: int
    macs: int


class _TimingViolation(RuntimeError):
    """A PE met operands or psums of different beats: the modelled timing is broken."""


def run_functional(
    a,
    b,
    rows: int,
    cols: int,
    dataflow: str,
    *,
    pack: int = 1,
    serial: int = 1,
    timing: str = "native",
) -> FunctionalResult:
    """Run C = A.B on a ``rows`` x ``cols`` systolic array, stepping it cycle by cycle.

    ``a`` is M x K and ``b`` is K x N, integer arrays. ``dataflow`` is one of ``os``,
    ``ws``, ``is``; ``pack`` elements share a beat, a beat lasts ``serial`` cycles
    (``serial`` > 1: the left-entering operand is bit-serial and must fit in ``serial``
    bits, two's complement). ``timing`` is ``native`` or ``scalesim``. Raises ValueError on
    any malformed input.
    """
    a, b = _validate(a, b, rows, cols, dataflow, pack, serial, timing)
    scalesim = timing == "scalesim"
    geometry = FoldGeometry.of(dataflow)
    if geometry.stationary == "c":  # outputs stay: A enters along the rows, B down the columns
        c, cycles, folds, macs = _run_output_stationary(a, b, rows, cols, pack, serial, scalesim)
    elif geometry.stationary == "b":  # weights stay: A streams, partial sums flow down
        c, cycles, folds, macs = _run_stationary(a, b, rows, cols, pack, serial, scalesim)
    else:  # inputs stay: the same machine on C^T = B^T . A^T (B^T streams, A^T stays)
        ct, cycles, folds, macs = _run_stationary(b.T, a.T, rows, cols, pack, serial, scalesim)
        c = np.ascontiguousarray(ct.T)
    return FunctionalResult(c=c, cycles=cycles, folds=folds, macs=macs)


# --------------------------------------------------------------------------------------------
# Input validation


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _as_int_matrix(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got {arr.ndim} dimension(s) {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if arr.dtype.kind == "u" and int(arr.max()) > _INT64_MAX:
        raise ValueError(f"{name} holds {int(arr.max())}, which does not fit in int64")
    return arr.astype(np.int64)


def _validate(a, b, rows, cols, dataflow, pack, serial, timing) -> tuple[np.ndarray, np.ndarray]:
    if dataflow not in DATAFLOWS:
        raise ValueError(f"dataflow must be one of {', '.join(DATAFLOWS)}; got {dataflow!r}")
    if timing not in TIMINGS:
        raise ValueError(f"timing must be one of {', '.join(TIMINGS)}; got {timing!r}")
    for name, value in (("rows", rows), ("cols", cols)):
        if not _is_int(value) or not 1 <= value <= MAX_ARRAY_DIM:
            raise ValueError(f"{name} must be an integer in 1..{MAX_ARRAY_DIM}, got {value!r}")
    if not _is_int(pack) or pack < 1:
        raise ValueError(f"pack must be an integer >= 1, got {pack!r}")
    if not _is_int(serial) or not 1 <= serial <= MAX_SERIAL_BITS:
        raise ValueError(f"serial must be an integer in 1..{MAX_SERIAL_BITS}, got {serial!r}")
    a = _as_int_matrix(a, "a")
    b = _as_int_matrix(b, "b")
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"inner dimensions differ: a is {a.shape[0]}x{a.shape[1]} (M x K), "
            f"b is {b.shape[0]}x{b.shape[1]} (K x N)"
        )
    if serial > 1:
        name, operand = ("b", b) if dataflow == "is" else ("a", a)
        lo, hi = -(1 << (serial - 1)), (1 << (serial - 1)) - 1
        bad = (operand < lo) | (operand > hi)
        if bad.any():
            value = int(operand[bad].flat[0])
            raise ValueError(
                f"{name} is the bit-serial operand of dataflow {dataflow!r} and must fit in "
                f"serial={serial} bits two's complement ({lo}..{hi}); it holds {value}"
            )
    bound = int(np.abs(a).max()) * int(np.abs(b).max()) * a.shape[1]
    if bound > _INT64_MAX:
        raise ValueError(
            f"the product could overflow int64 (max|a| * max|b| * K = {bound}); use smaller values"
        )
    return a, b


# --------------------------------------------------------------------------------------------
# Wires, registers and edge feeders shared by both PE grids


@dataclass
class _Wires:
    """A bundle of operand registers (one per PE or per edge lane) plus their sideband tags.

    ``data`` [..., p]: the digit (one bit when bit-serial) or word of each of the p packed
    lanes. ``pos`` [...]: bit position within the beat, -1 for a bubble (nothing there).
    ``beat`` [...]: which beat the value belongs to (-1 for a bubble). ``real`` [..., p]:
    whether the lane carries a real element rather than padding.
    """

    data: np.ndarray
    pos: np.ndarray
    beat: np.ndarray
    real: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, ...], p: int) -> _Wires:
        return cls(
            data=np.zeros((*shape, p), dtype=np.int64),
            pos=np.full(shape, -1, dtype=np.int64),
            beat=np.full(shape, -1, dtype=np.int64),
            real=np.zeros((*shape, p), dtype=bool),
        )

    def shifted(self, inject: _Wires, axis: int) -> _Wires:
        """Every register takes its neighbour's value along ``axis``; lane 0 takes ``inject``."""
        pairs = zip(self._fields(), inject._fields(), strict=True)
        return _Wires(*(_shift(old, new, axis) for old, new in pairs))

    def _fields(self):
        return (self.data, self.pos, self.beat, self.real)


def _shift(reg: np.ndarray, inject: np.ndarray, axis: int) -> np.ndarray:
    """One hop along ``axis`` (0: down the columns, 1: right along the rows)."""
    head = np.expand_dims(inject, axis)
    tail = reg[:-1] if axis == 0 else reg[:, :-1]
    return np.concatenate([head, tail], axis=axis)


class _EdgeFeeder:
    """The buffer feeding one edge of the array: one stream per lane (PE row or column).

    Lane e's stream starts e cycles after the fold's stream start (the skew). Beat q of a
    lane is injected from cycle e + q*s on: bit-serially over s cycles (one bit per cycle,
    LSB first) when ``serial``, otherwise as one word on the beat's first cycle, which
    the PEs latch for the beat.
    """

    def __init__(self, streams: np.ndarray, n_lanes: int, p: int, s: int, serial: bool):
        used, length = streams.shape
        self.n_beats = -(-length // p)
        self.s, self.serial = s, serial
        self._beats = np.zeros((n_lanes, self.n_beats * p), dtype=np.int64)
        self._beats[:used, :length] = streams
        self._beats = self._beats.reshape(n_lanes, self.n_beats, p)
        self._real = np.zeros((n_lanes, self.n_beats * p), dtype=bool)
        self._real[:used, :length] = True
        self._real = self._real.reshape(n_lanes, self.n_beats, p)
        self._lanes = np.arange(n_lanes)
        self._skew = np.arange(n_lanes)  # lane e starts e cycles late

    def at(self, tau: int) -> _Wires:
        """What the feeder drives into lane 0 of each edge lane at stream cycle ``tau``."""
        local = tau - self._skew
        beat, bit = np.divmod(local, self.s)
        on = (local >= 0) & (beat < self.n_beats)
        if not self.serial:
            on &= bit == 0
        q = np.clip(beat, 0, self.n_beats - 1)
        words = self._beats[self._lanes, q]
        if self.serial and self.s > 1:
            words = (words >> bit[:, None]) & 1  # arithmetic shift: two's-complement bits
        return _Wires(
            data=np.where(on[:, None], words, 0),
            pos=np.where(on, bit, -1),
            beat=np.where(on, beat, -1),
            real=self._real[self._lanes, q] & on[:, None],
        )


def _bit_weight(pos: np.ndarray, s: int) -> np.ndarray:
    """Weight of the digit at bit ``pos``: 2^pos, negative for the sign bit; 1 if bit-parallel."""
    if s == 1:
        return np.where(pos >= 0, 1, 0).astype(np.int64)
    weight = np.left_shift(np.int64(1), np.maximum(pos, 0))
    weight = np.where(pos == s - 1, -weight, weight)
    return np.where(pos >= 0, weight, 0)


def _watchdog(cycle: int, limit: int) -> None:
    if cycle > limit:
        raise RuntimeError(f"functional array still busy after {cycle} cycles; the model is stuck")


# --------------------------------------------------------------------------------------------
# Output stationary


def _run_output_stationary(a, b, rows, cols, p, s, scalesim):
    """Fold M over the array rows and N over the array cols; each fold owns a C tile."""
    m_dim, n_dim = a.shape[0], b.shape[1]
    c = np.zeros((m_dim, n_dim), dtype=np.int64)
    cycles = folds = macs = 0
    for m0 in range(0, m_dim, rows):
        for n0 in range(0, n_dim, cols):
            a_rows = a[m0 : m0 + rows, :]
            b_cols = b[:, n0 : n0 + cols].T
            ra, ca = (rows, cols) if scalesim else (a_rows.shape[0], b_cols.shape[0])
            tile, last, fold_macs = _os_fold(a_rows, b_cols, ra, ca, p, s, drain=not scalesim)
            c[m0 : m0 + tile.shape[0], n0 : n0 + tile.shape[1]] = tile
            cycles += last + 1
            folds += 1
            macs += fold_macs
    return c, cycles - 1 if scalesim else cycles, folds, macs


def _os_fold(a_rows, b_cols, ra, ca, p, s, drain):
    """Step one output-stationary fold on an ``ra`` x ``ca`` grid.

    ``a_rows`` [r, K] feeds the left edge (row i -> PE row i), ``b_cols`` [c, K] the top edge.
    Returns (C tile [r, c], index of the fold's last busy cycle, real MACs).
    """
    r, c = a_rows.shape[0], b_cols.shape[0]
    left = _EdgeFeeder(a_rows, ra, p, s, serial=True)
    top = _EdgeFeeder(b_cols, ca, p, s, serial=False)
    n_beats = left.n_beats
    a_reg = _Wires.empty((ra, ca), p)  # the A digit in each PE, passed right every cycle
    b_reg = _Wires.empty((ra, ca), p)  # the B word in each PE, passed down every cycle
    b_latch = np.zeros((ra, ca, p), dtype=np.int64)  # B held by the PE for its current beat
    b_latch_real = np.zeros((ra, ca, p), dtype=bool)
    acc = np.zeros((ra, ca), dtype=np.int64)
    beats_done = np.zeros((ra, ca), dtype=np.int64)
    macs = 0
    limit = 4 * (ra + ca + n_beats * s) + 16

    t = -1
    while True:  # stream phase: t is the cycle index within the fold, 0 = first stream cycle
        t += 1
        _watchdog(t, limit)
        a_reg = a_reg.shifted(left.at(t), axis=1)
        b_reg = b_reg.shifted(top.at(t), axis=0)
        active = a_reg.pos >= 0
        starting = active & (a_reg.pos == 0)
        if np.any(starting & ((b_reg.pos < 0) | (b_reg.beat != a_reg.beat))):
            raise _TimingViolation(f"os cycle {t}: an A beat reached a PE without its B word")
        b_latch = np.where(starting[..., None], b_reg.data, b_latch)
        b_latch_real = np.where(starting[..., None], b_reg.real, b_latch_real)
        products = (a_reg.data * b_latch).sum(axis=-1)  # p products summed into one accumulator
        acc += products * _bit_weight(a_reg.pos, s)
        finishing = active & (a_reg.pos == s - 1)
        macs += int((finishing[..., None] & a_reg.real & b_latch_real).sum())
        beats_done += finishing
        if np.all(beats_done == n_beats):
            break  # this cycle held the fold's last MAC

    tile = np.zeros((r, c), dtype=np.int64)
    if not drain:  # scalesim: the last MAC is the output write; read the accumulators
        tile[:] = acc[:r, :c]
        return tile, t, macs

    origin = np.broadcast_to(np.arange(ra)[:, None], (ra, ca))  # which C row each word is
    written = np.zeros((r, c), dtype=bool)
    for _ in range(ra):  # drain: shift the accumulators down one row per cycle
        t += 1
        out_words, out_rows = acc[-1], origin[-1]
        acc = _shift(acc, np.zeros(ca, dtype=np.int64), axis=0)
        origin = _shift(origin, np.full(ca, -1), axis=0)
        cols_out = np.arange(c)
        tile[out_rows[:c], cols_out] = out_words[:c]
        written[out_rows[:c], cols_out] = True
    assert written.all(), "drain lost an output"
    return tile, t, macs


# --------------------------------------------------------------------------------------------
# Weight stationary (and input stationary, by transposition)


def _run_stationary(a, b, rows, cols, p, s, scalesim):
    """ws: A [M, K] streams through the array, B [K, N] is stationary; K over the array rows
    (p consecutive K elements per PE row) and N over the array cols. Partial sums of the K
    folds accumulate in the output buffer."""
    k_dim, n_dim = b.shape
    m_dim = a.shape[0]
    span = rows * p
    c = np.zeros((m_dim, n_dim), dtype=np.int64)
    cycles = folds = macs = 0
    for k0 in range(0, k_dim, span):
        k1 = min(k0 + span, k_dim)
        r = -(-(k1 - k0) // p)  # PE rows this fold uses
        for n0 in range(0, n_dim, cols):
            n1 = min(n0 + cols, n_dim)
            # PE row i holds K elements k0 + i*p .. k0 + i*p + p - 1 (zero-padded, not real)
            lanes_a = np.zeros((m_dim, r * p), dtype=np.int64)
            lanes_a[:, : k1 - k0] = a[:, k0:k1]
            real_k = np.zeros(r * p, dtype=bool)
            real_k[: k1 - k0] = True
            # stream [r, M * p]: for PE row i, time step m carries its p values as one beat
            stream = lanes_a.reshape(m_dim, r, p).transpose(1, 0, 2).reshape(r, m_dim * p)
            weights = np.zeros((r * p, n1 - n0), dtype=np.int64)
            weights[: k1 - k0] = b[k0:k1, n0:n1]
            weights = weights.reshape(r, p, n1 - n0).transpose(0, 2, 1)  # [r, c, p]
            real = real_k.reshape(r, p)
            ra, ca = (rows, cols) if scalesim else (r, n1 - n0)
            psums, last, fold_macs = _stationary_fold(stream, weights, real, ra, ca, p, s)
            c[:, n0:n1] += psums
            cycles += last + 1
            folds += 1
            macs += fold_macs
    return c, cycles - 1 if scalesim else cycles, folds, macs


def _stationary_fold(stream, weights, real_k, ra, ca, p, s):
    """Step one weight-stationary fold on an ``ra`` x ``ca`` grid: preload, then stream.

    ``stream`` [r, T * p] feeds the left edge, p values of one time step per beat;
    ``weights`` [r, c, p] are preloaded, p per PE; ``real_k`` [r, p] says which of a PE row's
    K lanes exist. Returns (psums [T, c] that left the bottom of the columns, index of the
    last output cycle, real MACs).
    """
    r, c, _ = weights.shape
    length = stream.shape[1] // p
    w_tile = np.zeros((ra, ca, p), dtype=np.int64)
    w_tile[:r, :c] = weights
    w_real_tile = np.zeros((ra, ca, p), dtype=bool)
    w_real_tile[:r, :c] = real_k[:, None, :]

    # Preload: weight rows (p values per PE) are shifted in from the top, one per cycle, last
    # row first.
    w_reg = np.zeros((ra, ca, p), dtype=np.int64)
    w_real = np.zeros((ra, ca, p), dtype=bool)
    t = -1
    for k in range(ra):
        t += 1
        w_reg = _shift(w_reg, w_tile[ra - 1 - k], axis=0)
        w_real = _shift(w_real, w_real_tile[ra - 1 - k], axis=0)
    assert np.array_equal(w_reg, w_tile)
    stream_start = t + 1

    left = _EdgeFeeder(stream, ra, p, s, serial=True)
    n_beats = left.n_beats
    a_reg = _Wires.empty((ra, ca), p)  # the A digits of each PE's p lanes, passed right
    part = np.zeros((ra, ca), dtype=np.int64)  # this beat's shift-added dot product
    psum = np.zeros((ra, ca), dtype=np.int64)  # psum-out register of each PE
    psum_valid = np.zeros((ra, ca), dtype=bool)  # set the cycle after the PE finished a beat
    psum_beat = np.full((ra, ca), -1, dtype=np.int64)
    out = np.zeros((n_beats, c), dtype=np.int64)
    written = np.zeros((n_beats, c), dtype=bool)
    exits = np.zeros(ca, dtype=np.int64)
    macs = 0
    limit = stream_start + 4 * (ra + ca + n_beats * s) + 16

    while True:  # stream phase: t keeps counting from the preload
        t += 1
        _watchdog(t, limit)
        a_reg = a_reg.shifted(left.at(t - stream_start), axis=1)
        psum_in = _shift(psum, np.zeros(ca, dtype=np.int64), axis=0)  # row 0 adds onto 0
        active = a_reg.pos >= 0
        weight = _bit_weight(a_reg.pos, s)
        contrib = (a_reg.data * w_reg).sum(axis=-1) * weight  # p products, one sum
        first_bit = active & (a_reg.pos == 0)
        part = np.where(first_bit, contrib, part + contrib)  # contrib is 0 where inactive
        finishing = active & (a_reg.pos == s - 1)
        # A PE finishing beat q must see the psum of beat q that the PE above produced the
        # cycle before; row 0 adds onto zero.
        from_above_ok = psum_valid[:-1] & (psum_beat[:-1] == a_reg.beat[1:])
        if np.any(finishing[1:] & ~from_above_ok):
            raise _TimingViolation(
                f"ws cycle {t}: a PE finished a beat without its psum from above"
            )
        psum = np.where(finishing, psum_in + part, psum)
        psum_valid = finishing
        psum_beat = np.where(finishing, a_reg.beat, psum_beat)
        macs += int((finishing[..., None] & a_reg.real & w_real).sum())

        for j in np.flatnonzero(finishing[-1]):  # psums leaving the bottom: output writes
            exits[j] += 1
            if j < c:  # padding columns (scalesim) write nowhere
                q = psum_beat[-1, j]
                assert not written[q, j], "an output was written twice"
                written[q, j] = True
                out[q, j] = psum[-1, j]
        if np.all(exits == n_beats):
            break  # this cycle held the fold's last output write
    assert written.all(), "an output never left the array"
    return out[:length], t, macs
