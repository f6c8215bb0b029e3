"""2-D convolution as one GEMM per phase, by im2col over NCHW tensors.

What it owns: :class:`Conv2d` (stride, zero padding, optional bias) and the two reshapes that
turn a convolution into a matrix product and back: :func:`im2col` (every kh x kw patch of the
padded input as one column of a [K, P] matrix) and :func:`col2im` (its adjoint: columns added
back into an image, overlaps summed).

With x [N, C, H, W], weight [O, C, kh, kw], OH = (H + 2p - kh) // s + 1 and likewise OW,
P = N*OH*OW output pixels (ordered n, oh, ow) and K = C*kh*kw patch entries (ordered c, i, j,
which is ``weight.reshape(O, K)``), the GEMMs are:

==============  ===============================  =====  =====  =====
phase           C = A . B                        m      n      k
==============  ===============================  =====  =====  =====
``fwd``         y[P,O]     = cols[P,K] . W^T     P      O      K
``bwd_data``    dcols[P,K] = dy[P,O] . W[O,K]    P      K      O
``bwd_weight``  dW^T[K,O]  = cols^T . dy         K      O      P
==============  ===============================  =====  =====  =====

followed in ``bwd_data`` by col2im (not a GEMM) to fold dcols back into dx.

Vector work (``LayerInfo.vectors``), with a bias only: ``fwd`` ``bias_add``, ``y += bias``, one
add per output element at the method's value width; ``bwd_weight`` ``bias_grad``,
``dy.sum(axis=0)``, one add per element of the output gradient, written at the accumulator
width as weight gradients. im2col and col2im are not vector work: a device's array reads the
feature map through the patch view, and accumulates overlapping patches in the array.

Speed: the patch matrix is built and folded back in its transposed, [K, P], memory order:
each of the kh*kw kernel offsets then copies (or adds) one contiguous [C, N, OH, OW] block,
which is several times faster than gathering rows of patches. The GEMMs see it as [P, K] or
[K, P] through a transposed view (no copy; BLAS takes either order).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.gemm import gemm
from accelsim.train.interfaces import (
    ACC_WIDTH,
    INPUT_WIDTH,
    VALUE_WIDTH,
    GemmShape,
    KeptSpec,
    LayerInfo,
    VectorSpec,
)
from accelsim.train.layers.base import (
    Layer,
    Parameter,
    check_input,
    check_positive,
    check_shape,
    uniform,
)


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length along one axis (floor mode, as PyTorch); <= 0 means the kernel won't fit."""
    return (size + 2 * padding - kernel) // stride + 1


