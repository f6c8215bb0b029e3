"""What a training method and the training loop need from a framework, and nothing more.

What it owns: the small framework-free interfaces every front-end supplies (the numpy layers
today, a PyTorch module next), so that each training method is written once:

* :class:`ParamRef`, one trainable tensor: its name, layer and role, a zero-copy view of its
  value, its gradient, and ``assign``, which writes the real storage in place (a method never
  rebinds a framework's tensor);
* :class:`Optimizer`, an optimizer whose state a method may read and re-quantise
  (``state(p)`` returns the live arrays);
* :class:`LayerInfo`, what a layer is by shape alone: its kind, shapes, GEMMs, parameters,
  what it keeps for backward with the rule that sets that tensor's width, and its vector work
  (:class:`VectorSpec`: the element-wise and reduction steps of each phase). The memory model,
  the kept-tensor transfers and the trace's ``vector`` records read it; a shape-only front-end
  can produce it without data;
* :class:`Frontend`, a model: its parameters, its layers' :class:`LayerInfo`, forward, backward
  and the train/eval mode. A method that needs another form of the network (the binary methods)
  names it in its ``variant``; the front-end builds that form (see ``numpy_frontend``).

No numpy layer class appears here: a front-end maps its own modules onto these records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, NamedTuple, Protocol

import numpy as np

if TYPE_CHECKING:
    from accelsim.train.optim import UpdateStep

#: Roles of a trainable tensor: the weight of a GEMM layer (Linear, Conv2d), its bias, a batch
#: norm's scale (gamma) and shift (beta), an embedding table.
ROLES = ("gemm_weight", "bias", "norm_scale", "norm_shift", "embedding")

#: Width rules for a tensor a layer keeps, outputs or works on (an ``int`` is a fixed width in
#: bits), resolved by ``accelsim.train.widths`` for a method; the layer's "owner" is the last
#: layer with parameters at or before it:
#: ``INPUT_WIDTH``: the width of the tensor flowing into the layer in the pass at hand (forward:
#: the activation arriving, as ReLU's output or a GEMM layer's kept input; backward: the error
#: arriving from the layer after it); ``VALUE_WIDTH``: the method's width for real-valued
#: intermediates of the owner (``Method.value_bits``), as a GEMM's output or a batch norm's
#: normalised values; ``ERROR_WIDTH``: the owner's error width (``Method.bits(owner,
#: "errors")``), what the layer's backward writes; ``ACC_WIDTH``: the method's accumulator width
#: (``Method.acc_bits``), a sum such as a parameter gradient before the method stores it.
INPUT_WIDTH = "input"
VALUE_WIDTH = "value"
ERROR_WIDTH = "error"
ACC_WIDTH = "acc"
WIDTH_RULES = (INPUT_WIDTH, VALUE_WIDTH, ERROR_WIDTH, ACC_WIDTH)
Width = str | int


class ParamRef(Protocol):
    """One trainable tensor, as a method sees it.

    ``value()`` is a zero-copy view of the stored tensor (numpy: the array; torch CPU:
    ``p.data.numpy()``); read it, never write through it. ``assign(x)`` writes ``x`` (same
    shape and dtype) into that storage in place, so the framework's tensor keeps its identity.
    ``grad()`` is the gradient of the last backward (None before one); ``set_grad`` replaces it
    (a method stores gradients at its width).
    """

    name: str   # unique in the model: "fc1.weight"
    layer: str  # the layer that owns it: "fc1" (trace records are keyed by it)
    role: str   # one of ROLES
    shape: tuple[int, ...]

    def value(self) -> np.ndarray: ...

    def grad(self) -> np.ndarray | None: ...

    def assign(self, x: np.ndarray) -> None: ...

    def set_grad(self, grad: np.ndarray) -> None: ...


def elements(p: ParamRef) -> int:
    """Number of values in a parameter (from its shape: no value needed)."""
    return math.prod(p.shape)


class Optimizer(Protocol):
    """An optimizer that leaves applying the step to the caller.

    ``step_for(p)`` returns the amount to subtract from ``p``'s value now and advances ``p``'s
    state (a method may apply it with its own rounding, as RCT does); ``state(p)`` returns the
    state kept for ``p`` by name (SGD: ``{"momentum": v}``, empty before the first step or
    without momentum; Adam: ``{"m": m, "v": v}``) as the live arrays, so a method stores them
    at its width in place; ``state_kinds()`` names that state before any step (what memory and
    traffic are counted from) and ``nonnegative_state`` the kinds that are never negative
    (Adam's v, which a method may store unsigned); ``vector_steps()`` says what one update
    computes per parameter element (its passes, what each reads and writes, its operations),
    which a method prices at its widths, as ``vector`` records of kind ``vector_kind``.
    """

    lr: float
    vector_kind: ClassVar[str]
    nonnegative_state: ClassVar[frozenset[str]]

    def step_for(self, p: ParamRef) -> np.ndarray: ...

    def state(self, p: ParamRef) -> dict[str, np.ndarray]: ...

    def state_kinds(self) -> tuple[str, ...]: ...

    def vector_steps(self) -> tuple[UpdateStep, ...]: ...


class GemmShape(NamedTuple):
    """One GEMM a layer runs, C[m,n] = A[m,k] . B[k,n], in one phase (see ``train.gemm``).
    ``a_elements``/``c_elements``: the distinct elements behind A or C when it is a view of a
    smaller tensor (a convolution's im2col matrix), else None."""

    phase: str
    m: int
    n: int
    k: int
    a_elements: int | None = None
    c_elements: int | None = None


class KeptSpec(NamedTuple):
    """One tensor a layer keeps from forward for backward.

    ``what``: activations (a GEMM layer's input), mask, argmax, indices, normalised, statistics,
    sign_input, ...; ``is_input``: the tensor is the layer's input itself (so memory counts it
    once); ``width``: ``INPUT_WIDTH``, ``VALUE_WIDTH`` or a fixed number of bits.
    """

    what: str
    elements: int
    width: Width
    is_input: bool = False


class VectorSpec(NamedTuple):
    """One step of a layer's vector (SIMD) work in one phase, by shape: what the trace's
    ``vector`` record says once a method has given the widths.

    ``phase``: ``fwd``, ``bwd_weight`` or ``bwd_data`` (a method's ``update`` work is its own);
    ``kind``: what the work is (``relu``, ``maxpool``, ``batchnorm``, ``bias_add``, ...);
    ``elements``: the values it produces (for a reduction, the values it reads: one accumulate
    each); ``ops``: operations per element (see each layer's table); ``inputs``: full-width values
    read per element (1-bit masks and signs kept for backward are side inputs, not counted);
    ``in_width``/``out_width``: width rules of what it reads and writes; ``tensor``: the tensor it
    produces when not the phase's default (``weight_grads`` for a parameter gradient);
    ``fused``: it works on values passing through the chip (a GEMM's output on its way out, an
    element-wise step or a reduction on the way), moving no DRAM bytes of its own; ``False``
    for a pass of its own over a whole tensor (batch norm's normalising pass, which waits for
    statistics over the whole batch).

    In a phase, a layer's vector steps run after its GEMMs of that phase (a bias is added to the
    GEMM's output; a bias gradient is reduced after the weight gradient's GEMM).
    """

    phase: str
    kind: str
    elements: int
    ops: int
    inputs: int = 1
    in_width: Width = INPUT_WIDTH
    out_width: Width = INPUT_WIDTH
    tensor: str | None = None
    fused: bool = True


class ParamInfo(NamedTuple):
    """A trainable tensor by shape: name, role, shape."""

    name: str
    role: str
    shape: tuple[int, ...]

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


class LayerInfo(NamedTuple):
    """A layer for one input shape (batch axis first): shapes only, no number computed from
    values. ``gemms`` in the order the layer runs them (fwd, then bwd_weight and bwd_data);
    ``out_width`` the width rule of the layer's output; ``vectors`` its vector work, in the
    order it runs within each phase (none for a phase the layer skips, as the input gradient of
    the first layer with parameters)."""

    name: str
    kind: str  # linear, conv2d, relu, maxpool2d, avgpool2d, batchnorm, l1batchnorm, sign, ...
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    gemms: tuple[GemmShape, ...] = ()
    kept: tuple[KeptSpec, ...] = ()
    params: tuple[ParamInfo, ...] = ()
    out_width: Width = INPUT_WIDTH
    vectors: tuple[VectorSpec, ...] = ()


class Frontend(Protocol):
    """A model a training method can train: what the loop and the methods use of a framework.

    ``params()`` in a fixed order (the optimizer and the stochastic rounding walk them in it);
    ``describe(in_shape)`` the layers in forward order for an input of ``in_shape`` (batch axis
    first); ``forward`` returns the logits as a numpy array, ``backward`` takes dLoss/dlogits and
    leaves every parameter's gradient; every GEMM of both goes through ``train.gemm.gemm`` (or
    hands its numpy operands to the same observers), so methods quantise it and tracers record it.
    """

    def params(self) -> Sequence[ParamRef]: ...

    def describe(self, in_shape: tuple[int, ...]) -> tuple[LayerInfo, ...]: ...

    def forward(self, x: np.ndarray) -> np.ndarray: ...

    def backward(self, grad_logits: np.ndarray) -> None: ...

    def train(self) -> None: ...

    def eval(self) -> None: ...
