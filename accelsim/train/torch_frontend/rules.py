"""The vector work and kept tensors of a torch model's non-GEMM operations, by shape.

What it owns: ``RULES``, the table ``describe``'s :class:`~.capture.Capture` mode looks each
torch function up in. A rule runs the operation on shapes (the meta device) and records its
:class:`~accelsim.train.interfaces.LayerInfo`, counted as the numpy layers count theirs, so a
torch ReLU, batch norm or max pooling prices exactly as ``layers/shape.py``, ``layers/norm.py``
and ``layers/pool.py`` do. Per element of the output (``fwd``) or of the input (``bwd_data``):

==================  ======  ========  ==================================================
operation           fwd     bwd_data  kept for backward
==================  ======  ========  ==================================================
relu                1       1         1-bit mask (as ``layers.ReLU``)
relu6, hardtanh     2       1         1-bit mask
leaky_relu          2       2         1-bit mask
gelu / silu         5       8 / 9     its input
elu, hardswish,     3, 4,   3, 4,     its input
mish                6       10
sigmoid / tanh      4 / 1   3         its output
softmax,            5       4         its output (``softmax``, at the value width)
log_softmax
dropout (training)  3       2         1-bit mask
masked_fill         1       1         1-bit mask
add, sub            1       1 [a]_    nothing
mul, div            1       1 or 2    a scalar: nothing; two tensors: both (``input``)
mean, sum           1 [b]_  1         nothing
batch_norm          8       7         as ``layers.BatchNorm``: normalised input, 2 statistics
                                      per channel; bwd_weight 3; passes of their own
layer_norm,         8       7         normalised input, 2 statistics per row (per sample
group_norm                            and group); bwd_weight 3; fused (row statistics)
embedding           -       -         as ``layers.Embedding``: indices; bwd_weight
                                      scatter_add (a pass of its own)
max_pool2d,         as ``layers.pool`` (window k*k, c = windows covering an input;
avg_pool2d,         adaptive pooling: the window that covers the input)
adaptive_avg_pool2d
==================  ======  ========  ==================================================

.. [a] when both operands need a gradient: the two branches' errors are summed where they
   forked (a residual connection), counted at the add that joins them.
.. [b] a reduction counts the values it reads.

A parameter in an element-wise operation (a learned bias or position embedding added, a scale
multiplied) adds its gradient's reduction in ``bwd_weight`` (1 op per output element for an add,
2 for a product), written at the accumulator width. Data movement (views, reshapes,
concatenation, padding, slicing) is no vector work, as im2col is not. Operations not listed
here are not priced (``docs/models.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from accelsim.train.interfaces import (
    ACC_WIDTH,
    ERROR_WIDTH,
    INPUT_WIDTH,
    VALUE_WIDTH,
    KeptSpec,
    LayerInfo,
    VectorSpec,
    Width,
)

T = torch.Tensor
Rule = Callable[[Any, Any, tuple, dict], Any]


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _vec(phase: str, kind: str, elements: int, ops: int, *, inputs: int = 1,
         in_width: Width = INPUT_WIDTH, out_width: Width = INPUT_WIDTH,
         tensor: str | None = None, fused: bool = True) -> VectorSpec:
    return VectorSpec(phase, kind, elements, ops, inputs, in_width, out_width, tensor, fused)


def _first(value: Any) -> T:
    return value[0] if isinstance(value, (tuple, list)) else value


# ---- element-wise activations ----------------------------------------------------------------

def _unary(kind: str, forward: int, backward: int, kept: str | None) -> Rule:
    """An element-wise function: ``forward``/``backward`` ops per element; ``kept`` is
    ``mask`` (1 bit), ``input`` or ``output`` (at the width they have)."""
    def rule(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
        x = _arg(args, kwargs, 0, "input")
        out = func(*args, **kwargs)
        n = out.numel()
        grad = x.requires_grad
        reads = 1 if kept in (None, "mask") else 2  # the error, and the kept value
        vectors = [_vec("fwd", kind, n, forward)]
        if grad:
            vectors.append(_vec("bwd_data", kind, n, backward, inputs=reads,
                                out_width=ERROR_WIDTH))
        spec = {None: (), "mask": (KeptSpec("mask", n, 1),),
                "input": (KeptSpec("input", n, INPUT_WIDTH, is_input=True),),
                "output": (KeptSpec("output", n, INPUT_WIDTH),)}[kept]
        cap.recorder.add(LayerInfo(cap.names.op(kind), kind, tuple(x.shape), tuple(out.shape),
                                   kept=spec if grad else (), vectors=tuple(vectors)))
        return out
    return rule


def _softmax(kind: str) -> Rule:
    def rule(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
        x = _arg(args, kwargs, 0, "input")
        out = func(*args, **kwargs)
        n = out.numel()
        vectors = [_vec("fwd", kind, n, 5, out_width=VALUE_WIDTH)]
        kept: tuple[KeptSpec, ...] = ()
        if x.requires_grad:
            vectors.append(_vec("bwd_data", kind, n, 4, inputs=2, out_width=ERROR_WIDTH))
            kept = (KeptSpec("softmax", n, VALUE_WIDTH),)
        cap.recorder.add(LayerInfo(cap.names.op(kind), kind, tuple(x.shape), tuple(out.shape),
                                   kept=kept, out_width=VALUE_WIDTH, vectors=tuple(vectors)))
        return out
    return rule


def _dropout(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
    p, training = _arg(args, kwargs, 1, "p", 0.5), _arg(args, kwargs, 2, "training", True)
    if not training or p == 0:
        return func(*args, **kwargs)
    return _unary("dropout", 3, 2, "mask")(cap, func, args, kwargs)


def _masked_fill(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
    return _unary("masked_fill", 1, 1, "mask")(cap, func, args, kwargs)


# ---- element-wise arithmetic -------------------------------------------------------------------

def _binary(kind: str) -> Rule:
    """add, sub, mul, div: the module docstring's rows; a parameter operand's gradient is
    reduced in bwd_weight."""
    product = kind in ("mul", "div")

    def rule(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
        a, b = args[0], _arg(args, kwargs, 1, "other")
        out = func(*args, **kwargs)
        n = out.numel()
        tensors = [t for t in (a, b) if isinstance(t, T) and t.numel() > 1]
        if not tensors:  # scalars (a batch norm counting its batches): no vector work
            return out
        full = [t for t in tensors if t.numel() == n]
        grads = [t for t in tensors if t.requires_grad]
        params = [t for t in tensors if cap.names.param(t) is not None]
        vectors = [_vec("fwd", kind, n, 1, inputs=max(1, len(full)))]
        kept: tuple[KeptSpec, ...] = ()
        data = [t for t in grads if cap.names.param(t) is None]
        if product:
            # each operand's gradient multiplies the error by the other operand, which is kept
            # (a parameter is stored anyway; a scalar is part of the instruction)
            def partner(t: T) -> T | None:
                return next((o for o in tensors if o is not t), None)

            if data:
                full_partner = any(p is not None and p.numel() == n
                                   for p in map(partner, data))
                vectors.append(_vec("bwd_data", kind, n, len(data), inputs=1 + full_partner,
                                    out_width=ERROR_WIDTH))
            kept = tuple(KeptSpec("input", t.numel(), INPUT_WIDTH, is_input=t is a)
                         for t in tensors if cap.names.param(t) is None
                         and (other := partner(t)) is not None and other.requires_grad)
        elif not product and len(data) == 2:
            vectors.append(_vec("bwd_data", kind, n, 1, inputs=2, out_width=ERROR_WIDTH))
        if any(p.requires_grad for p in params):
            vectors.append(_vec("bwd_weight", "bias_grad" if not product else kind, n,
                                2 if product else 1, inputs=2 if product else 1,
                                out_width=ACC_WIDTH, tensor="weight_grads"))
        shape = tuple(tensors[0].shape) if tensors else tuple(out.shape)
        cap.recorder.add(LayerInfo(cap.names.op(kind, *tensors), kind, shape, tuple(out.shape),
                                   kept=kept, vectors=tuple(vectors)), *params)
        return out
    return rule


def _reduction(kind: str) -> Rule:
    def rule(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
        x = args[0]
        out = func(*args, **kwargs)
        vectors = [_vec("fwd", kind, x.numel(), 1)]
        if x.requires_grad:
            vectors.append(_vec("bwd_data", kind, x.numel(), 1, out_width=ERROR_WIDTH))
        cap.recorder.add(LayerInfo(cap.names.op(kind), kind, tuple(x.shape), tuple(out.shape),
                                   vectors=tuple(vectors)))
        return out
    return rule


# ---- normalisation and lookups -------------------------------------------------------------------

def norm_info(name: str, kind: str, x: T, weight: T | None, statistics: int, *,
              fused: bool, training: bool = True, normalised: Width = VALUE_WIDTH,
              ops: tuple[int, int, int] = (8, 3, 7), statistics_bits: int = 32) -> LayerInfo:
    """A normalisation's layer, as ``layers.norm.NormBase.describe`` counts it."""
    n = x.numel()
    if not training:  # stored statistics: a scale and a shift each way
        vectors = [_vec("fwd", kind, n, 2, out_width=VALUE_WIDTH)]
        if x.requires_grad:
            vectors.append(_vec("bwd_data", kind, n, 1, out_width=ERROR_WIDTH))
        return LayerInfo(name, kind, tuple(x.shape), tuple(x.shape), out_width=VALUE_WIDTH,
                         vectors=tuple(vectors))
    forward, weight_grad, data_grad = ops
    reads = 1 if normalised == 1 else 2
    kept = (KeptSpec("normalised", n, normalised),
            KeptSpec("statistics", statistics, statistics_bits))
    vectors = [_vec("fwd", kind, n, forward, out_width=VALUE_WIDTH, fused=fused)]
    if weight is not None and weight.requires_grad:
        vectors.append(_vec("bwd_weight", kind, n, weight_grad, inputs=reads,
                            out_width=ACC_WIDTH, tensor="weight_grads"))
    if x.requires_grad:
        vectors.append(_vec("bwd_data", kind, n, data_grad, inputs=reads, out_width=ERROR_WIDTH,
                            fused=fused))
    return LayerInfo(name, kind, tuple(x.shape), tuple(x.shape), kept=kept,
                     out_width=VALUE_WIDTH, vectors=tuple(vectors))


