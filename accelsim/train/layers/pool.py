"""2-D max and average pooling over NCHW tensors (no padding, floor mode, as PyTorch's default).

What it owns: :class:`MaxPool2d` and :class:`AvgPool2d`, two small variants of one windowing
base. Pooling is not a GEMM: nothing here calls :func:`accelsim.train.gemm.gemm`.

Both directions loop over the k*k kernel offsets: offset (i, j) sees the strided input block
``x[:, :, i::s, j::s]`` (cut to OH x OW), so forward combines k*k blocks elementwise and backward
adds one share of the output gradient into each block of the input gradient, which handles
overlapping windows (stride < kernel) with no scatter. Max pooling keeps a reference to its
input and output and, in backward, sends each window's gradient to the first maximal element
(row-major order), as PyTorch does, so ties never double the gradient.

Vector work (``LayerInfo.vectors``), with k the window, s the stride and c = ceil(k/s)^2 the
windows covering one input element (1 without overlap):

=========  ========  =============================================  ============  =============
layer      phase     counted from the code                          ops           elements
=========  ========  =============================================  ============  =============
MaxPool2d  fwd       ``np.maximum`` of the k*k blocks: k*k - 1      k*k - 1       outputs
                     max operations per output, reading k*k
                     inputs (their argmax is what a device keeps)
MaxPool2d  bwd_data  scatter: each input selects the gradient of    2c - 1        inputs
                     each window whose argmax it is (c selects)
                     and sums them (c - 1 adds)
AvgPool2d  fwd       k*k - 1 adds and the division by k*k           k*k           outputs
AvgPool2d  bwd_data  each input takes dy / (k*k) from each          2c - 1        inputs
                     covering window (c scalings, c - 1 adds)
=========  ========  =============================================  ============  =============

Widths: forward reads and writes at the input's width, backward reads the arriving error and
writes at the error width. The numpy backward recomputes the argmax from the kept input and
output (about five operations per input); a device that keeps the argmax does not.
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.interfaces import ERROR_WIDTH, KeptSpec, LayerInfo, VectorSpec
from accelsim.train.layers.base import Layer, check_input, check_positive, check_shape
from accelsim.train.layers.conv import output_size


class _Pool2d(Layer):
    """Shared checks and the loop over kernel offsets; subclasses supply the per-offset math."""

    kind = ""  # LayerInfo.kind, set by the variants
    work = ""  # the kind of its vector records

    def __init__(self, kernel_size: int, stride: int | None = None, *, name: str):
        super().__init__(name)
        stride = kernel_size if stride is None else stride
        check_positive(f"layer {shown(name)} ({type(self).__name__})", kernel_size=kernel_size,
                       stride=stride)
        self.kernel, self.stride = kernel_size, stride

    def _output_size(self, shape: tuple[int, ...]) -> tuple[int, int]:
        k, s = self.kernel, self.stride
        oh, ow = output_size(shape[2], k, s, 0), output_size(shape[3], k, s, 0)
        if oh < 1 or ow < 1:
            raise WorkloadError(f"layer {shown(self.name)} ({type(self).__name__}): window {k} "
                                f"does not fit input {list(shape[2:])}")
        return oh, ow

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        check_shape(self, in_shape, ("N", "C", "H", "W"))
        out = (in_shape[0], in_shape[1], *self._output_size(in_shape))
        window = self.kernel * self.kernel
        covering = math.ceil(self.kernel / self.stride) ** 2
        vectors = [VectorSpec("fwd", self.work, math.prod(out), self._forward_ops(window),
                              inputs=window)]
        if self.needs_input_grad:
            vectors.append(VectorSpec("bwd_data", self.work, math.prod(in_shape),
                                      2 * covering - 1, inputs=covering, out_width=ERROR_WIDTH))
        return LayerInfo(self.name, self.kind, in_shape, out, kept=self._kept(out),
                         vectors=tuple(vectors))

    def _forward_ops(self, window: int) -> int:
        """Operations per output of the forward pass over a window of ``window`` inputs."""
        raise NotImplementedError

    def _kept(self, out_shape: tuple[int, ...]) -> tuple[KeptSpec, ...]:
        """What backward needs, by shape (for the memory model)."""
        return ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ("N", "C", "H", "W"))
        oh, ow = self._output_size(x.shape)
        y = self._pool(self._blocks(x, oh, ow))
        self._saved = (x, y)
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        x, y = self.saved()
        if not self.needs_input_grad:
            return None
        oh, ow = y.shape[2:]
        dx = np.zeros(x.shape, dtype=grad_out.dtype)
        shares = self._unpool(grad_out, y, self._blocks(x, oh, ow))
        for block, share in zip(self._blocks(dx, oh, ow), shares, strict=True):
            block += share  # a view into dx
        return dx

    def _blocks(self, x: np.ndarray, oh: int, ow: int) -> list[np.ndarray]:
        """Views of ``x`` seen by each kernel offset (i, j), row-major: x[:, :, i::s, j::s]."""
        k, s = self.kernel, self.stride
        return [x[:, :, i:i + s * oh:s, j:j + s * ow:s] for i in range(k) for j in range(k)]

    def _pool(self, blocks: list[np.ndarray]) -> np.ndarray:
        """The output from the k*k strided input blocks, one per kernel offset (row-major)."""
        raise NotImplementedError

    def _unpool(self, grad_out: np.ndarray, y: np.ndarray, blocks: list[np.ndarray]):
        """Yield, per kernel offset, the share of ``grad_out`` that goes to its input block."""
        raise NotImplementedError


class MaxPool2d(_Pool2d):
    """Maximum over each k x k window; its gradient goes to the first maximal element."""

    kind = "maxpool2d"
    work = "maxpool"  # the vector records' kind

    def __init__(self, kernel_size: int, stride: int | None = None, *, name: str = "maxpool"):
        super().__init__(kernel_size, stride, name=name)

    def _kept(self, out_shape: tuple[int, ...]) -> tuple[KeptSpec, ...]:
        """A device keeps each window's argmax: ceil(log2(k*k)) bits per output (this numpy
        layer keeps its input and output instead, and recomputes it)."""
        bits = max(1, math.ceil(math.log2(self.kernel * self.kernel)))
        return (KeptSpec("argmax", math.prod(out_shape), bits),)

    def _forward_ops(self, window: int) -> int:
        return max(1, window - 1)

    def _pool(self, blocks: list[np.ndarray]) -> np.ndarray:
        y = blocks[0].copy()
        for block in blocks[1:]:
            np.maximum(y, block, out=y)
        return y

    def _unpool(self, grad_out, y, blocks):
        unclaimed = np.ones(y.shape, dtype=bool)
        for block in blocks:
            wins = block == y
            wins &= unclaimed
            unclaimed ^= wins
            yield grad_out * wins


class AvgPool2d(_Pool2d):
    """Mean over each k x k window."""

    kind = "avgpool2d"
    work = "avgpool"

    def __init__(self, kernel_size: int, stride: int | None = None, *, name: str = "avgpool"):
        super().__init__(kernel_size, stride, name=name)

    def _forward_ops(self, window: int) -> int:
        return window

    def _pool(self, blocks: list[np.ndarray]) -> np.ndarray:
        total = blocks[0].copy()
        for block in blocks[1:]:
            total += block
        return total / len(blocks)

    def _unpool(self, grad_out, y, blocks):
        share = grad_out / len(blocks)
        return [share] * len(blocks)
