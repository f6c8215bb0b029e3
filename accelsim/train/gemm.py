"""The one matrix multiply every layer goes through, and the hook that watches it.

What it owns: :func:`gemm`, computing C[m,n] = A[m,k] . B[k,n] for a named layer and phase,
and the observer protocol that lets a training method quantise the operands and a tracer record
the exact (m, n, k) and operand widths. No layer calls ``@`` itself, so nothing escapes the trace.

Operand roles follow the trace contract (``accelsim.trace.records.OPERAND_TENSORS``):

==============  ======================  =====================  ==============
phase           A [m,k] (streamed)      B [k,n] (stationary)   C [m,n]
==============  ======================  =====================  ==============
``fwd``         activations             weights                activations
``bwd_data``    errors                  weights (transposed)   errors
``bwd_weight``  activations (transp.)   errors                 weight gradients
==============  ======================  =====================  ==============

Observers are installed with ``with observing(obs): ...`` and stack: on every GEMM each
installed observer's :meth:`GemmObserver.operands` runs in installation order (a quantiser may
replace A and B by their quantised values and say how many bits they now have), the product is
taken, then every observer's :meth:`GemmObserver.record` sees the final :class:`GemmOp`. With no
observer installed, :func:`gemm` is ``a @ b`` plus one context-variable lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from accelsim.trace.records import PHASES as TRACE_PHASES

PHASES = tuple(p for p in TRACE_PHASES if p != "update")  # the phases that run GEMMs
FP_BITS = 32  # width reported for an operand nobody quantised (float64 checks included)


@dataclass(frozen=True)
class GemmOp:
    """One GEMM as the trace sees it: who, when, how big, and how wide its operands are.

    ``dtype`` is ``"fp"`` while the operands are floats and ``"int"`` once an observer has put
    them on a fixed-point grid (``a_bits``/``b_bits`` then give that grid's width).
    """

    layer: str
    phase: str
    m: int
    n: int
    k: int
    a_bits: int = FP_BITS
    b_bits: int = FP_BITS
    dtype: str = "fp"
    a_elements: int | None = None  # distinct elements behind a view (im2col), if smaller
    c_elements: int | None = None

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k


class GemmObserver:
    """Base of everything that watches GEMMs. Override one hook or both; the defaults do nothing.

    ``operands`` may return new A and B (same shapes) and an ``op`` with updated ``a_bits``,
    ``b_bits`` and ``dtype`` (``dataclasses.replace``); it must not change layer, phase or sizes.
    ``record`` sees the op after every observer's ``operands`` has run and the product is taken.
    """

    def operands(self, op: GemmOp, a: np.ndarray, b: np.ndarray
                 ) -> tuple[GemmOp, np.ndarray, np.ndarray]:
        return op, a, b

    def record(self, op: GemmOp) -> None:
        pass


_observers: ContextVar[tuple[GemmObserver, ...]] = ContextVar("accelsim_gemm_observers",
                                                              default=())


def installed() -> tuple[GemmObserver, ...]:
    """The observers installed now, in installation order: what a front-end that computes its
    GEMMs itself (the torch front-end) hands its operands to."""
    return _observers.get()


@contextmanager
def observing(observer: GemmObserver) -> Iterator[GemmObserver]:
    """Install ``observer`` for the GEMMs run inside the ``with`` block (after any outer ones)."""
    if not isinstance(observer, GemmObserver):
        raise TypeError(f"observer must be a GemmObserver, got {type(observer).__name__}")
    token = _observers.set((*_observers.get(), observer))
    try:
        yield observer
    finally:
        _observers.reset(token)


def gemm(a: np.ndarray, b: np.ndarray, *, layer: str, phase: str,
         out: np.ndarray | None = None, a_elements: int | None = None,
         c_elements: int | None = None) -> np.ndarray:
    """C = A . B for ``layer`` in ``phase``; A is [m,k] (streamed), B is [k,n] (stationary).

    ``out`` (optional, [m,n]) receives C, as in ``numpy.matmul``: a layer passes the transpose
    of a C-ordered [n,m] buffer when it wants C laid out column-major (Conv2d's bwd_data).
    ``a_elements``/``c_elements``: when A or C is a view of a smaller tensor (a convolution's
    im2col matrix and its feature map), how many distinct elements that tensor has; the trace
    passes it on so the simulator moves the tensor, not the view, between DRAM and the chip.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm in layer {layer!r} ({phase}): A{list(a.shape)} . "
                         f"B{list(b.shape)} is not [m,k] . [k,n]")
    if phase not in PHASES:
        raise ValueError(f"gemm in layer {layer!r}: unknown phase {phase!r}; "
                         f"valid: {', '.join(PHASES)}")
    observers = _observers.get()
    if not observers:
        return np.matmul(a, b, out=out)
    shapes = (a.shape, b.shape)
    op = GemmOp(layer, phase, m=a.shape[0], n=b.shape[1], k=a.shape[1],
                a_elements=a_elements, c_elements=c_elements)
    for observer in observers:
        op, a, b = observer.operands(op, a, b)
    if (a.shape, b.shape) != shapes:
        raise ValueError(f"gemm in layer {layer!r} ({phase}): an observer changed the operand "
                         f"shapes from {shapes} to {(a.shape, b.shape)}")
    c = np.matmul(a, b, out=out)
    for observer in observers:
        observer.record(op)
    return c