def _batch_norm(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
    x = args[0]
    weight, bias = _arg(args, kwargs, 3, "weight"), _arg(args, kwargs, 4, "bias")
    training = _arg(args, kwargs, 5, "training", False)
    out = func(*args, **kwargs)
    name = cap.names.op("batchnorm", weight, bias)
    cap.recorder.add(norm_info(name, "batchnorm", x, weight, 2 * x.shape[1], fused=False,
                               training=training), weight, bias)
    return out


def _layer_norm(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
    x, shape = args[0], _arg(args, kwargs, 1, "normalized_shape")
    weight, bias = _arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias")
    out = func(*args, **kwargs)
    rows = x.numel() // math.prod(shape)
    name = cap.names.op("layernorm", weight, bias)
    cap.recorder.add(norm_info(name, "layernorm", x, weight, 2 * rows, fused=True),
                     weight, bias)
    return out


def _group_norm(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
    x, groups = args[0], _arg(args, kwargs, 1, "num_groups")
    weight, bias = _arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias")
    out = func(*args, **kwargs)
    name = cap.names.op("groupnorm", weight, bias)
    cap.recorder.add(norm_info(name, "groupnorm", x, weight, 2 * x.shape[0] * groups,
                               fused=True), weight, bias)
    return out


def _embedding(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
    indices, weight = args[0], _arg(args, kwargs, 1, "weight")
    out = func(*args, **kwargs)
    rows, dim = weight.shape
    lookups = indices.numel()
    vectors: tuple[VectorSpec, ...] = ()
    if weight.requires_grad:
        vectors = (_vec("bwd_weight", "scatter_add", lookups * dim, 1, out_width=ACC_WIDTH,
                        tensor="weight_grads", fused=False),)
    index_bits = max(1, math.ceil(math.log2(rows)))
    cap.recorder.add(LayerInfo(cap.names.op("embedding", weight), "embedding",
                               tuple(indices.shape), tuple(out.shape),
                               kept=(KeptSpec("indices", lookups, index_bits),),
                               out_width=VALUE_WIDTH, vectors=vectors), weight)
    return out


# ---- pooling -----------------------------------------------------------------------------------

def _pool_info(cap: Any, kind: str, work: str, x: T, out: T, window: tuple[int, int],
               covering: int, maximum: bool) -> None:
    size = window[0] * window[1]
    vectors = [_vec("fwd", work, out.numel(), max(1, size - 1) if maximum else size,
                    inputs=size)]
    kept: tuple[KeptSpec, ...] = ()
    if x.requires_grad:
        vectors.append(_vec("bwd_data", work, x.numel(), 2 * covering - 1, inputs=covering,
                            out_width=ERROR_WIDTH))
        if maximum:
            kept = (KeptSpec("argmax", out.numel(), max(1, math.ceil(math.log2(size)))),)
    cap.recorder.add(LayerInfo(cap.names.op(kind), kind, tuple(x.shape), tuple(out.shape),
                               kept=kept, vectors=tuple(vectors)))


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return (int(value[0]), int(value[-1]))


def _pool(kind: str, work: str, maximum: bool) -> Rule:
    def rule(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
        x = args[0]
        kernel = _pair(_arg(args, kwargs, 1, "kernel_size"))
        stride = _arg(args, kwargs, 2, "stride")
        stride = kernel if stride in (None, []) else _pair(stride)
        out = func(*args, **kwargs)
        covering = math.prod(math.ceil(k / s) for k, s in zip(kernel, stride, strict=True))
        _pool_info(cap, kind, work, x, _first(out), kernel, covering, maximum)
        return out
    return rule


def _adaptive_avg_pool(cap: Any, func: Any, args: tuple, kwargs: dict) -> Any:
    x = args[0]
    out = func(*args, **kwargs)
    sizes = [(i, o) for i, o in zip(x.shape[-2:], out.shape[-2:], strict=True)]
    window = tuple(math.ceil(i / o) for i, o in sizes)
    covering = math.prod(1 if i % o == 0 else 2 for i, o in sizes)
    _pool_info(cap, "avgpool2d", "avgpool", x, out, window, covering,  # type: ignore[arg-type]
               maximum=False)
    return out


def _methods(*names: str) -> list[Any]:
    """The torch functions and Tensor methods of these names that exist."""
    found = []
    for name in names:
        for owner in (torch, T, F):
            func = getattr(owner, name, None)
            if func is not None and func not in found:
                found.append(func)
    return found


RULES: dict[Any, Rule] = {}
for _names, _rule in [
    (("relu", "relu_"), _unary("relu", 1, 1, "mask")),
    (("relu6",), _unary("relu6", 2, 1, "mask")),
    (("hardtanh", "hardtanh_"), _unary("hardtanh", 2, 1, "mask")),
    (("leaky_relu", "leaky_relu_"), _unary("leaky_relu", 2, 2, "mask")),
    (("gelu",), _unary("gelu", 5, 8, "input")),
    (("silu",), _unary("silu", 5, 9, "input")),
    (("elu", "elu_"), _unary("elu", 3, 3, "input")),
    (("hardswish",), _unary("hardswish", 4, 4, "input")),
    (("mish",), _unary("mish", 6, 10, "input")),
    (("sigmoid", "sigmoid_"), _unary("sigmoid", 4, 3, "output")),
    (("tanh", "tanh_"), _unary("tanh", 1, 3, "output")),
    (("softmax",), _softmax("softmax")),
    (("log_softmax",), _softmax("log_softmax")),
    (("masked_fill", "masked_fill_"), _masked_fill),
    (("add", "add_", "__add__", "__radd__", "__iadd__"), _binary("add")),
    (("sub", "sub_", "__sub__", "__rsub__", "__isub__"), _binary("sub")),
    (("mul", "mul_", "__mul__", "__rmul__", "__imul__"), _binary("mul")),
    (("div", "div_", "__truediv__", "__itruediv__"), _binary("div")),
    (("mean",), _reduction("mean")),
    (("sum",), _reduction("sum")),
    (("layer_norm",), _layer_norm),
    (("group_norm",), _group_norm),
    (("avg_pool2d",), _pool("avgpool2d", "avgpool", maximum=False)),
    (("adaptive_avg_pool2d",), _adaptive_avg_pool),
]:
    for _func in _methods(*_names):
        RULES[_func] = _rule
for _func in (F.max_pool2d, torch.max_pool2d, F.max_pool2d_with_indices):
    RULES[_func] = _pool("maxpool2d", "maxpool", maximum=True)
RULES[F.dropout] = _dropout
RULES[F.batch_norm] = _batch_norm  # (torch.batch_norm and torch.embedding take their
RULES[F.embedding] = _embedding    # arguments in another order; F's call them)
