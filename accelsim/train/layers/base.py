"""What a layer is: parameters as (value, grad) pairs, a forward and a backward, a mode.

What it owns: :class:`Parameter`, the :class:`Layer` base every layer subclasses,
:class:`Sequential` (a chain of layers run forward in order and backward in reverse), and the
small shared helpers for input checks and initialisation.

Contract of a layer (the only thing the rest of accelsim relies on):

* ``forward(x)`` computes the output and keeps what ``backward`` needs; in ``training`` mode
  (the default) layers such as BatchNorm use batch statistics, after ``eval()`` stored ones.
* ``backward(grad_out)`` takes dLoss/dOutput of the last ``forward`` and returns dLoss/dInput,
  and *overwrites* (never accumulates) ``grad`` of each of its parameters. A layer whose
  ``needs_input_grad`` is False (the first layer of a model) skips the backward-data GEMM and
  returns None; so does a layer whose input has no gradient (Embedding's integer indices).
* Every matrix product goes through :func:`accelsim.train.gemm.gemm` with the layer's ``name``.
* ``describe(in_shape)`` returns its :class:`~accelsim.train.interfaces.LayerInfo` (kind,
  shapes, GEMMs, what it keeps for backward at which width rule): the numpy front-end's answer
  to what every front-end must tell the memory model, by shape alone.
* Arithmetic follows the dtype of the parameters and input: float32 for training, float64 for
  gradient checks (build the layer with ``dtype=np.float64``).

Bad input shapes raise :class:`accelsim.errors.WorkloadError` naming the layer, the expected and
the actual shape: a model that does not fit its data is a workload problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.interfaces import LayerInfo, ParamInfo


@dataclass(eq=False)
class Parameter:
    """A trainable tensor and the gradient the last backward wrote for it (None before).

    ``role`` says what the tensor is to a training method (``interfaces.ROLES``: gemm_weight,
    bias, norm_scale, ...), so methods never need to know which layer class holds it.
    """

    name: str
    value: np.ndarray
    grad: np.ndarray | None = None
    role: str = ""

    @property
    def size(self) -> int:
        return int(self.value.size)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={list(self.value.shape)}, dtype={self.value.dtype})"


class Layer:
    """Base of every layer: forward, backward, its parameters and the train/eval mode."""

    def __init__(self, name: str):
        if not isinstance(name, str) or not name:
            raise WorkloadError(f"a layer needs a non-empty name, got {shown(name)}")
        self.name = name
        self.training = True
        self.needs_input_grad = True
        self._saved: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        """What this layer is for an input of ``in_shape``, by shape alone (see
        ``accelsim.train.interfaces.LayerInfo``): what the memory model and a shape-only trace
        read instead of this class."""
        raise NotImplementedError(f"{type(self).__name__} cannot describe itself")

    def param_infos(self) -> tuple[ParamInfo, ...]:
        return tuple(ParamInfo(p.name, p.role, tuple(p.value.shape)) for p in self.parameters())

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def parameters(self) -> list[Parameter]:
        return []

    def train(self, mode: bool = True) -> Layer:
        self.training = mode
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def saved(self) -> Any:
        """What the last forward kept for backward; raises if there was no forward."""
        if self._saved is None:
            raise RuntimeError(f"layer {shown(self.name)}: backward called before forward")
        return self._saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}({shown(self.name)})"


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse and stops at a None gradient."""

    def __init__(self, layers: Sequence[Layer], name: str = "model"):
        super().__init__(name)
        self.layers = list(layers)
        seen: set[str] = set()
        for layer in self.layers:
            if layer.name in seen:
                raise WorkloadError(f"model {shown(name)}: two layers are named {shown(layer.name)}; "
                                    "every GEMM in a trace is keyed by its layer's name")
            seen.add(layer.name)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        grad = grad_out
        for layer in reversed(self.layers):
            grad_in = layer.backward(grad)
            if grad_in is None:
                return None
            grad = grad_in
        return grad

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def train(self, mode: bool = True) -> Sequential:
        super().train(mode)
        for layer in self.layers:
            layer.train(mode)
        return self


# ---- shared helpers ---------------------------------------------------------------------------

def check_input(layer: Layer, x: np.ndarray, expected: Iterable[int | str]) -> None:
    """Raise WorkloadError unless ``x`` has shape ``expected`` (strings match any size)."""
    check_shape(layer, x.shape, expected)


def check_shape(layer: Layer, shape: tuple[int, ...], expected: Iterable[int | str]) -> None:
    """Raise WorkloadError unless ``shape`` is ``expected`` (strings match any size)."""
    expected = tuple(expected)
    ok = len(shape) == len(expected) and all(
        isinstance(want, str) or got == want for got, want in zip(shape, expected, strict=True))
    if not ok:
        want = ", ".join(str(d) for d in expected)
        raise WorkloadError(f"layer {shown(layer.name)} ({type(layer).__name__}): expected "
                            f"input of shape [{want}], got {list(shape)}")


def check_positive(owner: str, **sizes: int) -> None:
    """Raise WorkloadError for any size that is not a positive int."""
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise WorkloadError(f"{owner}: {key} must be a positive integer, got {shown(value)}")


MAX_PARAMETERS = 1 << 27  # per model: 134 M values (ResNet-18 has 11.7 M)
_budget: ContextVar[list[int] | None] = ContextVar("accelsim_parameter_budget", default=None)


@contextmanager
def parameter_budget(limit: int = MAX_PARAMETERS) -> Iterator[None]:
    """Layers built inside the block may allocate at most ``limit`` parameters in all, so a
    workload asking for a billion-unit layer fails with a clear error, not by memory."""
    token = _budget.set([limit])
    try:
        yield
    finally:
        _budget.reset(token)


def claim(owner: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Count a parameter tensor of ``shape`` against the budget (if one is set)."""
    left = _budget.get()
    size = math.prod(shape)
    if left is not None:
        if size > left[0]:
            raise WorkloadError(f"{owner}: a parameter of shape {list(shape)} takes the model "
                                f"past {MAX_PARAMETERS:,} parameters, the limit of the numpy "
                                "front-end")
        left[0] -= size
    return shape


def uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...],
            dtype: Any, owner: str = "model") -> np.ndarray:
    """U(-bound, bound) in ``dtype``: PyTorch's default init with bound = 1/sqrt(fan_in)."""
    return rng.uniform(-bound, bound, size=claim(owner, shape)).astype(dtype)
