"""What every training method shares: the hooks around a step, the update's DRAM traffic and
the memory each copy of the parameters takes.

A method owns policy, never mechanics. It is a small subclass that says how wide each tensor
is (``bits``), what it keeps (``copies``), what it does to the gradients (``prepare_gradients``)
and how it applies an update (``update``); it sees the model only through the framework-free
interfaces of ``accelsim.train.interfaces`` (a front-end's ``ParamRef`` list and an
``Optimizer`` with exposed state), so every front-end trains with the same definition. The base
turns that policy into the GEMM hook that quantises operands (``methods.quantiser``), the
update-phase transfers the trace records, and the parameter-memory figures of ``metrics.json``.
A method that computes with other weights than it stores sets ``shadow`` (a
:class:`~accelsim.train.shadow.ShadowWeights`); one that trains another form of the network
names it in ``variant``, which the front-end builds.

The method's own vector (SIMD) work is written here once for every front-end, as the trace's
``vector`` records: ``gradient_work`` (what it does to a layer's fresh gradients before storing
them, in ``bwd_weight``), ``update_work`` (the optimizer's passes at the method's widths, and
what follows: rounding, clipping, the copies the next forward computes with) and
``post_update_work``; the operand quantisations around the GEMMs follow from ``bits``
(``quantiser.operand_work``). Each subclass's docstring tables its records.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.method_names import METHODS as METHOD_NAMES
from accelsim.trace.records import Transfer, Vector
from accelsim.train.interfaces import Frontend, ParamRef, elements
from accelsim.train.methods.moments import nonnegative_ops, quantise_nonnegative
from accelsim.train.methods.quantiser import OperandQuantiser
from accelsim.train.optim import SGD, Adam, GradientDescent
from accelsim.train.quant import quantise, quantise_ops
from accelsim.train.shadow import ShadowWeights
from accelsim.train.workload import Workload, method_key

METHODS: dict[str, type[Method]] = {}


def method(name: str):
    """Register a method class under ``name`` (the ``--method`` value)."""

    def register(cls: type[Method]) -> type[Method]:
        if name not in METHOD_NAMES:  # the one list of names, which the CLI reads without numpy
            raise ValueError(f"method {name!r} is not in accelsim.method_names.METHODS")
        cls.name = name
        METHODS[name] = cls
        return cls

    return register


class Method:
    """Base of every method. Subclasses override ``bits``, ``copies`` and ``update``, and the
    hooks they need."""

    name: ClassVar[str] = ""
    dtype: ClassVar[str] = "int"  # how the GEMMs compute: "fp" or "int"
    acc_bits: ClassVar[int] = 32
    weights_on_grid: ClassVar[bool] = False  # the weights the GEMMs see already sit on their grid
    variant: ClassVar[str | None] = None  # the form of the network it trains (None: as written)

    def __init__(self, frontend: Frontend, workload: Workload, rng: np.random.Generator):
        self.frontend, self.workload, self.rng = frontend, workload, rng
        self.settings = getattr(workload.methods, method_key(self.name))
        self.params: list[ParamRef] = list(frontend.params())
        self.optimizer = build_optimizer(self.params, workload)
        self.layers: dict[str, list[ParamRef]] = {}
        for p in self.params:
            self.layers.setdefault(p.layer, []).append(p)
        self.shadow: ShadowWeights | None = None
        self._observer = OperandQuantiser(self)

    # ---- what subclasses say ---------------------------------------------------------------
    def bits(self, layer: str, tensor: str) -> int:
        """Stored width of ``tensor`` (weights, activations, errors, weight_grads, ...)."""
        raise NotImplementedError

    def copies(self, layer: str) -> dict[str, int]:
        """Parameter copies kept for ``layer``: tensor name -> bits per element."""
        raise NotImplementedError

    def update(self, iteration: int) -> None:
        """Apply the gradients of the last backward pass."""
        raise NotImplementedError

    def prepare_gradients(self) -> None:
        """Turn the gradients of the last backward into the ones the update uses (a
        straight-through mask, the width they are stored at); runs after ``restore_weights``."""

    def value_bits(self, layer: str) -> int:
        """Width at which real-valued intermediates of ``layer`` (GEMM outputs, normalised
        values) are stored; the GEMM operand width unless a method says otherwise."""
        return self.bits(layer, "activations")

    def tensor_dtype(self, layer: str, tensor: str) -> str:
        """The format ``tensor`` of ``layer`` is stored in: "int" (the fixed-point grid of
        ``accelsim.train.quant``; the default) or "fp" (IEEE floating point of its ``bits``,
        16 or 32: ``quant.round_float``). A GEMM with an "fp" operand computes in fp."""
        return "fp" if self.dtype == "fp" else "int"

    def input_bits(self) -> int:
        """Stored width of the training inputs (the first GEMM's A operand)."""
        return self.bits(next(iter(self.layers)), "activations")

    @property
    def state_bits(self) -> int:
        """Stored width of the optimizer state."""
        return 32

    # ---- hooks around a step ------------------------------------------------------------------
    def begin_batch(self) -> None:
        """A new batch: forget the operands quantised for the last one."""
        self._observer.reset()

    def before_forward(self) -> None:
        """Put the weights the GEMMs use in place (the shadow, if the method has one)."""
        if self.shadow is not None:
            self.shadow.swap_in()

    def restore_weights(self) -> None:
        """Undo ``before_forward``'s swap (if it made one)."""
        if self.shadow is not None:
            self.shadow.restore()

    def after_backward(self) -> None:
        self.restore_weights()
        self.prepare_gradients()

    @contextmanager
    def inference(self) -> Iterator[None]:
        """The weights a deployed model would use, for evaluation."""
        self.before_forward()
        try:
            yield
        finally:
            self.restore_weights()

    def observer(self) -> OperandQuantiser:
        """The GEMM hook that quantises operands (one per method; see ``begin_batch``)."""
        return self._observer

    # ---- shared mechanics for the policies -----------------------------------------------------
    def store_state(self, p: ParamRef, bits: int) -> None:
        """Keep ``p``'s optimizer state on ``bits``-wide grids (nearest), in place: signed state
        (momentum, Adam's m) on the fixed-point grid, non-negative state (Adam's v) on the
        unsigned floating-point grid of ``methods.moments``, which does not flush small
        values to zero; at 32 bits or more v stays as it is (fp32)."""
        nonnegative = self.optimizer.nonnegative_state
        for kind, value in self.optimizer.state(p).items():
            if kind not in nonnegative:
                value[...] = quantise(value, bits).values
            elif bits < 32:
                value[...] = quantise_nonnegative(value, bits)

    # ---- vector work ---------------------------------------------------------------------------
    def value_dtype(self, layer: str) -> str:
        """How the vector unit computes on ``layer``'s real-valued intermediates: floating
        point when they are stored at 32 bits, else fixed point."""
        return "fp" if self.value_bits(layer) >= 32 else "int"

    def update_dtype(self, layer: str) -> str:
        """How the update of ``layer`` computes: floating point when the copy it updates is
        stored at 32 bits (FP32's weights, QAT's masters, BNN's latents), else fixed point."""
        copies = self.copies(layer)
        return "fp" if copies[next(iter(copies))] >= 32 else "int"

    def vector(self, layer: str, phase: str, kind: str, elements: int, in_bits: int,
               out_bits: int, ops: int, iteration: int, *, inputs: int = 1,
               tensor: str | None = None, dtype: str | None = None) -> Vector:
        """One vector record of this method's work on ``layer`` (``dtype``: the update's). It
        is fused: it works on values the trace's transfers bring in and take out, or on a
        GEMM's output on its way out."""
        return Vector(iter=iteration, layer=layer, phase=phase, kind=kind, elements=elements,
                      in_bits=in_bits, out_bits=out_bits, ops=ops, inputs=inputs,
                      dtype=dtype or self.update_dtype(layer), tensor=tensor, fused=True)

    def layer_elements(self, layer: str) -> int:
        """Values in all of ``layer``'s parameters."""
        return sum(elements(p) for p in self.layers[layer])

    def gradient_work(self, layer: str, iteration: int) -> list[Vector]:
        """What the method does on the vector unit to ``layer``'s gradients between the
        backward pass producing them (at the accumulator width) and storing them (phase
        ``bwd_weight``, after the layer's own backward work). None by default."""
        return []

    def rounded_gradients(self, layer: str, iteration: int) -> list[Vector]:
        """Every gradient of ``layer`` put on its ``weight_grads`` grid, nearest, when that is
        narrower than 32 bits (QAT's ``grad_bits``, RCT's)."""
        bits = self.bits(layer, "weight_grads")
        if bits >= 32:
            return []
        return [self.vector(layer, "bwd_weight", "quantize", self.layer_elements(layer),
                            self.acc_bits, bits, quantise_ops(bits), iteration,
                            tensor="weight_grads", dtype=self.dtype)]

    def update_work(self, layer: str, iteration: int) -> list[Vector]:
        """The update of ``layer`` on the vector unit, in order: the optimizer's passes
        (``Optimizer.vector_steps``) over every parameter element, reading the gradient, the
        state and the updated copy at their stored widths (a pass reading several at once reads
        at the widest) and writing the state and the copy (``sgd_update`` or ``adam_update``,
        the optimizer's ``vector_kind``). Subclasses add what follows."""
        copies = self.copies(layer)
        primary = next(iter(copies))  # the copy the optimizer updates
        widths = {"grad": self.bits(layer, "weight_grads"), "state": self.state_bits,
                  "weights": copies[primary]}
        count = self.layer_elements(layer)
        work = []
        kind = self.optimizer.vector_kind  # sgd_update, adam_update
        for step in self.optimizer.vector_steps():
            tensor = "optimizer_state" if step.writes == "state" else primary
            work.append(self.vector(layer, "update", kind, count,
                                    max(widths[r] for r in step.reads), widths[step.writes],
                                    step.ops, iteration, inputs=len(step.reads),
                                    tensor=tensor))
        return work

    def stored_state(self, layer: str, iteration: int) -> list[Vector]:
        """The optimizer state of ``layer`` re-quantised (nearest) onto its ``state_bits``
        grids, as ``store_state`` does, when they are narrower than 32 bits (RCT, BNN-lowmem):
        one record per kind of state (SGD's momentum; Adam's m, then v on its own grid)."""
        bits = self.state_bits
        if bits >= 32:
            return []
        nonnegative = self.optimizer.nonnegative_state
        return [self.vector(layer, "update", "quantize", self.layer_elements(layer), bits,
                            bits, nonnegative_ops(bits) if kind in nonnegative
                            else quantise_ops(bits), iteration, tensor="optimizer_state")
                for kind in self.optimizer.state_kinds()]

    def post_update_work(self, iteration: int) -> list[Vector]:
        """Vector work the update of ``iteration`` left behind once it ran (RCT's weights
        moved onto a coarser grid); call it after ``update``."""
        return []

    def update_ops(self, iteration: int) -> list[Transfer | Vector]:
        """The update in device order, layer by layer: its DRAM reads, its vector work, its
        DRAM writes, at the widths before the update runs (call it before ``update``)."""
        moves: dict[str, list[Transfer]] = {}
        for op in self.update_transfers(iteration):
            moves.setdefault(op.layer, []).append(op)
        ops: list[Transfer | Vector] = []
        for layer in self.layers:
            ops += [t for t in moves.get(layer, []) if t.dir == "read"]
            ops += self.update_work(layer, iteration)
            ops += [t for t in moves.get(layer, []) if t.dir == "write"]
        return ops

    # ---- derived from the above ---------------------------------------------------------------
    def update_transfers(self, iteration: int) -> Iterator[Transfer]:
        """DRAM traffic of the update: read the updated copy, the gradients and each kind of
        optimizer state (SGD's momentum, or Adam's m and v: one record each); write that state
        and every copy."""
        states = len(self.optimizer.state_kinds())
        for layer, params in self.layers.items():
            count = sum(elements(p) for p in params)
            copies = self.copies(layer)
            primary = next(iter(copies))  # the copy the optimizer updates
            moves = [(primary, "read", copies[primary]),
                     ("weight_grads", "read", self.bits(layer, "weight_grads"))]
            moves += [("optimizer_state", "read", self.state_bits)] * states
            moves += [("optimizer_state", "write", self.state_bits)] * states
            moves += [(tensor, "write", bits) for tensor, bits in copies.items()]
            for tensor, direction, bits in moves:
                yield Transfer(iter=iteration, layer=layer, tensor=tensor, dir=direction,
                               elements=count, bits=bits, phase="update")

    def memory(self) -> dict[str, Any]:
        """Bytes held for parameters (every copy), gradients and optimizer state (one tensor
        per kind of state at ``state_bits``: SGD's momentum, Adam's m and v, none for plain
        SGD)."""
        copies: dict[str, int] = {}
        grads = state = 0
        states = len(self.optimizer.state_kinds())
        for layer, params in self.layers.items():
            count = sum(elements(p) for p in params)
            for tensor, bits in self.copies(layer).items():
                copies[tensor] = copies.get(tensor, 0) + _bytes(count, bits)
            grads += _bytes(count, self.bits(layer, "weight_grads"))
            state += states * _bytes(count, self.state_bits)
        return {"param_memory_bytes": sum(copies.values()), "param_copies_bytes": copies,
                "weight_grads_bytes": grads, "optimizer_state_bytes": state,
                "parameters": sum(elements(p) for p in self.params)}


def build_optimizer(params: list[ParamRef], workload: Workload) -> GradientDescent:
    """The workload's optimizer (``optimizer.name``) over ``params``: SGD with momentum, or
    Adam; every method shares it and stores its state at its own widths."""
    opt = workload.optimizer
    if opt.name == "adam":
        return Adam(params, lr=opt.lr, beta1=opt.beta1, beta2=opt.beta2, eps=opt.eps,
                    weight_decay=opt.weight_decay)
    if opt.name != "sgd":
        raise WorkloadError(f"optimizer.name: unknown optimizer {shown(opt.name)}; valid: sgd, "
                            "adam")
    return SGD(params, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)


def _bytes(count: int, bits: int) -> int:
    return (count * bits + 7) // 8
