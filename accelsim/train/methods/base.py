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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from accelsim.trace.records import Transfer
from accelsim.train.interfaces import Frontend, ParamRef, elements
from accelsim.train.methods.quantiser import OperandQuantiser
from accelsim.train.optim import SGD
from accelsim.train.quant import quantise
from accelsim.train.shadow import ShadowWeights
from accelsim.train.workload import METHODS as METHOD_NAMES
from accelsim.train.workload import Workload, method_key

METHODS: dict[str, type[Method]] = {}


def method(name: str):
    """Register a method class under ``name`` (the ``--method`` value)."""

    def register(cls: type[Method]) -> type[Method]:
        if name not in METHOD_NAMES:  # the one list of names, which the CLI reads without numpy
            raise ValueError(f"method {name!r} is not in accelsim.train.workload.METHODS")
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
        opt = workload.optimizer
        self.optimizer = SGD(self.params, lr=opt.lr, momentum=opt.momentum,
                             weight_decay=opt.weight_decay)
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
        """Keep ``p``'s optimizer state on a ``bits``-wide grid (nearest), in place."""
        for value in self.optimizer.state(p).values():
            value[...] = quantise(value, bits).values

    # ---- derived from the above ---------------------------------------------------------------
    def update_transfers(self, iteration: int) -> Iterator[Transfer]:
        """DRAM traffic of the update: read the updated copy, the gradients and the momentum;
        write the momentum and every copy."""
        momentum = self.workload.optimizer.momentum > 0
        for layer, params in self.layers.items():
            count = sum(elements(p) for p in params)
            copies = self.copies(layer)
            primary = next(iter(copies))  # the copy the optimizer updates
            moves = [(primary, "read", copies[primary]),
                     ("weight_grads", "read", self.bits(layer, "weight_grads"))]
            if momentum:
                moves += [("optimizer_state", "read", self.state_bits),
                          ("optimizer_state", "write", self.state_bits)]
            moves += [(tensor, "write", bits) for tensor, bits in copies.items()]
            for tensor, direction, bits in moves:
                yield Transfer(iter=iteration, layer=layer, tensor=tensor, dir=direction,
                               elements=count, bits=bits, phase="update")

    def memory(self) -> dict[str, Any]:
        """Bytes held for parameters (every copy), gradients and optimizer state."""
        copies: dict[str, int] = {}
        grads = state = 0
        momentum = self.workload.optimizer.momentum > 0
        for layer, params in self.layers.items():
            count = sum(elements(p) for p in params)
            for tensor, bits in self.copies(layer).items():
                copies[tensor] = copies.get(tensor, 0) + _bytes(count, bits)
            grads += _bytes(count, self.bits(layer, "weight_grads"))
            state += _bytes(count, self.state_bits) if momentum else 0
        return {"param_memory_bytes": sum(copies.values()), "param_copies_bytes": copies,
                "weight_grads_bytes": grads, "optimizer_state_bytes": state,
                "parameters": sum(elements(p) for p in self.params)}


def _bytes(count: int, bits: int) -> int:
    return (count * bits + 7) // 8
