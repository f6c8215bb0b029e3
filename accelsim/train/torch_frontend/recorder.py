"""What a shape-only pass of a torch model records: its layers in execution order.

What it owns: :class:`Recorder`, the list the :class:`~.capture.Capture` mode fills while
``describe`` runs the model on shapes. Each captured operation adds one
:class:`~accelsim.train.interfaces.LayerInfo` and names the parameters it uses with their role;
a parameter belongs to the first layer that uses it (a module called twice lists its
parameters once, so the memory model counts each once). A leaf module that ran no captured
operation (``nn.Flatten``, ``nn.Identity``) is still a layer, with no work, so the layer list
reads like the model.
"""

from __future__ import annotations

from typing import Any

import torch

from accelsim.train.interfaces import LayerInfo, ParamInfo
from accelsim.train.torch_frontend.naming import Call, Names


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in a module's arguments or output."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


class Recorder:
    """Layers seen in a shape-only pass, and the role each parameter was first used in."""

    def __init__(self, names: Names):
        self.names = names
        self._layers: list[tuple[LayerInfo, list[str]]] = []
        self._owned: set[str] = set()
        self.roles: dict[str, str] = {}  # parameter name -> role of its first use
        self.order: list[str] = []  # parameter names in order of first use
        self._shapes: dict[str, tuple[int, ...]] = {}
        names.on_exit = self._leaf_exit

    def add(self, info: LayerInfo, *params: Any) -> None:
        """``info`` and the parameters the operation used: tensors (their role follows from
        the layer's kind) or (tensor, role) pairs; tensors that are no parameter are ignored."""
        used = []
        for item in params:
            tensor, role = item if isinstance(item, tuple) else (item, None)
            found = self.names.param(tensor)
            if found is None:
                continue
            name = found[0]
            role = role or _role(info.kind, tensor, params)
            if name not in self.roles:
                self.roles[name] = role
                self.order.append(name)
                self._shapes[name] = tuple(tensor.shape)
            if name not in self._owned:
                self._owned.add(name)
                used.append(name)
        self._layers.append((info, used))

    def _leaf_exit(self, call: Call, args: Any, output: Any) -> None:
        if not call.leaf or call.named or call.counts or not call.name:
            return
        x, y = first_tensor(args), first_tensor(output)
        if x is None or y is None:
            return
        kind = type(call.module).__name__.lower()
        self._layers.append((LayerInfo(call.name, kind, tuple(x.shape), tuple(y.shape)), []))

    def layers(self) -> tuple[LayerInfo, ...]:
        return tuple(info._replace(params=tuple(
            ParamInfo(name, self.roles[name], self._shapes[name]) for name in used))
            for info, used in self._layers)


def _role(kind: str, tensor: torch.Tensor, params: tuple) -> str:
    """A parameter's role from the operation using it (``interfaces.ROLES``)."""
    position = next(n for n, p in enumerate(params) if p is tensor)
    if kind in ("linear", "conv2d", "matmul"):
        return "gemm_weight" if position == 0 else "bias"
    if kind in ("batchnorm", "layernorm", "groupnorm", "l1batchnorm"):
        return "norm_scale" if position == 0 else "norm_shift"
    if kind == "embedding":
        return "embedding"
    if kind in ("mul", "div"):
        return "norm_scale"
    return "bias" if tensor.dim() <= 1 else "embedding"
