"""Recording training as a trace: every GEMM the layers run, every transfer and vector step.

The tracer is a GEMM observer installed after the method's quantiser, so it sees each op with its
final operand widths; C's width is the stored width of the tensor C holds. The vector work of a
pass comes planned by shape (``accelsim.train.vectors``): ``expect`` hands the tracer a pass's
steps, and each GEMM it sees first releases the vector records planned before it, so the trace
holds them in the order a device runs them; ``flush`` releases the rest at the end of the pass.
Evaluation passes are not training and are not recorded (``paused``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from accelsim.trace.io import TraceWriter
from accelsim.trace.records import OPERAND_TENSORS, Gemm, Transfer, Vector
from accelsim.train.gemm import GemmObserver, GemmOp
from accelsim.train.methods import Method
from accelsim.train.vectors import GemmMark, Step


class Tracer(GemmObserver):
    def __init__(self, writer: TraceWriter, method: Method):
        self.writer, self.method = writer, method
        self.iteration = 0
        self.enabled = True
        self.gemms = 0
        self.transfers = 0
        self.vectors = 0
        self._steps: list[Step] = []  # what the running pass has still to emit, in order

    def record(self, op: GemmOp) -> None:
        if not self.enabled:
            return
        self._release_until(GemmMark(op.layer, op.phase))
        c_tensor = OPERAND_TENSORS[op.phase][2]
        c_bits = (self.method.value_bits(op.layer) if c_tensor == "activations" else
                  self.method.bits(op.layer, c_tensor))
        self.writer.add(Gemm(iter=self.iteration, layer=op.layer, phase=op.phase, m=op.m,
                             n=op.n, k=op.k, a_bits=op.a_bits, b_bits=op.b_bits,
                             acc_bits=self.method.acc_bits,
                             c_bits=c_bits, dtype=op.dtype,
                             a_elements=_smaller(op.a_elements, op.m * op.k),
                             c_elements=_smaller(op.c_elements, op.m * op.n)))
        self.gemms += 1

    def transfer(self, op: Transfer) -> None:
        if self.enabled:
            self.writer.add(op)
            self.transfers += 1

    def vector(self, op: Vector) -> None:
        if self.enabled:
            self.writer.add(op)
            self.vectors += 1

    def emit(self, op: Transfer | Vector) -> None:
        """Record a transfer or a vector step now."""
        if isinstance(op, Vector):
            self.vector(op)
        else:
            self.transfer(op)

    def expect(self, steps: Iterable[Step]) -> None:
        """The planned steps of the pass about to run (what is left of the last is dropped:
        ``flush`` it first)."""
        self._steps = list(steps)

    def flush(self) -> None:
        """Emit every vector step still planned for the pass that just ran."""
        self._release(len(self._steps))

    def _release_until(self, mark: GemmMark) -> None:
        """Emit the vector steps planned before ``mark`` and consume it; a GEMM nobody planned
        (its layer did not describe it) releases nothing."""
        try:
            at = self._steps.index(mark)
        except ValueError:
            return
        self._release(at)
        del self._steps[0]

    def _release(self, count: int) -> None:
        for step in self._steps[:count]:
            if isinstance(step, Vector):
                self.vector(step)
        del self._steps[:count]

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True


def _smaller(elements: int | None, view: int) -> int | None:
    """The footprint when it is smaller than the view (else the default, omitted)."""
    return elements if elements is not None and elements < view else None
