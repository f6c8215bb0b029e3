"""Binary-network layers: the sign activation with a straight-through estimator, and l1 batch norm.

What it owns: :class:`Sign` and the :class:`L1BatchNorm` base with its :class:`L1BatchNorm1d`
([N, F]) and :class:`L1BatchNorm2d` ([N, C, H, W]) variants. Each takes a keyword that says what
it keeps for backward, which is where the two binary training methods of issue 5 differ:

* the standard method (Courbariaux & Bengio) keeps high-precision activations:
  ``Sign(store="real")`` keeps its input, ``L1BatchNorm(backward="exact")`` keeps xhat;
* the low-memory method (Wang et al., "Enabling Binary Neural Network Training on the Edge")
  retains activations only in binary form: ``Sign(store="mask")`` keeps the boolean mask
  |x| <= 1, ``L1BatchNorm(backward="sign")`` keeps the boolean sign(xhat).

What a layer keeps is ``_saved`` (see each class); ``describe`` tells the training-memory model
its width by shape (1 bit, or the width of the values it keeps), and ``kept_bits_per_element``
says how many bits of information per input element the last forward kept: the float width
(32 for float32) or 1. A numpy bool takes a byte, but a device packs it into one bit.

Not a GEMM: nothing here calls :func:`accelsim.train.gemm.gemm`.

Vector work of training (``LayerInfo.vectors``, per input element; per-feature work such as
1/sigma and the running statistics is not counted):

============  ==========  ===========================================================  =====
layer         phase       counted from the code                                        ops
============  ==========  ===========================================================  =====
Sign real     fwd         ``np.where(x >= 0, 1, -1)``: one compare-select (writes       1
                          1 bit); the kept input is x itself
Sign mask     fwd         the compare-select, and the kept mask ``abs(x) <= 1``:        3
                          abs, compare
Sign real     bwd_data    ``grad_out * (abs(x) <= 1)``: abs, compare, select (reads     3
                          dy and x)
Sign mask     bwd_data    ``grad_out * mask``: select by the kept bit                   1
L1BN          fwd         mean 1; mean(abs(x - mean)): subtract, abs, add 3;            8, 9
                          xhat = (x - mean) * inv_sigma 2; y = xhat * gamma + beta
                          2; "sign" adds the kept bit ``xhat >= 0`` 1
L1BN          bwd_weight  dgamma = sum(dy * xhat) 2, dbeta = sum(dy) 1; "sign" first    3, 4
                          turns the kept bit into +-1 1 (writes weight_grads at acc)
L1BN          bwd_data    "exact": sign(xhat) 1; g = dy * gamma 1; mean(g) 1;           11, 10
                          mean(s) 1; mean(g * xhat) 2; (g - mean_g - (s - mean_s) *
                          mean_gx) * inv_sigma 5; "sign" has its +-1 already
L1BN paper    fwd         as "sign", plus m = mean|xhat|: abs, add 2 (y = xhat + beta   11, 10
                          without gamma: 1 less)
L1BN paper    bwd_weight  +-1 from the kept bit 1; dgamma = sum(dy * s * m) 3; dbeta    5, 1
                          1 (without gamma: dbeta only)
L1BN paper    bwd_data    a = g * inv_sigma 1; mean(a) 1; mean(a * s * m) 3;            9
                          a - mean_a - s * that 3; the +-1 1
============  ==========  ===========================================================  =====

Widths: forward reads the arriving activation (a Sign writes 1 bit, an l1 norm the method's
value width), backward reads the arriving error and writes at the error width.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.interfaces import (
    ERROR_WIDTH,
    INPUT_WIDTH,
    VALUE_WIDTH,
    KeptSpec,
    LayerInfo,
    VectorSpec,
    Width,
)
from accelsim.train.layers.base import Layer, Parameter, check_input
from accelsim.train.layers.norm import NormBase

SIGN_STORES = ("real", "mask")
HALF_SMALLEST = float(np.finfo(np.float16).smallest_subnormal)  # 2**-24
L1_BACKWARDS = ("exact", "sign", "paper")


def _check_choice(owner: str, key: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        choices = ", ".join(repr(v) for v in valid)
        raise WorkloadError(f"{owner}: {key} must be one of {choices}, got {shown(value)}")


# ---- sign with a straight-through estimator ---------------------------------------------------

class Sign(Layer):
    """y = +1 where x >= 0, else -1, in x's dtype; backward is the hardtanh straight-through
    estimator ``grad_in = grad_out * (|x| <= 1)`` (1 inclusive). ``out_bits`` is the width
    its +-1 output is stored at (1: packed bits; 32: as floats, a framework's standard).

    ``_saved`` after a forward: with ``store="real"`` the input x itself (a reference, not a
    copy: x.dtype.itemsize * 8 bits per element); with ``store="mask"`` only the np.bool_ array
    |x| <= 1 (1 bit of information per element). Both give identical gradients.
    """

    def __init__(self, name: str = "sign", *, store: str = "real", out_bits: int = 1):
        super().__init__(name)
        _check_choice(f"layer {shown(name)} (Sign)", "store", store, SIGN_STORES)
        self.store, self.out_bits = store, out_bits

    @property
    def kept_bits_per_element(self) -> int:
        """Bits of information kept per input element by the last forward."""
        kept = self.saved()
        return 1 if self.store == "mask" else kept.dtype.itemsize * 8

    def describe(self, in_shape: tuple[int, ...]) -> LayerInfo:
        """Keeps its input (at the width it arrives) or a 1-bit mask; outputs +-1 (1 bit)."""
        n = math.prod(in_shape)
        real = self.store == "real"
        kept = (KeptSpec("sign_input", n, INPUT_WIDTH, is_input=True) if real
                else KeptSpec("mask", n, 1))
        vectors = [VectorSpec("fwd", "sign", n, 1 if real else 3, out_width=self.out_bits)]
        if self.needs_input_grad:  # the straight-through estimator
            vectors.append(VectorSpec("bwd_data", "sign", n, 3 if real else 1,
                                      inputs=2 if real else 1, out_width=ERROR_WIDTH))
        return LayerInfo(self.name, "sign", in_shape, in_shape, kept=(kept,),
                         out_width=self.out_bits, vectors=tuple(vectors))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not np.issubdtype(x.dtype, np.floating):
            raise WorkloadError(f"layer {shown(self.name)} (Sign): expected floating-point input, "
                                f"got dtype {x.dtype}")
        self._saved = x if self.store == "real" else np.abs(x) <= 1
        return np.where(x >= 0, 1, -1).astype(x.dtype)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        kept = self.saved()
        if not self.needs_input_grad:
            return None
        passed = np.abs(kept) <= 1 if self.store == "real" else kept
        return grad_out * passed


# ---- l1 batch normalisation -------------------------------------------------------------------

def l1_norm_input_grad(g: np.ndarray, xhat: np.ndarray, signs: np.ndarray, inv_sigma: np.ndarray,
                       axes: tuple[int, ...]) -> np.ndarray:
    """dLoss/dx of training-mode l1 batch norm, given g = dLoss/dxhat (= dy * gamma).

    ``dx = (g - mean(g) - (s - mean(s)) * mean(g * xhat)) / sigma`` with s = sign(xhat) and
    means over ``axes``. The exact gradient passes the real xhat; the "sign" backward passes
    sign(xhat) for xhat too (``inv_sigma`` is 1/sigma, shaped to broadcast).
    """
    mean_g = g.mean(axis=axes, keepdims=True)
    mean_s = signs.mean(axis=axes, keepdims=True)
    mean_gx = (g * xhat).mean(axis=axes, keepdims=True)
    return (g - mean_g - (signs - mean_s) * mean_gx) * inv_sigma


def paper_norm_input_grad(g: np.ndarray, signs: np.ndarray, mean_abs: np.ndarray,
                          inv_sigma: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Wang et al.'s custom gradient of their l1 batch norm (``l1_batch_norm_mod_dense`` and
    ``_conv``, ``custom_grad``, training_emulation_on_gpu/binarization_utils.py), given
    g = dLoss/dxhat, s = sign(xhat), m = mean|xhat| per feature and 1/sigma:

    ``a = g / sigma``; ``dx = a - mean(a) - s * mean(a * s * m)``
    ``   = (g - mean(g) - m * s * mean(g * s)) / sigma``,

    the ordinary (l2) batch-norm backward ``(g - mean g - xhat * mean(g * xhat)) / sigma``
    (their commented "Vanilla BN" lines) with xhat replaced by its 1-bit stand-in: ``s * m``
    outside the mean, ``s`` inside it (m once, not squared; m is 1 up to the FP16 rounding of
    mu and sigma). Not the derivative of the l1 norm: that one's last term is
    ``(s - mean s) * mean(g * xhat)`` (:func:`l1_norm_input_grad`).
    """
    a = g * inv_sigma
    mean_a = a.mean(axis=axes, keepdims=True)
    return a - mean_a - signs * (a * signs * mean_abs).mean(axis=axes, keepdims=True)


def half(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to IEEE half precision (nearest, ties to even) and back, in its dtype:
    the emulation's ``tf.cast(x, tf.float16)``."""
    return np.asarray(x).astype(np.float16).astype(np.asarray(x).dtype)


class L1BatchNorm(NormBase):
    """Normalise axis 1 of an input of rank ``rank`` by its mean absolute deviation.

    Training forward, per feature with means over every other axis:
    ``mu = mean(x)``, ``d = x - mu``, ``sigma = mean(|d|) + eps``, ``xhat = d / sigma``,
    ``y = gamma * xhat + beta`` (gamma = ``weight``, beta = ``bias``; 1 and 0 when
    ``affine=False``; gamma 1 and not a parameter when ``scale=False``, Wang et al.'s norm).
    The running statistics ``running_mean`` and ``running_abs_dev`` (the batch mean(|d|), no
    eps, no bias correction) move toward the batch's by ``momentum``; eval mode normalises with
    them, ``sigma = running_abs_dev + eps``, and leaves them alone. ``half=True`` does what
    Wang et al.'s emulation does in FP16: mu and sigma are rounded to IEEE half precision
    before use (sigma at least 2**-24, the smallest half, where their code would divide by
    zero), beta on read, and the incoming gradient dy on arrival.

    Backward, with g = dy * gamma, s = sign(xhat) (= sign(d)) and means over the reduced axes:

    * ``backward="exact"``: the true gradient of the forward, ignoring the measure-zero points
      d = 0 (sigma depends on x through mean|d|, whose derivative brings in sign(d)):
      ``dx = (g - mean(g) - (s - mean(s)) * mean(g * xhat)) / sigma``,
      ``dgamma = sum(dy * xhat)``, ``dbeta = sum(dy)``. Keeps xhat (float) and 1/sigma.
    * ``backward="sign"``: the same formulas with xhat replaced by s, i.e.
      ``dx = (g - mean(g) - (s - mean(s)) * mean(g * s)) / sigma``, ``dgamma = sum(dy * s)``,
      ``dbeta = sum(dy)``. Keeps only s as an np.bool_ array (xhat >= 0: 1 bit per element)
      and the per-feature 1/sigma; gamma is the layer's own parameter. The l1 normalisation
      makes mean(|xhat|) = mean|d| / (mean|d| + eps), i.e. 1 up to eps, so sign(xhat) is a
      1-bit stand-in for xhat with the right average magnitude, and the sign(d) factor is
      exact. accelsim's own reading of Wang et al. before their code was read.
    * ``backward="paper"``: Wang et al.'s custom gradient (:func:`paper_norm_input_grad`):
      ``dx = (g - mean(g) - m * s * mean(g * s)) / sigma`` with m = mean|xhat| per feature
      (1 up to the rounding of mu and sigma), ``dgamma = sum(dy * s * m)``, ``dbeta =
      sum(dy)``. Keeps s (1 bit an element, xhat >= 0, so sign(0) is +1 where their float
      sign gives 0: a measure-zero difference), m and 1/sigma per feature.

    In eval mode the statistics are constants: ``dx = g / sigma`` in every mode.

    ``_saved`` after a forward is ``(xhat, inv_sigma, trained)`` for "exact" and
    ``(positive, inv_sigma, trained)`` otherwise, where ``positive`` is the bool xhat >= 0,
    ``inv_sigma`` the per-feature 1/sigma and ``trained`` whether batch statistics were used;
    "paper" keeps m, the per-feature mean|xhat| (shaped to broadcast), in ``_mean_abs``.
    """

    kind = "l1batchnorm"

    def __init__(self, num_features: int, *, name: str = "l1bn", backward: str = "exact",
                 momentum: float = 0.1, eps: float = 1e-5, affine: bool = True,
                 scale: bool = True, half: bool = False, dtype: Any = np.float32):
        super().__init__(num_features, name=name, momentum=momentum, eps=eps, dtype=dtype)
        _check_choice(self.owner, "backward", backward, L1_BACKWARDS)
        self.backward_mode, self.affine, self.scale = backward, affine, scale
        self.half = half
        self._mean_abs: np.ndarray | None = None  # the paper's m of the last training forward
        # Without affine, gamma = 1 and beta = 0 stay fixed: not listed in parameters(), no grad.
        self.running_abs_dev = np.ones(num_features, dtype=dtype)

    def parameters(self) -> list[Parameter]:
        if not self.affine:
            return []
        return [self.weight, self.bias] if self.scale else [self.bias]

    @property
    def normalised_width(self) -> Width:
        """The "sign" and "paper" backwards keep 1 bit of the normalised input; "exact" a
        real value."""
        return VALUE_WIDTH if self.backward_mode == "exact" else 1

    @property
    def statistics(self) -> tuple[int, int]:
        """Per-feature values kept for backward and their bits: 1/sigma, and the paper's m;
        16 bits each with ``half``, else 32."""
        count = 2 if self.backward_mode == "paper" else 1
        return count + 1, 16 if self.half else 32  # and the mean, for the running statistics

    def vector_ops(self) -> tuple[int, int, int]:
        if self.backward_mode == "exact":
            return 8, 3, 11  # the module's table
        if self.backward_mode == "paper":
            return 11 if self.scale else 10, 5 if self.scale else 1, 9
        return 9, 4, 10 if self.affine else 11  # without bwd_weight, bwd_data makes the +-1

    @property
    def kept_bits_per_element(self) -> int:
        """Bits of information kept per input element by the last forward (the per-feature
        1/sigma comes on top: ``num_features`` values of the input's dtype)."""
        kept = self.saved()[0]
        return kept.dtype.itemsize * 8 if self.backward_mode == "exact" else 1

    def _gamma(self) -> np.ndarray:
        return self.weight.value.reshape(self._shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, self._expected())
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise WorkloadError(f"layer {shown(self.name)} ({type(self).__name__}): training "
                                    f"needs more than one value per feature, got input "
                                    f"{list(x.shape)}")
            mean = x.mean(axis=self._axes)
            if self.half:
                mean = half(mean)
            abs_dev = np.abs(x - mean.reshape(self._shape)).mean(axis=self._axes)
            keep = 1.0 - self.momentum
            self.running_mean *= keep
            self.running_mean += self.momentum * mean
            self.running_abs_dev *= keep
            self.running_abs_dev += self.momentum * abs_dev
        else:
            mean, abs_dev = self.running_mean, self.running_abs_dev
        sigma = abs_dev + self.eps
        if self.half:  # never 0 in half precision: a constant channel keeps a finite 1/sigma
            sigma = np.maximum(half(sigma), HALF_SMALLEST)
        inv_sigma = (1.0 / sigma).astype(x.dtype, copy=False)
        xhat = (x - mean.reshape(self._shape)) * inv_sigma.reshape(self._shape)
        mean_abs = None
        if self.backward_mode == "paper" and self.training:
            mean_abs = np.abs(xhat).mean(axis=self._axes, keepdims=True)
        kept = xhat if self.backward_mode == "exact" else xhat >= 0
        self._saved = (kept, inv_sigma, self.training)
        self._mean_abs = mean_abs
        beta = self.bias.value
        if self.half:
            beta = half(beta)
        y = xhat * self._gamma() if self.scale else xhat
        return y + beta.reshape(self._shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        kept, inv_sigma, trained = self.saved()
        mean_abs = self._mean_abs
        paper = self.backward_mode == "paper" and trained
        if paper and mean_abs is None:
            raise RuntimeError(f"layer {shown(self.name)}: the paper backward needs a training "
                               "forward in that mode (it keeps m = mean|xhat|)")
        if self.half:
            grad_out = half(grad_out)
        if self.backward_mode == "exact":
            xhat, signs = kept, np.sign(kept)
        else:
            xhat = signs = np.where(kept, 1, -1).astype(grad_out.dtype)
            if paper and mean_abs is not None:
                xhat = signs * mean_abs
        if self.affine:
            if self.scale:
                self.weight.grad = (grad_out * xhat).sum(axis=self._axes)
            self.bias.grad = grad_out.sum(axis=self._axes)
        g = grad_out * self._gamma() if self.scale else grad_out
        if not self.needs_input_grad:
            return None
        inv_sigma = inv_sigma.reshape(self._shape)
        if not trained:
            return g * inv_sigma
        if paper and mean_abs is not None:
            return paper_norm_input_grad(g, signs, mean_abs, inv_sigma, self._axes)
        return l1_norm_input_grad(g, xhat, signs, inv_sigma, self._axes)


def configure_l1_norms(layers: Iterable[Any], backward: str) -> None:
    """Give every :class:`L1BatchNorm` among ``layers`` the backward ``backward`` (a training
    method's choice, ``norm_backward``): "paper" with Wang et al.'s FP16 rounding (``half``),
    "exact" and "sign" without. Other layers are left alone."""
    _check_choice("norm_backward", "value", backward, L1_BACKWARDS)
    for layer in layers:
        if isinstance(layer, L1BatchNorm):
            layer.backward_mode, layer.half = backward, backward == "paper"


def configure_signs(layers: Iterable[Any], store: str, out_bits: int = 1) -> None:
    """Make every :class:`Sign` among ``layers`` keep ``store`` (real or mask) for backward
    and store its +-1 output at ``out_bits`` (a training method's ``sign_store`` and
    ``activation_bits``); the gradients are the same either way."""
    _check_choice("sign_store", "value", store, SIGN_STORES)
    for layer in layers:
        if isinstance(layer, Sign):
            layer.store, layer.out_bits = store, out_bits


class L1BatchNorm1d(L1BatchNorm):
    """l1 batch norm over features of an [N, F] input."""

    rank = 2


class L1BatchNorm2d(L1BatchNorm):
    """l1 batch norm over channels of an [N, C, H, W] input."""

    rank = 4
