"""The torch function mode that captures a model's GEMMs (and, for ``describe``, everything else).

What it owns: :class:`Capture`, a ``torch.overrides.TorchFunctionMode`` the front-end runs the
model under. It recognises operations by the torch function called, not by module type, so a
GEMM is captured whether it comes from ``nn.Linear``, ``F.linear`` in a custom module, or an
``a @ b`` inside attention:

* GEMMs: ``F.linear``; ``F.conv2d`` (any stride, padding, dilation, groups); ``matmul``,
  ``@``, ``mm``, ``bmm`` (batched, broadcast); ``F.scaled_dot_product_attention``, spelled out
  as its two matmuls and a softmax. Training runs each through the autograd Functions of
  :mod:`.gemms` (the observers see all three phases); ``describe`` runs the plain op on shapes
  and records its :class:`~accelsim.train.interfaces.LayerInfo`;
* everything else is left to torch when training; ``describe`` records the vector work of the
  operations :mod:`.rules` knows;
* operations that would hide a GEMM from the trace (``conv1d``, ``conv_transpose2d``,
  ``einsum``, ``addmm``, ``baddbmm``, ``F.multi_head_attention_forward``, ...) are refused
  with a message that says how to spell them instead;
* the binary form of a network (``binary``) drops the real-valued activation functions: a
  Sign before each binarised GEMM takes their place (:mod:`.binary`).

Inside a handled function the mode is off (torch pops it), so an operation is seen once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from accelsim.errors import WorkloadError
from accelsim.train.interfaces import INPUT_WIDTH, VALUE_WIDTH, KeptSpec, LayerInfo
from accelsim.train.layers.conv import bias_vectors
from accelsim.train.torch_frontend.gemms import (
    Conv2dGemm,
    ConvGeometry,
    Gemms,
    LinearGemm,
    MatmulGemm,
    Session,
    conv_gemms,
    linear_gemms,
    matmul_gemms,
)
from accelsim.train.torch_frontend.naming import Names
from accelsim.train.torch_frontend.recorder import Recorder

Handler = Callable[["Capture", Any, tuple, dict], Any]

T = torch.Tensor
#: Activation functions the binary form replaces by the Sign before the next GEMM.
ACTIVATIONS = (F.relu, torch.relu, T.relu, torch.relu_, T.relu_, F.relu6, F.hardtanh,
               F.leaky_relu, F.gelu, F.silu, F.elu, F.hardswish, F.mish)
#: Functions that compute a GEMM accelsim does not capture; the message says what to use.
REFUSED = {
    F.conv1d: "use nn.Conv2d (a 1-D convolution is a 2-D one with a height of 1)",
    F.conv3d: "3-D convolutions are not supported",
    F.conv_transpose1d: "transposed convolutions are not supported",
    F.conv_transpose2d: "transposed convolutions are not supported",
    F.conv_transpose3d: "transposed convolutions are not supported",
    torch.einsum: "write the contraction as matmul",
    torch.addmm: "write it as F.linear or a matmul and an add",
    T.addmm: "write it as F.linear or a matmul and an add",
    torch.baddbmm: "write it as a matmul and an add",
    torch.addbmm: "write it as a matmul and an add",
    F.bilinear: "write it as matmuls",
    F.multi_head_attention_forward: "nn.MultiheadAttention hides its GEMMs; spell attention "
                                    "out with nn.Linear and q @ k.transpose(-2, -1)",
}


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


class Capture(TorchFunctionMode):
    """Runs a model's GEMMs through the observers (training) or records its layers
    (``recorder`` given: describe). ``paused`` lets accelsim's own modules (Sign, l1 batch
    norm) compute without being seen operation by operation."""

    def __init__(self, names: Names, session: Session, *, recorder: Recorder | None = None,
                 binary: bool = False):
        super().__init__()
        self.names, self.session, self.recorder, self.binary = names, session, recorder, binary
        self.paused = False
        self.handlers: dict[Any, Handler] = dict(GEMM_HANDLERS)
        if recorder is not None:
            from accelsim.train.torch_frontend.rules import RULES

            self.handlers.update(RULES)
        for func in REFUSED:
            self.handlers[func] = _refuse
        if binary:
            for func in ACTIVATIONS:
                self.handlers[func] = _dropped

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if not self.paused:
            handler = self.handlers.get(func)
            if handler is not None:
                return handler(self, func, args, kwargs)
        return func(*args, **kwargs)


_active: ContextVar[Capture | None] = ContextVar("accelsim_torch_capture", default=None)


def active() -> Capture | None:
    """The capture the running forward pass is under (None outside one)."""
    return _active.get()


@contextmanager
def capturing(cap: Capture) -> Iterator[Capture]:
    """Run the block under ``cap`` (the mode, and ``active()`` for accelsim's own modules)."""
    token = _active.set(cap)
    try:
        with cap:
            yield cap
    finally:
        _active.reset(token)


@contextmanager
def paused(cap: Capture | None) -> Iterator[None]:
    """Let accelsim's own modules compute without their operations being captured."""
    if cap is None:
        yield
        return
    was, cap.paused = cap.paused, True
    try:
        yield
    finally:
        cap.paused = was


def _refuse(cap: Capture, func: Any, args: tuple, kwargs: dict) -> Any:
    name = getattr(func, "__name__", str(func))
    where = cap.names.current()
    raise WorkloadError(f"model.torch: {name} in module {where.name if where else '(root)'!r} "
                        f"runs a GEMM accelsim cannot trace: {REFUSED[func]}")


def _dropped(cap: Capture, func: Any, args: tuple, kwargs: dict) -> Any:
    """An activation of the binary form: gone (its module is no layer either)."""
    call = cap.names.current()
    if call is not None and call.leaf:
        call.named = True
    return _arg(args, kwargs, 0, "input")


# ---- GEMMs ------------------------------------------------------------------------------------

def _record_gemm(cap: Capture, layer: str, kind: str, a: T, out: T, gemms: Gemms, *,
                 weight: T, bias: T | None = None, kept: tuple[KeptSpec, ...] = ()) -> None:
    """What a GEMM layer is, by shape: its GEMMs (bwd_data only when its input needs a
    gradient), its input kept for bwd_weight, its bias work."""
    assert cap.recorder is not None
    kept = (KeptSpec("activations", a.numel(), INPUT_WIDTH, is_input=True), *kept)
    cap.recorder.add(LayerInfo(
        layer, kind, tuple(a.shape), tuple(out.shape),
        gemms.shapes(weight.requires_grad, a.requires_grad), kept=kept,
        out_width=VALUE_WIDTH,
        vectors=bias_vectors(out.numel(), bias is not None)), weight, bias)


def _linear(cap: Capture, func: Any, args: tuple, kwargs: dict) -> Any:
    x, weight = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    bias = _arg(args, kwargs, 2, "bias")
    layer = cap.names.op("linear", weight, bias)
    if cap.recorder is None:
        return LinearGemm.apply(x, weight, bias, layer, cap.session)
    out = func(*args, **kwargs)
    _record_gemm(cap, layer, "linear", x, out, linear_gemms(x.shape, weight.shape[0]),
                 weight=weight, bias=bias)
    return out


def _conv2d(cap: Capture, func: Any, args: tuple, kwargs: dict) -> Any:
    x, weight = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    bias = _arg(args, kwargs, 2, "bias")
    stride = _pair(_arg(args, kwargs, 3, "stride", 1))
    padding = _arg(args, kwargs, 4, "padding", 0)
    dilation = _pair(_arg(args, kwargs, 5, "dilation", 1))
    groups = int(_arg(args, kwargs, 6, "groups", 1))
    if x.dim() != 4:
        raise WorkloadError(f"model.torch: conv2d in layer {cap.names.op('conv2d', weight)!r} "
                            f"needs a batched [N, C, H, W] input, got {list(x.shape)}")
    if isinstance(padding, str):  # "valid", or "same" (maybe asymmetric: pad first, as torch)
        padding, x = _string_padding(padding, x, weight.shape[2:], dilation)
    geometry = ConvGeometry(stride, _pair(padding), dilation, groups)
    layer = cap.names.op("conv2d", weight, bias)
    if cap.recorder is None:
        return Conv2dGemm.apply(x, weight, bias, geometry, layer, cap.session)
    out = torch.conv2d(x, weight, bias, geometry.stride, geometry.padding, geometry.dilation,
                       groups)
    _record_gemm(cap, layer, "conv2d", x, out, conv_gemms(x.shape, weight.shape, geometry),
                 weight=weight, bias=bias)
    return out


def _string_padding(padding: str, x: T, kernel: Any, dilation: tuple[int, int]
                    ) -> tuple[tuple[int, int], T]:
    if padding == "valid":
        return (0, 0), x
    totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    if all(t % 2 == 0 for t in totals):
        return (totals[0] // 2, totals[1] // 2), x
    (top, left) = (t // 2 for t in totals)
    return (0, 0), F.pad(x, (left, totals[1] - left, top, totals[0] - top))


def matmul(cap: Capture, a: T, b: T, kind: str = "matmul") -> T:
    """``a @ b`` with torch.matmul's broadcasting, as one GEMM (a 2-D ``b``: ``a``'s leading
    axes are rows) or ``count`` batched ones."""
    squeeze: list[int] = []
    if a.dim() == 1:
        a, squeeze = a.unsqueeze(0), [*squeeze, -2]
    if b.dim() == 1:
        b, squeeze = b.unsqueeze(-1), [*squeeze, -1]
    layer = cap.names.op(kind, b, a)
    if b.dim() == 2:  # rows @ matrix: one GEMM
        rows = a.reshape(-1, a.shape[-1])
        out_shape = (*a.shape[:-1], b.shape[-1])
        if cap.recorder is None:
            out = MatmulGemm.apply(rows, b, layer, cap.session).reshape(out_shape)
        else:
            out = torch.matmul(rows, b).reshape(out_shape)
            _record_matmul(cap, layer, kind, a, b, rows, b, out)
    else:
        ea, eb = a, b
        if a.shape[:-2] != b.shape[:-2]:  # broadcast the batch axes
            batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            ea, eb = a.expand(*batch, *a.shape[-2:]), b.expand(*batch, *b.shape[-2:])
        if cap.recorder is None:
            out = MatmulGemm.apply(ea, eb, layer, cap.session)
        else:
            out = torch.matmul(ea, eb)
            _record_matmul(cap, layer, kind, a, b, ea, eb, out)
    for axis in squeeze:
        out = out.squeeze(axis)
    return out


def _record_matmul(cap: Capture, layer: str, kind: str, a: T, b: T, ga: T, gb: T,
                   out: T) -> None:
    """A matmul keeps both operands for backward (each is the other's gradient's operand)."""
    assert cap.recorder is not None
    gemms = matmul_gemms(ga.shape, gb.shape)
    kept = (KeptSpec("activations", a.numel(), INPUT_WIDTH, is_input=True),
            KeptSpec("activations", b.numel(), INPUT_WIDTH))
    params = [t for t in (a, b) if cap.names.param(t) is not None]
    cap.recorder.add(LayerInfo(layer, kind, tuple(a.shape), tuple(out.shape),
                               gemms.shapes(b.requires_grad, a.requires_grad), kept=kept,
                               out_width=VALUE_WIDTH), *params)


def _matmul(cap: Capture, func: Any, args: tuple, kwargs: dict) -> Any:
    return matmul(cap, _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "other"))


def _rmatmul(cap: Capture, func: Any, args: tuple, kwargs: dict) -> Any:
    return matmul(cap, args[1], args[0])


def _attention(cap: Capture, func: Any, args: tuple, kwargs: dict) -> Any:
    """``F.scaled_dot_product_attention`` as its parts: q @ k^T, scale, mask, softmax, @ v."""
    q, k, v = (_arg(args, kwargs, i, name) for i, name in enumerate(("query", "key", "value")))
    mask = _arg(args, kwargs, 3, "attn_mask")
    if _arg(args, kwargs, 4, "dropout_p", 0.0):
        raise WorkloadError("model.torch: scaled_dot_product_attention with dropout_p > 0 is "
                            "not supported; apply nn.Dropout to the attention weights")
    causal = _arg(args, kwargs, 5, "is_causal", False)
    scale = kwargs.get("scale") or 1.0 / math.sqrt(q.shape[-1])
    scores = cap.__torch_function__(torch.mul, (), (matmul(cap, q, k.transpose(-2, -1)),
                                                     scale))
    length, keys = q.shape[-2], k.shape[-2]
    if causal:
        mask = torch.ones(length, keys, dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = cap.__torch_function__(T.masked_fill, (), (scores, ~mask, float("-inf")))
        else:
            scores = cap.__torch_function__(torch.add, (), (scores, mask))
    weights = cap.__torch_function__(torch.softmax, (), (scores, -1))
    return matmul(cap, weights, v)


GEMM_HANDLERS: dict[Any, Handler] = {
    F.linear: _linear, torch.conv2d: _conv2d,
    torch.matmul: _matmul, T.matmul: _matmul, T.__matmul__: _matmul, T.__rmatmul__: _rmatmul,
    torch.mm: _matmul, T.mm: _matmul, torch.bmm: _matmul, T.bmm: _matmul,
    F.scaled_dot_product_attention: _attention,
}
