"""The PyTorch front-end: any ``nn.Module`` behind the framework-free interfaces.

What it owns: :class:`TorchParam` (a ``ParamRef`` over a torch parameter: ``value()`` is the
zero-copy numpy view ``p.detach().numpy()``, ``assign`` writes that storage in place),
:class:`TorchFrontend` (a ``Frontend``: torch autograd runs forward and backward, every GEMM
goes through the GEMM observers via :mod:`.capture`, ``describe`` runs the model once on the
meta device) and :func:`load_factory`, which finds a workload's ``model.torch`` factory.

Parameters: each belongs to the layer of the module that owns it (its qualified name,
``layer1.0.conv1``; a parameter of the root module is its own layer); its role is the one its
first use gives it (a GEMM's weight or bias, a norm's scale or shift, an embedding table); the
order of :meth:`TorchFrontend.params` is the order of first use in a forward pass, then any
unused trainable parameter, so a method's first layer is the network's first.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from accelsim.errors import WorkloadError, shown
from accelsim.train.gemm import installed
from accelsim.train.interfaces import LayerInfo, ParamRef
from accelsim.train.torch_frontend.binary import (
    VARIANTS,
    L1BatchNorm,
    SignSettings,
    make_binary,
)
from accelsim.train.torch_frontend.capture import Capture, capturing
from accelsim.train.torch_frontend.gemms import Session
from accelsim.train.torch_frontend.naming import Names
from accelsim.train.torch_frontend.recorder import Recorder

OUTPUT_NORM = "bn_out"  # the binary forms' norm on the logits (as the numpy models name it)


class TorchParam:
    """A torch parameter as a :class:`~accelsim.train.interfaces.ParamRef`."""

    __slots__ = ("layer", "name", "role", "shape", "tensor")

    def __init__(self, name: str, layer: str, role: str, tensor: torch.Tensor):
        self.name, self.layer, self.role, self.tensor = name, layer, role, tensor
        self.shape: tuple[int, ...] = tuple(tensor.shape)

    def value(self) -> np.ndarray:
        return self.tensor.detach().numpy()

    def grad(self) -> np.ndarray | None:
        grad = self.tensor.grad
        return None if grad is None else grad.numpy()

    def assign(self, x: np.ndarray) -> None:
        stored = self.value()
        if x.shape != stored.shape or x.dtype != stored.dtype:
            raise ValueError(f"parameter {self.name!r}: cannot assign {x.dtype}{list(x.shape)} "
                             f"to {stored.dtype}{list(stored.shape)}")
        np.copyto(stored, x)

    def set_grad(self, grad: np.ndarray) -> None:
        dtype = self.tensor.dtype
        self.tensor.grad = torch.from_numpy(np.ascontiguousarray(grad)).to(dtype)

    def __repr__(self) -> str:
        return f"TorchParam({self.name!r}, role={self.role!r}, shape={list(self.shape)})"


def _layer_of(name: str) -> str:
    owner = name.rpartition(".")[0]
    return owner or name


class TorchFrontend:
    """An ``nn.Module`` (in the form a method's ``variant`` asks for) as a
    :class:`~accelsim.train.interfaces.Frontend` for inputs of ``input_shape``."""

    def __init__(self, model: nn.Module, input_shape: tuple[int, ...], *,
                 variant: str | None = None, output_norm: nn.Module | None = None,
                 signs: SignSettings | None = None, input_dtype: torch.dtype | None = None):
        self.model, self.variant, self.output_norm = model, variant, output_norm
        self.signs = signs
        self.input_shape = tuple(input_shape)
        modules = dict(model.named_modules())
        named = dict(model.named_parameters())
        if output_norm is not None:
            modules[OUTPUT_NORM] = output_norm
            named.update({f"{OUTPUT_NORM}.{k}": p for k, p in output_norm.named_parameters()})
        self._named = named
        self.names = Names(modules, {n: (p, _layer_of(n)) for n, p in named.items()})
        self.session = Session()
        self._capture = Capture(self.names, self.session, binary=variant is not None)
        self._described: dict[tuple[int, ...], tuple[LayerInfo, ...]] = {}
        self._out: torch.Tensor | None = None
        self.input_dtype = input_dtype or self._guess_input_dtype()
        try:
            recorder = self._shape_pass((2, *self.input_shape))
        except WorkloadError:
            if input_dtype is not None or self.input_dtype != torch.float32:
                raise
            self.input_dtype = torch.int64  # token ids, for an embedding we did not see first
            recorder = self._shape_pass((2, *self.input_shape))
        trainable = [n for n, p in named.items() if p.requires_grad]
        order = [n for n in recorder.order if n in trainable]
        order += [n for n in trainable if n not in order]
        self._params = [TorchParam(n, _layer_of(n),
                                   recorder.roles.get(n) or _unused_role(named[n]), named[n])
                        for n in order]

    # ---- construction --------------------------------------------------------------------------
    @classmethod
    def build(cls, factory: str, params: dict[str, Any], input_shape: tuple[int, ...],
              classes: int, rng: np.random.Generator, *,
              variant: str | None = None) -> TorchFrontend:
        """The model ``factory`` builds (``file.py:function`` or ``package.module:function``),
        called with ``params`` and, when it takes one and ``params`` does not set it,
        ``num_classes=classes``; torch's generator is seeded from ``rng`` first."""
        if variant not in VARIANTS:
            raise WorkloadError(f"unknown model variant {shown(variant)}; valid: "
                                f"{', '.join(str(v) for v in VARIANTS)}")
        fn = load_factory(factory)
        kwargs = dict(params)
        if "num_classes" not in kwargs and _accepts(fn, "num_classes"):
            kwargs["num_classes"] = classes
        torch.manual_seed(int(rng.integers(2**63 - 1)))
        try:
            model = fn(**kwargs)
        except (TypeError, ValueError) as exc:
            raise WorkloadError(f"model.params: {factory}: {exc}") from None
        if not isinstance(model, nn.Module):
            raise WorkloadError(f"model.torch: {factory} returned {type(model).__name__}, "
                                "not a torch.nn.Module")
        return cls.wrap(model.float(), input_shape, classes, variant=variant, source=factory)

    @classmethod
    def wrap(cls, model: nn.Module, input_shape: tuple[int, ...], classes: int, *,
             variant: str | None = None, source: str = "the model") -> TorchFrontend:
        """A front-end over ``model`` (float32, on the CPU) for inputs of ``input_shape``
        and ``classes`` class scores, in the form ``variant`` asks for (the binary forms
        change ``model`` in place)."""
        if variant not in VARIANTS:
            raise WorkloadError(f"unknown model variant {shown(variant)}; valid: "
                                f"{', '.join(str(v) for v in VARIANTS)}")
        frontend = cls(model, input_shape)
        out = frontend.describe((2, *input_shape))[-1].out_shape
        if not out or out[-1] != classes:
            raise WorkloadError(f"model.torch: {source} gives outputs of shape {list(out)} "
                                f"for a batch of 2; the data set has {classes} classes (the last "
                                "axis must be the class scores)")
        if variant is None:
            return frontend
        first = next((info.name for info in frontend.describe((2, *input_shape))
                      if info.gemms), None)
        if first is None:
            raise WorkloadError(f"model.torch: {source} runs no GEMM to binarise")
        norm, signs = make_binary(model, variant, first, classes)
        return cls(model, input_shape, variant=variant, output_norm=norm, signs=signs,
                   input_dtype=frontend.input_dtype)

    def configure_l1_norms(self, backward: str) -> None:
        """Give every l1 batch norm of the binary form the backward ``backward`` (a binary
        method's ``norm_backward``: exact, sign or paper), as
        ``layers.binary.configure_l1_norms`` does for the numpy layers."""
        for module in [*self.model.modules(), *([self.output_norm] if self.output_norm else [])]:
            if isinstance(module, L1BatchNorm):
                module.configure(backward)
        self._described.clear()

    def configure_signs(self, store: str, out_bits: int = 1) -> None:
        """Make every Sign of the binary form keep ``store`` (real or mask) and store its
        output at ``out_bits`` (a binary method's ``sign_store`` and ``activation_bits``, as
        ``layers.binary.configure_signs`` does for the numpy layers)."""
        if self.signs is None:
            raise WorkloadError("configure_signs: this network has no binary form (build it "
                                "with a binary method's variant)")
        self.signs.configure(store, out_bits)
        self._described.clear()

    # ---- the Frontend interface ------------------------------------------------------------------
    def params(self) -> list[ParamRef]:
        return list(self._params)

    def describe(self, in_shape: tuple[int, ...]) -> tuple[LayerInfo, ...]:
        key = tuple(int(d) for d in in_shape)
        found = self._described.get(key)
        if found is None:
            found = self._described[key] = self._shape_pass(key).layers()
        return found

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not x.flags.writeable:  # torch warns about read-only arrays (it never writes x)
            x = np.array(x)
        inputs = torch.from_numpy(np.ascontiguousarray(x))
        if inputs.dtype != self.input_dtype:
            self.input_dtype = inputs.dtype
            self._described.clear()
        self.session.observers = installed()
        with torch.set_grad_enabled(self.model.training), \
                self._running(self._capture, tracked=self.names.needs_tracking):
            out = self._call(inputs)
        self._out = out if out.requires_grad else None
        return out.detach().numpy()

    def backward(self, grad_logits: np.ndarray) -> None:
        if self._out is None:
            raise RuntimeError("TorchFrontend.backward called without a training forward")
        for p in self._params:
            p.tensor.grad = None
        self.session.observers = installed()
        out, self._out = self._out, None
        out.backward(torch.from_numpy(np.ascontiguousarray(grad_logits)).to(out.dtype))

    def train(self) -> None:
        self._modules_train(True)

    def eval(self) -> None:
        self._modules_train(False)

    # ---- internals -------------------------------------------------------------------------------
    def _modules_train(self, mode: bool) -> None:
        self.model.train(mode)
        if self.output_norm is not None:
            self.output_norm.train(mode)

    def _call(self, inputs: torch.Tensor, state: dict | None = None,
              norm_state: dict | None = None) -> torch.Tensor:
        if state is None:
            out = self.model(inputs)
        else:
            out = torch.func.functional_call(self.model, state, (inputs,), strict=False)
        if self.output_norm is not None:
            out = (self.output_norm(out) if norm_state is None else
                   torch.func.functional_call(self.output_norm, norm_state, (out,)))
        if not isinstance(out, torch.Tensor):
            raise WorkloadError(f"model.torch: the model returned {type(out).__name__}, not a "
                                "tensor of class scores")
        return out

    @contextmanager
    def _running(self, cap: Capture, *, tracked: bool) -> Iterator[None]:
        """A forward pass under ``cap``; ``tracked``: following module calls (``Names``)."""
        self.names.begin()
        with self.names.tracked() if tracked else nullcontext(), capturing(cap):
            yield

    def _shape_pass(self, shape: tuple[int, ...]) -> Recorder:
        """Run the model once in training mode on meta tensors of ``shape`` and record its
        layers; parameters, buffers and running statistics are left untouched."""
        def meta(t: torch.Tensor) -> torch.Tensor:
            return torch.empty_like(t, device="meta").requires_grad_(t.requires_grad)

        state = {n: meta(t) for n, t in [*self.model.named_parameters(),
                                          *self.model.named_buffers()]}
        norm_state = None
        extra: dict[str, torch.Tensor] = {}
        if self.output_norm is not None:
            norm_state = {n: meta(t) for n, t in [*self.output_norm.named_parameters(),
                                                   *self.output_norm.named_buffers()]}
            extra = {f"{OUTPUT_NORM}.{n}": norm_state[n]
                     for n, _ in self.output_norm.named_parameters()}
        self.names.index({n: (t, _layer_of(n)) for n, t in [*state.items(), *extra.items()]
                          if n in self._named})
        recorder = Recorder(self.names)
        cap = Capture(self.names, self.session, recorder=recorder,
                      binary=self.variant is not None)
        was_training = self.model.training
        self._modules_train(True)
        try:
            with self._running(cap, tracked=True):
                self._call(torch.empty(shape, dtype=self.input_dtype, device="meta"), state,
                           norm_state)
        except WorkloadError:
            raise
        except Exception as exc:  # a model torch cannot run: say why, as a workload error
            raise WorkloadError(f"model.torch: the model cannot run on an input of shape "
                                f"{list(shape)} ({type(exc).__name__}: {exc})") from None
        finally:
            self._modules_train(was_training)
            self.names.on_exit = None
            self.names.index({n: (p, _layer_of(n)) for n, p in self._named.items()})
        return recorder

    def _guess_input_dtype(self) -> torch.dtype:
        """float32 inputs, or integer indices for a model that starts with an embedding."""
        first = next((m for m in self.model.modules() if not any(True for _ in m.children())),
                     None)
        return torch.int64 if isinstance(first, nn.Embedding) else torch.float32


def _unused_role(p: torch.Tensor) -> str:
    return "bias" if p.dim() <= 1 else "gemm_weight"


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def load_factory(factory: str) -> Callable[..., Any]:
    """The function ``factory`` names: ``path/to/file.py:function`` or
    ``package.module:function``."""
    source, sep, function = factory.rpartition(":")
    if not sep or not source or not function:
        raise WorkloadError(f"model.torch: {shown(factory)} is not 'file.py:function' or "
                            "'package.module:function'")
    if source.endswith(".py"):
        path = Path(source)
        if not path.is_file():
            raise WorkloadError(f"model.torch: no such file {shown(source)}")
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        module_name = f"accelsim_user_model_{digest}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise WorkloadError(f"model.torch: cannot import {shown(source)}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception:
                del sys.modules[module_name]
                raise
    else:
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as exc:
            raise WorkloadError(f"model.torch: cannot import {shown(source)} ({exc})") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise WorkloadError(f"model.torch: {shown(source)} has no function {shown(function)}")
    return fn
