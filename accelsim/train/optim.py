"""Optimizers over framework-free parameters: SGD with momentum and Adam, as PyTorch has them.

What it owns: :class:`GradientDescent`, the base every optimizer shares (the
``interfaces.Optimizer`` protocol plus ``step``, ``state_kinds``, ``state_elements`` and
``vector_steps``, the arithmetic of one update as :class:`UpdateStep` records a method turns
into the trace's ``vector`` records at its widths), :class:`SGD` and :class:`Adam`. For each
parameter w with gradient g, learning rate lr and weight decay wd, SGD with velocity v (zero at
first) and momentum mu::

    d = g + wd * w          (weight decay as L2 on every parameter, biases and BN included)
    v = mu * v + d          (no dampening; skipped when mu = 0)
    w = w - lr * v          (nesterov: w = w - lr * (d + mu * v))

and Adam (Kingma & Ba 2015; ``torch.optim.Adam``: L2 decay added to the gradient, not AdamW's
decoupled decay) with moments m and v (zero at first), step count t of that parameter::

    d = g + wd * w
    m = beta1 * m + (1 - beta1) * d
    v = beta2 * v + (1 - beta2) * d * d
    w = w - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

:meth:`~GradientDescent.step_for` computes the step for one parameter and advances its state
without touching the weights, so a method that keeps only quantised weights (RCT) can apply the
step itself with its own rounding; :meth:`GradientDescent.step` assigns ``w - step_for(w)`` to
every parameter that has a gradient. State is held in numpy, per parameter name, in the
parameter's dtype; :meth:`~GradientDescent.state` hands a method the live arrays, so it can
store them at its width (``nonnegative_state`` names those that are never negative, Adam's v,
which a method stores on a grid of its own).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import ClassVar, NamedTuple

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
    """What every optimizer over :class:`ParamRef` shares; subclasses give the step rule.

    ``vector_kind`` names the trace's ``vector`` records of its update passes;
    ``nonnegative_state`` the state kinds that are never negative (a method may store those
    unsigned, on a grid for non-negative values)."""

    vector_kind: ClassVar[str] = "sgd_update"
    nonnegative_state: ClassVar[frozenset[str]] = frozenset()

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

    def state_kinds(self) -> tuple[str, ...]:
        """The kinds of state kept per parameter once it has stepped (each a tensor of the
        parameter's shape), known before any step: what memory and traffic are counted from."""
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

    def state_kinds(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum else ()

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


class Adam(GradientDescent):
    """Adam over ``params`` (walked in order) with L2 weight decay, as ``torch.optim.Adam``
    (amsgrad off): bias-corrected moments, the step count kept per parameter."""

    vector_kind = "adam_update"
    nonnegative_state = frozenset({"v"})

    def __init__(self, params: Iterable[ParamRef], *, lr: float, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr=lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta!r}")
        if not eps > 0.0:
            raise ValueError(f"Adam: eps must be positive, got {eps!r}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Adam: weight_decay must be >= 0, got {weight_decay!r}")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.weight_decay = weight_decay
        self._m: dict[str, np.ndarray] = {}  # p.name -> first moment, created on first step
        self._v: dict[str, np.ndarray] = {}  # p.name -> second moment
        self._steps: dict[str, int] = {}     # p.name -> steps taken (t of the bias correction)

    def step_for(self, p: ParamRef) -> np.ndarray:
        d = self._grad(p)
        if self.weight_decay:
            d = d + self.weight_decay * p.value()
        m, v = self._m.get(p.name), self._v.get(p.name)
        if m is None or v is None:
            dtype = p.value().dtype
            m = self._m[p.name] = np.zeros(p.value().shape, dtype=dtype)
            v = self._v[p.name] = np.zeros(p.value().shape, dtype=dtype)
        t = self._steps[p.name] = self._steps.get(p.name, 0) + 1
        m *= self.beta1
        m += (1.0 - self.beta1) * d
        v *= self.beta2
        v += (1.0 - self.beta2) * d * d
        step_size = self.lr / (1.0 - self.beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1.0 - self.beta2 ** t) + self.eps
        return (step_size * (m / denom)).astype(p.value().dtype, copy=False)

    def state(self, p: ParamRef) -> dict[str, np.ndarray]:
        m, v = self._m.get(p.name), self._v.get(p.name)
        return {} if m is None or v is None else {"m": m, "v": v}

    def state_kinds(self) -> tuple[str, ...]:
        return ("m", "v")

    def steps_taken(self, p: ParamRef) -> int:
        """How many updates ``p`` has had (the t of its bias correction)."""
        return self._steps.get(p.name, 0)

    def vector_steps(self) -> tuple[UpdateStep, ...]:
        """Counted from ``step_for`` and ``step``: weight decay ``d = g + wd * w`` (2); the
        first moment ``beta1 * m + (1 - beta1) * d`` (multiply, multiply, add: 3), a pass
        reading g and m (and w for the decay); the second moment ``beta2 * v + (1 - beta2) *
        d * d`` (4), a pass reading v (d still in a register); then the weights: ``sqrt(v)``,
        divided by the per-tensor sqrt(1 - beta2**t) (a multiply by its reciprocal on a device),
        plus eps (3), m divided by that and times
        the per-tensor lr / (1 - beta1**t) (2), subtracted from w (1): 6, reading w (m and v in
        registers). The bias corrections are per tensor, not counted per element."""
        decay = 2 if self.weight_decay else 0
        first = ("grad", "state", "weights") if self.weight_decay else ("grad", "state")
        return (UpdateStep("state", first, decay + 3),
                UpdateStep("state", ("state",), 4),
                UpdateStep("weights", ("weights",), 6))
