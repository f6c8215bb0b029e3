"""A torch model's GEMMs through accelsim's GEMM observers, forward and backward.

What it owns: the three autograd Functions every captured GEMM runs as (:class:`LinearGemm`,
:class:`Conv2dGemm`, :class:`MatmulGemm`), the GEMM shapes of each by shape alone (shared with
``describe`` so that a trace and a shape-only trace agree), and :class:`Session`, the observers
of ``accelsim.train.gemm`` a pass hands its operands to.

Each phase of each GEMM does what ``train.gemm.gemm`` does for a numpy layer: it builds the
:class:`~accelsim.train.gemm.GemmOp`, lets every observer replace the operands (a method's
quantiser puts them on its grid), computes with torch's own kernels on what the observers
returned, and lets every observer record the op. Shapes and roles follow the numpy layers'
tables (``layers/dense.py``, ``layers/conv.py``):

==========  ==================================  =======================  ====================
GEMM        fwd (m, n, k)                       bwd_weight (m, n, k)     bwd_data (m, n, k)
==========  ==================================  =======================  ====================
linear      rows, out, in                       in, out, rows            rows, in, out
conv2d      P = N*OH*OW, O/g, K = C/g*kh*kw     K, O/g, P                P, K, O/g
            (``count`` g: one GEMM per group)
matmul      m, n, k of each of the ``count``    k, n, m (B's gradient)   m, k, n (A's)
            products of a batched ``a @ b``
==========  ==================================  =======================  ====================

The operands an observer sees are numpy views of the torch tensors (no copy) where the GEMM's
operand is one: a linear layer's rows and ``W^T``, a matmul's (batched) ``a`` and ``b``. A
convolution's A is an im2col view that torch never builds; the observers get the part of the
feature map the patches read instead (the whole map, unless a stride skips rows), and its
weights as ``[K, O]``. A method's quantiser has one grid per tensor, chosen from its largest
magnitude, and rounds element by element, so quantising the map and then gathering patches is
quantising the patches (bit for bit; the padding's zeros are on every grid). A grouped or
batched GEMM hands its whole tensors over once (one grid per tensor, as ``quantiser.operand_work``
prices it) and is recorded ``count`` times, which the trace writer folds into one record.

Backward: the weight's gradient (bwd_weight) first, then the input's (bwd_data), as the numpy
layers run them; bwd_data runs only when the input needs a gradient, so the first layer with
parameters has none, as in the numpy front-end. A bias gradient is the plain sum of the error.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from accelsim.train.gemm import GemmObserver, GemmOp
from accelsim.train.interfaces import GemmShape


class Session:
    """The observers one pass hands its GEMMs to: a snapshot of those installed with
    ``train.gemm.observing`` when the front-end's forward or backward starts (the autograd
    engine may run backward Functions where a context variable is not visible)."""

    def __init__(self) -> None:
        self._observers: tuple[GemmObserver, ...] = ()
        self._recorders: tuple[GemmObserver, ...] = ()
        self._ops: dict[tuple[str, GemmShape], GemmOp] = {}

    @property
    def observers(self) -> tuple[GemmObserver, ...]:
        return self._observers

    @observers.setter
    def observers(self, observers: tuple[GemmObserver, ...]) -> None:
        self._observers = tuple(observers)
        # those that record (a batched GEMM calls them ``count`` times: skip the no-ops)
        self._recorders = tuple(o for o in self._observers
                                if type(o).record is not GemmObserver.record)

    def operands(self, layer: str, shape: GemmShape, a: np.ndarray, b: np.ndarray
                 ) -> tuple[GemmOp, np.ndarray | None, np.ndarray | None]:
        """The op and the operands every observer chose (None where an operand is unchanged,
        so the caller keeps computing with its torch tensor)."""
        key = (layer, shape)
        op = self._ops.get(key)
        if op is None:  # ops are frozen: one per layer and shape, reused every step
            op = self._ops[key] = GemmOp(layer, shape.phase, m=shape.m, n=shape.n, k=shape.k,
                                         a_elements=shape.a_elements,
                                         c_elements=shape.c_elements)
        if not self.observers:
            return op, None, None
        qa, qb = a, b
        for observer in self.observers:
            op, qa, qb = observer.operands(op, qa, qb)
        if qa.shape != a.shape or qb.shape != b.shape:
            raise ValueError(f"gemm in layer {layer!r} ({shape.phase}): an observer changed the "
                             f"operand shapes from {(a.shape, b.shape)} to {(qa.shape, qb.shape)}")
        return op, None if qa is a else qa, None if qb is b else qb

    def record(self, op: GemmOp, count: int = 1) -> None:
        for observer in self._recorders:
            for _ in range(count):
                observer.record(op)


def as_numpy(t: torch.Tensor) -> np.ndarray:
    """A numpy view of a CPU tensor (no copy)."""
    return t.detach().numpy()


def as_tensor(x: np.ndarray) -> torch.Tensor:
    """A torch view of a numpy array an observer returned (no copy)."""
    return torch.from_numpy(x)


# ---- shapes -------------------------------------------------------------------------------------

class Gemms(NamedTuple):
    """One GEMM of each phase and how many identical ones run (``repeat``: the groups of a
    convolution, the batch of a matmul; the trace's ``count``)."""

    fwd: GemmShape
    bwd_weight: GemmShape
    bwd_data: GemmShape
    repeat: int = 1

    def shapes(self, weight_grad: bool, input_grad: bool) -> tuple[GemmShape, ...]:
        """Every GEMM in the order a layer runs them: fwd, then bwd_weight and bwd_data where
        their operand needs a gradient (``LayerInfo.gemms``)."""
        out = [self.fwd] * self.repeat
        if weight_grad:
            out += [self.bwd_weight] * self.repeat
        if input_grad:
            out += [self.bwd_data] * self.repeat
        return tuple(out)


@functools.lru_cache(maxsize=1024)
def linear_gemms(in_shape: Sequence[int], out_features: int) -> Gemms:
    rows, features = math.prod(in_shape[:-1]), in_shape[-1]
    return Gemms(GemmShape("fwd", rows, out_features, features),
                 GemmShape("bwd_weight", features, out_features, rows),
                 GemmShape("bwd_data", rows, features, out_features))


@functools.lru_cache(maxsize=1024)
def matmul_gemms(a_shape: Sequence[int], b_shape: Sequence[int]) -> Gemms:
    """``a [..., m, k] @ b [..., k, n]`` with equal batch axes."""
    m, k = a_shape[-2:]
    n = b_shape[-1]
    return Gemms(GemmShape("fwd", m, n, k), GemmShape("bwd_weight", k, n, m),
                 GemmShape("bwd_data", m, k, n), math.prod(a_shape[:-2]))


class ConvGeometry(NamedTuple):
    """A 2-D convolution's stride, zero padding and dilation (rows, columns) and groups."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int

    def output_size(self, in_hw: Sequence[int], kernel: Sequence[int]) -> tuple[int, int]:
        return tuple(  # type: ignore[return-value]
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, k, s, p, d in zip(in_hw, kernel, self.stride, self.padding,
                                        self.dilation, strict=True))


@functools.lru_cache(maxsize=1024)
def conv_gemms(in_shape: Sequence[int], weight_shape: Sequence[int],
               geometry: ConvGeometry) -> Gemms:
    """Per group: P = N*OH*OW pixels, K = C/g*kh*kw patch entries, O/g outputs; A's (and
    bwd_data's C's) distinct elements are the group's share of the feature map."""
    n, c, h, w = in_shape
    o, _, kh, kw = weight_shape
    oh, ow = geometry.output_size((h, w), (kh, kw))
    g = geometry.groups
    pixels, patch, outs = n * oh * ow, (c // g) * kh * kw, o // g
    footprint = n * (c // g) * h * w
    return Gemms(GemmShape("fwd", pixels, outs, patch, a_elements=footprint),
                 GemmShape("bwd_weight", patch, outs, pixels, a_elements=footprint),
                 GemmShape("bwd_data", pixels, patch, outs, c_elements=footprint), g)


# ---- the part of a feature map a convolution reads ---------------------------------------------

@functools.lru_cache(maxsize=512)
def _read_rows(size: int, out: int, kernel: int, stride: int, padding: int, dilation: int
               ) -> slice | np.ndarray:
    """Indices along one axis that some patch reads: a slice when they are one run."""
    taps = (np.arange(out)[:, None] * stride + np.arange(kernel)[None, :] * dilation
            - padding).ravel()
    rows = np.unique(taps[(taps >= 0) & (taps < size)])
    if rows.size and rows[-1] - rows[0] + 1 == rows.size:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


class Region:
    """The elements of an [N, C, H, W] map that a convolution's patches read."""

    def __init__(self, shape: Sequence[int], kernel: Sequence[int], geometry: ConvGeometry):
        out = geometry.output_size(shape[2:], kernel)
        self.rows, self.cols = (
            _read_rows(size, o, k, s, p, d) for size, o, k, s, p, d in zip(
                shape[2:], out, kernel, geometry.stride, geometry.padding, geometry.dilation,
                strict=True))
        self.whole = all(isinstance(r, slice) and r == slice(0, size)
                         for r, size in zip((self.rows, self.cols), shape[2:], strict=True))

    def _index(self) -> tuple[Any, ...]:
        if isinstance(self.rows, slice) or isinstance(self.cols, slice):
            return (slice(None), slice(None), self.rows, self.cols)
        return (slice(None), slice(None), self.rows[:, None], self.cols[None, :])

    def take(self, x: np.ndarray) -> np.ndarray:
        """The read part of ``x`` (``x`` itself, or a view, or a gathered copy)."""
        return x if self.whole else x[self._index()]

    def put(self, x: torch.Tensor, part: np.ndarray) -> torch.Tensor:
        """``x`` with its read part replaced by ``part`` (what an observer made of it)."""
        if self.whole:
            return as_tensor(part)
        out = x.detach().clone()
        out[self._index()] = as_tensor(np.ascontiguousarray(part))
        return out


@functools.lru_cache(maxsize=512)
def region_of(shape: Sequence[int], kernel: Sequence[int], geometry: ConvGeometry) -> Region:
    return Region(shape, kernel, geometry)


# ---- the autograd Functions ---------------------------------------------------------------------

class LinearGemm(torch.autograd.Function):
    """``y = x W^T + b`` over the last axis of ``x`` (any leading axes)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                layer: str, session: Session) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        gemms = linear_gemms(x.shape, weight.shape[0])
        op, qa, qb = session.operands(layer, gemms.fwd, as_numpy(rows), as_numpy(weight).T)
        a = rows if qa is None else as_tensor(qa)
        w = weight if qb is None else as_tensor(qb).t()
        y = torch.nn.functional.linear(a, w, bias)
        session.record(op)
        ctx.save_for_backward(rows, weight)
        ctx.gemms, ctx.layer, ctx.session, ctx.in_shape = gemms, layer, session, x.shape
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        rows, weight = ctx.saved_tensors
        session, layer, gemms = ctx.session, ctx.layer, ctx.gemms
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dy = grad.reshape(-1, weight.shape[0])
        dy_np = as_numpy(dy)
        grad_x = grad_w = grad_b = None
        if need_w:
            op, qa, qb = session.operands(layer, gemms.bwd_weight, as_numpy(rows).T, dy_np)
            a = rows if qa is None else as_tensor(qa).t()
            b = dy if qb is None else as_tensor(qb)
            grad_w = b.t().mm(a)
            session.record(op)
        if need_b:
            grad_b = dy.sum(0)
        if need_x:
            op, qa, qb = session.operands(layer, gemms.bwd_data, dy_np, as_numpy(weight))
            a = dy if qa is None else as_tensor(qa)
            w = weight if qb is None else as_tensor(qb)
            grad_x = a.mm(w).reshape(ctx.in_shape)
            session.record(op)
        return grad_x, grad_w, grad_b, None, None


class Conv2dGemm(torch.autograd.Function):
    """``torch.conv2d`` with numeric padding (asymmetric padding is applied before)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                geometry: ConvGeometry, layer: str, session: Session) -> torch.Tensor:
        gemms = conv_gemms(x.shape, weight.shape, geometry)
        region = region_of(x.shape, weight.shape[2:], geometry)
        x_np, w_np = as_numpy(x), as_numpy(weight)
        op, qa, qb = session.operands(layer, gemms.fwd, region.take(x_np),
                                      w_np.reshape(weight.shape[0], -1).T)
        a = x if qa is None else region.put(x, qa)
        w = weight if qb is None else as_tensor(np.ascontiguousarray(qb.T)).reshape(weight.shape)
        y = torch.conv2d(a, w, bias, geometry.stride, geometry.padding, geometry.dilation,
                         geometry.groups)
        session.record(op, gemms.repeat)
        ctx.save_for_backward(x, weight)
        ctx.gemms, ctx.layer, ctx.session = gemms, layer, session
        ctx.geometry, ctx.region = geometry, region
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        x, weight = ctx.saved_tensors
        session, layer, gemms, geometry = ctx.session, ctx.layer, ctx.gemms, ctx.geometry
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dy_np = as_numpy(grad)
        grad_x = grad_w = grad_b = None
        ops: list[GemmOp] = []
        a, dy_w, dy_x, w = x, grad, grad, weight
        if need_w:
            op, qa, qb = session.operands(layer, gemms.bwd_weight,
                                          ctx.region.take(as_numpy(x)), dy_np)
            a = a if qa is None else ctx.region.put(x, qa)
            dy_w = dy_w if qb is None else as_tensor(qb)
            ops.append(op)
        if need_x:
            op, qa, qb = session.operands(layer, gemms.bwd_data, dy_np,
                                          as_numpy(weight).reshape(weight.shape[0], -1))
            dy_x = dy_x if qa is None else as_tensor(qa)
            w = w if qb is None else as_tensor(np.ascontiguousarray(qb)).reshape(weight.shape)
            ops.append(op)
        plain_bias = need_b and dy_w is grad and dy_x is grad
        if dy_w is dy_x and w is weight and (need_x or need_w):  # one call does both
            grad_x, grad_w, grad_b = _conv_backward(dy_w, a, weight, geometry,
                                                    (need_x, need_w, plain_bias))
        else:
            if need_w:
                grad_w = _conv_backward(dy_w, a, weight, geometry, (False, True, False))[1]
            if need_x:
                grad_x = _conv_backward(dy_x, x, w, geometry, (True, False, False))[0]
        if need_b and not plain_bias:
            grad_b = grad.sum((0, 2, 3))
        for op in ops:
            session.record(op, gemms.repeat)
        return grad_x, grad_w, grad_b, None, None, None


def _conv_backward(dy: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
                   geometry: ConvGeometry, mask: tuple[bool, bool, bool]) -> tuple[Any, ...]:
    return torch.ops.aten.convolution_backward(
        dy, x, weight, [weight.shape[0]] if mask[2] else None, list(geometry.stride),
        list(geometry.padding), list(geometry.dilation), False, [0, 0], geometry.groups,
        list(mask))


class MatmulGemm(torch.autograd.Function):
    """``a @ b`` for ``a [..., m, k]`` and ``b [..., k, n]`` with equal batch axes."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor, layer: str,
                session: Session) -> torch.Tensor:
        gemms = matmul_gemms(a.shape, b.shape)
        op, qa, qb = session.operands(layer, gemms.fwd, as_numpy(a), as_numpy(b))
        c = torch.matmul(a if qa is None else as_tensor(qa), b if qb is None else as_tensor(qb))
        session.record(op, gemms.repeat)
        ctx.save_for_backward(a, b)
        ctx.gemms, ctx.layer, ctx.session = gemms, layer, session
        return c

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        a, b = ctx.saved_tensors
        session, layer, gemms = ctx.session, ctx.layer, ctx.gemms
        need_a, need_b = ctx.needs_input_grad[:2]
        dc_np = as_numpy(grad)
        grad_a = grad_b = None
        if need_b:  # dB = a^T . dC
            op, qa, qb = session.operands(layer, gemms.bwd_weight, as_numpy(a).swapaxes(-1, -2),
                                          dc_np)
            at = a.transpose(-1, -2) if qa is None else as_tensor(qa)
            grad_b = torch.matmul(at, grad if qb is None else as_tensor(qb))
            session.record(op, gemms.repeat)
        if need_a:  # dA = dC . b^T
            op, qa, qb = session.operands(layer, gemms.bwd_data, dc_np,
                                          as_numpy(b).swapaxes(-1, -2))
            bt = b.transpose(-1, -2) if qb is None else as_tensor(qb)
            grad_a = torch.matmul(grad if qa is None else as_tensor(qa), bt)
            session.record(op, gemms.repeat)
        return grad_a, grad_b, None, None