def pad(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the two spatial axes of an NCHW tensor (no copy when padding is 0)."""
    if padding == 0:
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    out[:, :, padding:padding + h, padding:padding + w] = x
    return out


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """Patches of ``x`` [N, C, H, W] as the columns of a C-ordered [C*kh*kw, N*OH*OW] matrix."""
    n, c, h, w = x.shape
    oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    by_channel = pad(x, padding).transpose(1, 0, 2, 3)  # [C, N, H+2p, W+2p] view
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = by_channel[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im(cols: np.ndarray, shape: tuple[int, ...], kh: int, kw: int, stride: int,
           padding: int) -> np.ndarray:
    """Adjoint of :func:`im2col`: fold [C*kh*kw, N*OH*OW] columns into a C-ordered ``shape``."""
    n, c, h, w = shape
    oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    blocks = cols.reshape(c, kh, kw, n, oh, ow)
    by_channel = np.zeros((c, n, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            by_channel[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += blocks[:, i, j]
    inner = by_channel[:, :, padding:padding + h, padding:padding + w]
    return np.ascontiguousarray(inner.transpose(1, 0, 2, 3))


def bias_vectors(outputs: int, bias: bool) -> tuple[VectorSpec, ...]:
    """A GEMM layer's bias work over its ``outputs`` elements: the add after the forward GEMM,
    the gradient's reduction after the weight gradient's GEMM (none without a bias)."""
    if not bias:
        return ()
    return (VectorSpec("fwd", "bias_add", outputs, 1, in_width=VALUE_WIDTH,
                       out_width=VALUE_WIDTH),
            VectorSpec("bwd_weight", "bias_grad", outputs, 1, out_width=ACC_WIDTH,
                       tensor="weight_grads"))


class Conv2d(Layer):
    """Cross-correlation of NCHW input with weight [O, C, kh, kw], plus bias [O]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 *, rng: np.random.Generator, stride: int = 1, padding: int = 0,
                 bias: bool = True, name: str = "conv", dtype: Any = np.float32):
        super().__init__(name)
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        owner = f"layer {shown(name)} (Conv2d)"
        check_positive(owner, in_channels=in_channels, out_channels=out_channels,
                       kernel_height=kh, kernel_width=kw, stride=stride)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise WorkloadError(f"{owner}: padding must be a non-negative integer, "
                                f"got {shown(padding)}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.padding = (kh, kw), stride, padding
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = Parameter(f"{name}.weight",
                                uniform(rng, bound, (out_channels, in_channels, kh, kw), dtype,
                                        f"layer {name!r}"), role="gemm_weight")
        self.bias = (Parameter(f"{name}.bias", uniform(rng, bound, (out_channels,), dtype),
                               role="bias") if bias else None)

    def parameters(self) -> list[Parameter]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """[N, O, OH, OW] for an input of ``shape`` [N, C, H, W]."""
        (kh, kw), s, p = self.kernel, self.stride, self.padding
        return (shape[0], self.out_channels, output_size(shape[2], kh, s, p),
                output_size(shape[3], kw, s, p))

    def _fitting_output(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The output shape, after checking that the kernel fits the input."""
        n, o, oh, ow = self.output_shape(shape)
        if oh < 1 or ow < 1:
            raise WorkloadError(f"layer {shown(self.name)} (Conv2d): kernel {list(self.kernel)} "
                                f"with padding {self.padding} does not fit input "
                                f"{list(shape[2:])}")
        return n, o, oh, ow

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        """Keeps its input feature map (not the im2col view) for bwd_weight; see the GEMM
        table: P = N*OH*OW, K = C*kh*kw, the feature map's size as A's or C's footprint."""
        check_shape(self, in_shape, ("N", self.in_channels, "H", "W"))
        out = self._fitting_output(in_shape)
        n, o, oh, ow = out
        pixels, patch = n * oh * ow, self.in_channels * math.prod(self.kernel)
        footprint = math.prod(in_shape)
        gemms = [GemmShape("fwd", pixels, o, patch, a_elements=footprint),
                 GemmShape("bwd_weight", patch, o, pixels, a_elements=footprint)]
        if self.needs_input_grad:
            gemms.append(GemmShape("bwd_data", pixels, patch, o, c_elements=footprint))
        return LayerInfo(self.name, "conv2d", in_shape, out, tuple(gemms),
                         kept=(KeptSpec("activations", footprint, INPUT_WIDTH, is_input=True),),
                         params=self.param_infos(), out_width=VALUE_WIDTH,
                         vectors=bias_vectors(math.prod(out), self.bias is not None))

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ("N", self.in_channels, "H", "W"))
        n, o, oh, ow = self._fitting_output(x.shape)
        cols = im2col(x, *self.kernel, self.stride, self.padding)  # [K, P]
        y = gemm(cols.T, self.weight.value.reshape(o, -1).T, layer=self.name, phase="fwd",
                 a_elements=x.size)
        if self.bias is not None:
            y += self.bias.value
        self._saved = (cols, x.shape)
        return np.ascontiguousarray(y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        cols, shape = self.saved()
        o = self.out_channels
        dy = grad_out.transpose(0, 2, 3, 1).reshape(-1, o)  # [P, O]
        footprint = int(np.prod(shape))  # the feature map behind the im2col view
        grad_t = gemm(cols, dy, layer=self.name, phase="bwd_weight",
                      a_elements=footprint)  # [K, O]
        self.weight.grad = np.ascontiguousarray(grad_t.T).reshape(self.weight.value.shape)
        if self.bias is not None:
            self.bias.grad = dy.sum(axis=0)
        if not self.needs_input_grad:
            return None
        dcols = np.empty(cols.shape, dtype=np.result_type(dy, self.weight.value))  # [K, P]
        gemm(dy, self.weight.value.reshape(o, -1), layer=self.name, phase="bwd_data",
             out=dcols.T, c_elements=footprint)
        return col2im(dcols, shape, *self.kernel, self.stride, self.padding)
