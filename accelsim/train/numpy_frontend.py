"""The numpy front-end: accelsim's own layers behind the framework-free interfaces.

What it owns: :class:`NumpyParam` (a ``ParamRef`` over a layer's :class:`Parameter`) and
:class:`NumpyFrontend` (a ``Frontend`` over a :class:`Sequential`), which is all the training
loop and the methods see of the numpy layers. ``NumpyFrontend.build`` is the model-variant hook:
a method that trains another form of the network names it (``Method.variant``, e.g. ``bnn``)
and the builder makes that form (``models.build_model``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accelsim.train.interfaces import LayerInfo, ParamRef
from accelsim.train.layers import Parameter, Sequential
from accelsim.train.layers.binary import configure_l1_norms, configure_signs
from accelsim.train.models import build_model


class NumpyParam:
    """A numpy layer's parameter as a :class:`~accelsim.train.interfaces.ParamRef`."""

    __slots__ = ("_param", "layer", "name", "role", "shape")

    def __init__(self, param: Parameter, layer: str):
        self.name, self.layer, self.role = param.name, layer, param.role
        self.shape: tuple[int, ...] = tuple(param.value.shape)
        self._param = param

    def value(self) -> np.ndarray:
        return self._param.value

    def grad(self) -> np.ndarray | None:
        return self._param.grad

    def assign(self, x: np.ndarray) -> None:
        stored = self._param.value
        if x.shape != stored.shape or x.dtype != stored.dtype:
            raise ValueError(f"parameter {self.name!r}: cannot assign {x.dtype}{list(x.shape)} "
                             f"to {stored.dtype}{list(stored.shape)}")
        np.copyto(stored, x)

    def set_grad(self, grad: np.ndarray) -> None:
        self._param.grad = grad

    def __repr__(self) -> str:
        return f"NumpyParam({self.name!r}, role={self.role!r}, shape={list(self.shape)})"


class NumpyFrontend:
    """A :class:`Sequential` of numpy layers as a :class:`~accelsim.train.interfaces.Frontend`."""

    def __init__(self, model: Sequential):
        self.model = model
        self._params = [NumpyParam(p, layer.name)
                        for layer in model.layers for p in layer.parameters()]

    @classmethod
    def build(cls, name: str, params: dict[str, Any], input_shape: tuple[int, ...],
              classes: int, rng: np.random.Generator, *,
              variant: str | None = None) -> NumpyFrontend:
        """The named network (``models.MODELS``) in the form ``variant`` asks for."""
        return cls(build_model(name, params, input_shape, classes, rng, variant=variant))

    def configure_l1_norms(self, backward: str) -> None:
        """Give every l1 batch norm the backward a binary method asks for (``norm_backward``;
        ``layers.binary.configure_l1_norms``)."""
        configure_l1_norms(self.model.layers, backward)

    def configure_signs(self, store: str, out_bits: int = 1) -> None:
        """Make every Sign keep what a binary method asks for (``sign_store``: real or
        mask) and store its output at ``out_bits`` (``activation_bits``;
        ``layers.binary.configure_signs``)."""
        configure_signs(self.model.layers, store, out_bits)

    def params(self) -> list[ParamRef]:
        return list(self._params)

    def describe(self, in_shape: tuple[int, ...]) -> tuple[LayerInfo, ...]:
        infos = []
        shape = tuple(in_shape)
        for layer in self.model.layers:
            info = layer.describe(shape)
            infos.append(info)
            shape = info.out_shape
        return tuple(infos)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.model.forward(x)

    def backward(self, grad_logits: np.ndarray) -> None:
        self.model.backward(grad_logits)

    def train(self) -> None:
        self.model.train()

    def eval(self) -> None:
        self.model.eval()
