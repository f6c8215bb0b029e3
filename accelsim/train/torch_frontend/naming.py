"""Layer names for what a torch model computes: the trace's ``layer`` field.

What it owns: :class:`Names`, which follows the module calls of a forward pass and names each
captured operation:

* an operation on a parameter (a GEMM's weight, a norm's scale, an embedding table, a
  parameter added to an activation) is named after the module that owns the parameter: its
  qualified name, ``layer1.0.conv1`` (a parameter of the root module: its own name). A module
  called twice keeps its name for its parameters' operations, so a method finds its widths;
* any other operation is named after the innermost module running it: the module itself when
  that module is a leaf (``layer1.0.relu``) and this is its first operation, else
  ``<module>.<kind><i>`` (``layer1.0.add0``: the residual add of a block, ``attention.matmul1``:
  the second matmul of an attention module), ``i`` counting that kind within the call. The
  k-th call (k >= 1) of a module within one forward pass is ``<module>:k``.

Following module calls takes a hook on every call, so only the shape-only passes of
``describe`` do (``tracking``, global module hooks for the duration of the pass). They also
note the names of the GEMMs without parameters (attention's matmuls) in the order they run;
a training pass, which names every other GEMM by its parameter, gives those the noted names in
the same order (``sequence``), and asks for a tracked pass again if it runs more of them.
Names depend on the order of calls only, so the training pass and ``describe`` agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)

#: Kinds of operation that are GEMMs (the ones a training pass names).
GEMM_KINDS = frozenset({"linear", "conv2d", "matmul"})


@dataclass
class Call:
    """One running call of a module."""

    name: str
    leaf: bool
    module: nn.Module | None = None
    named: bool = False  # a leaf's first operation took the module's name
    counts: dict[str, int] = field(default_factory=dict)


class Names:
    """Module names, the parameter index, and the stack of running module calls."""

    def __init__(self, modules: dict[str, nn.Module],
                 params: dict[str, tuple[torch.Tensor, str]]):
        """``modules``: qualified name -> module; ``params``: parameter name -> (tensor,
        owning layer)."""
        self.module_names = {id(m): name for name, m in modules.items()}
        self.leaves = {id(m) for m in modules.values() if not any(True for _ in m.children())}
        self.param_layer: dict[int, tuple[str, str]] = {}
        self.index(params)
        self.tracking = False
        #: called with (call, args, output) when a module call ends (``describe`` notes the
        #: leaves that ran no captured operation)
        self.on_exit: Callable[[Call, Any, Any], None] | None = None
        #: names of the GEMMs without parameters, in the order a forward pass runs them
        self.sequence: list[str] | None = None
        self.stale = False  # a training pass ran more of them than ``sequence`` holds
        self._stack: list[Call] = []
        self._calls: dict[str, int] = {}
        self._free: list[str] = []  # this pass's GEMMs without parameters

    def index(self, params: dict[str, tuple[torch.Tensor, str]]) -> None:
        """Which tensors are which parameters (the real ones, or a shape-only run's)."""
        self.param_layer = {id(t): (name, layer) for name, (t, layer) in params.items()}

    def begin(self) -> None:
        """A new forward pass: call counts start again."""
        self._stack.clear()
        self._calls.clear()
        self._free = []

    @property
    def needs_tracking(self) -> bool:
        """Whether a training pass must follow module calls to name its GEMMs."""
        return self.sequence is None or self.stale

    @contextmanager
    def tracked(self) -> Iterator[None]:
        """Follow module calls for the block (one forward pass), then remember the names of
        its GEMMs without parameters."""
        self.begin()
        self.tracking = True
        handles = [register_module_forward_pre_hook(self._enter),
                   register_module_forward_hook(self._exit, always_call=True)]
        try:
            yield
            self.sequence, self.stale = list(self._free), False
        finally:
            self.tracking = False
            for handle in handles:
                handle.remove()

    # ---- module hooks ---------------------------------------------------------------------------
    def _enter(self, module: nn.Module, args: Any) -> None:
        name = self.module_names.get(id(module))
        if name is None:
            return
        calls = self._calls.get(name, 0)
        self._calls[name] = calls + 1
        self._stack.append(Call(name if calls == 0 else f"{name}:{calls}",
                                id(module) in self.leaves, module))

    def _exit(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._stack and self._stack[-1].module is module:
            call = self._stack.pop()
            if self.on_exit is not None:
                self.on_exit(call, args, output)

    # ---- names --------------------------------------------------------------------------------
    def param(self, t: Any) -> tuple[str, str] | None:
        """(parameter name, layer) of ``t`` if it is a parameter of the model."""
        return self.param_layer.get(id(t)) if isinstance(t, torch.Tensor) else None

    def current(self) -> Call | None:
        return self._stack[-1] if self._stack else None

    def op(self, kind: str, *tensors: Any) -> str:
        """The layer name of an operation of ``kind`` on ``tensors`` (the module docstring)."""
        call = self.current()
        for t in tensors:
            found = self.param(t)
            if found is not None:
                if call is not None and call.leaf:
                    call.named = True  # the leaf's own operation, under its own name
                return found[1]
        if not self.tracking:  # a training pass: the name the tracked pass gave it
            position = len(self._free)
            known = self.sequence or []
            name = known[position] if position < len(known) else f"{kind}{position}"
            self.stale |= position >= len(known)
            self._free.append(name)
            return name
        if call is None:
            call = Call("", False)
        if call.leaf and not call.named and call.name:
            call.named = True
            name = call.name
        else:
            count = call.counts.get(kind, 0)
            call.counts[kind] = count + 1
            name = f"{call.name}.{kind}{count}" if call.name else f"{kind}{count}"
        if kind in GEMM_KINDS:
            self._free.append(name)
        return name
