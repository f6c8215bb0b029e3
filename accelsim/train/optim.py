"""Optimizers over framework-free parameters: SGD with momentum and weight decay (PyTorch's).

What it owns: :class:`GradientDescent`, the base every optimizer shares (the
``interfaces.Optimizer`` protocol plus ``step``, ``state_elements`` and ``vector_steps``, the
arithmetic of one update as :class:`UpdateStep` records a method turns into the trace's
``vector`` records at its widths), and :class:`SGD`. For
each parameter w with gradient g, velocity v (zero at first), learning rate lr, momentum mu
and weight decay wd::

    d = g + wd * w          (weight decay as L2 on every parameter, biases and BN included)
    v = mu * v + d          (no dampening; skipped when mu = 0)
    w = w - lr * v          (nesterov: w = w - lr * (d + mu * v))

:meth:`SGD.step_for` computes the step ``lr * v`` for one parameter and advances its velocity
without touching the weights, so a method that keeps only quantised weights (RCT) can apply the
step itself with its own rounding; :meth:`GradientDescent.step` assigns ``w - step_for(w)`` to
every parameter that has a gradient. State is held in numpy, per parameter name, in the
parameter's dtype; :meth:`~GradientDescent.state` hands a method the live arrays, so it can
store them at its width. Adam is a subclass with its own ``step_for`` and ``state``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from accelsim.train.interfaces import ParamRef


class UpdateStep(NamedTuple):
    """One pass of an optimizer's update over every parameter element: it writes ``writes``
    (``state`` or ``weights``), reads ``reads`` (``grad``, ``state``, ``weights``; a value the
    previous step just computed stays in a register) and costs ``ops`` operations."""

    writes: str
    reads: tuple[str, ...]
    ops: int


class GradientDescent:
    """What every optimizer over :class:`ParamRef` shares; subclasses give the step rule."""

    def __init__(self, params: Iterable[ParamRef], *, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got no parameters to optimise")
        if not lr > 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr!r}")
        self.lr = lr

    def step_for(self, p: ParamRef) -> np.ndarray:
        """The amount to subtract from ``p``'s value now; advances ``p``'s state."""
        raise NotImplementedError

    def state(self, p: ParamRef) -> dict[str, np.ndarray]:
        """The state kept for ``p``, by kind, as the live arrays (empty if none yet)."""
        raise NotImplementedError

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient, in order."""
        for p in self.params:
            if p.grad() is not None:
                p.assign(p.value() - self.step_for(p))

    def vector_steps(self) -> tuple[UpdateStep, ...]:
        """The update's arithmetic per parameter element, in the order it runs."""
        raise NotImplementedError

    def state_elements(self) -> int:
        """Number of values the optimizer keeps (for memory accounting)."""
        return sum(v.size for p in self.params for v in self.state(p).values())

    def _grad(self, p: ParamRef) -> np.ndarray:
        grad = p.grad()
        if grad is None:
            raise ValueError(f"{type(self).__name__}: parameter {p.name!r} has no gradient; "
                             "run backward first")
        return grad


class SGD(GradientDescent):
    """SGD over ``params`` (walked in order) with momentum and L2 weight decay."""

    def __init__(self, params: Iterable[ParamRef], *, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr=lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        if not weight_decay >= 0.0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay!r}")
        if nesterov and momentum == 0.0:
            raise ValueError("SGD: nesterov needs a momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        self._velocity: dict[str, np.ndarray] = {}  # p.name -> v, created on first step

    def step_for(self, p: ParamRef) -> np.ndarray:
        direction = self._grad(p)
        if self.weight_decay:
            direction = direction + self.weight_decay * p.value()
        if self.momentum:
            v = self._velocity.get(p.name)
            if v is None:
                v = self._velocity[p.name] = np.array(direction, dtype=p.value().dtype)
            else:
                v *= self.momentum
                v += direction
            direction = direction + self.momentum * v if self.nesterov else v
        return self.lr * direction

    def state(self, p: ParamRef) -> dict[str, np.ndarray]:
        v = self._velocity.get(p.name)
        return {} if v is None else {"momentum": v}

    def vector_steps(self) -> tuple[UpdateStep, ...]:
        """Counted from ``step_for`` and ``step``: weight decay ``d = g + wd * w`` (multiply,
        add: 2), the velocity ``v = mu * v + d`` (multiply, add: 2), nesterov's
        ``d + mu * v`` (2), then ``w - lr * v`` (multiply, subtract: 2). With momentum the
        velocity is one pass (reading g, v and w for the decay) and the weights another (v in
        a register); without, one pass reads g and w."""
        decay = 2 if self.weight_decay else 0
        if not self.momentum:
            return (UpdateStep("weights", ("grad", "weights"), decay + 2),)
        reads = ("grad", "state", "weights") if self.weight_decay else ("grad", "state")
        return (UpdateStep("state", reads, decay + 2),
                UpdateStep("weights", ("weights",), 2 + (2 if self.nesterov else 0)))
