"""The binary form of a torch network, for the binary training methods (``variant``).

What it owns: :func:`make_binary`, which turns a model into the form ``bnn`` and
``bnn-lowmem`` train, mirroring what ``accelsim.train.models`` builds for its numpy networks
(batch norm and a Sign after every GEMM layer, a batch norm on the logits):

* every ``nn.Conv2d`` and ``nn.Linear`` except the first GEMM layer of the forward pass (which
  sees the real input) reads the sign of its input (:func:`sign`, a straight-through
  estimator): with ``bnn`` the Sign keeps its real input for backward, with ``bnn-lowmem`` a
  1-bit mask (``layers.Sign(store=...)``); the method binarises every GEMM weight;
* the real-valued activation functions are dropped (``capture.ACTIVATIONS``): the Sign takes
  their place, so a conv - batch norm - ReLU block becomes conv - batch norm - Sign;
* ``bnn-lowmem`` replaces every ``nn.BatchNorm1d``/``nn.BatchNorm2d`` by :class:`L1BatchNorm`
  with the 1-bit ("sign") backward of ``layers.L1BatchNorm``;
* the logits get a batch norm of their own, ``bn_out`` (l1 for bnn-lowmem), as BinaryNet's.

Forward and backward are the numpy layers' (``layers/binary.py``), written with torch ops; the
shapes, kept tensors and vector work ``describe`` reports are theirs too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from accelsim.errors import WorkloadError, shown
from accelsim.train.interfaces import (
    ERROR_WIDTH,
    INPUT_WIDTH,
    VALUE_WIDTH,
    KeptSpec,
    LayerInfo,
    VectorSpec,
)
from accelsim.train.torch_frontend.capture import active, paused
from accelsim.train.torch_frontend.rules import norm_info

VARIANTS = (None, "bnn", "bnn-lowmem")


class _SignSte(torch.autograd.Function):
    """+1 where x >= 0, else -1; backward passes the error where |x| <= 1."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, store: str) -> torch.Tensor:
        ctx.store = store
        ctx.save_for_backward(x if store == "real" else x.abs() <= 1)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        (kept,) = ctx.saved_tensors
        passed = kept.abs() <= 1 if ctx.store == "real" else kept
        return grad * passed, None


SIGN_STORES = ("real", "mask")


class SignSettings:
    """What every Sign of a binary form keeps for backward (``real`` input or 1-bit ``mask``)
    and the width it stores its +-1 output at: a binary method's ``sign_store`` and
    ``activation_bits`` (:meth:`TorchFrontend.configure_signs`)."""

    def __init__(self, store: str, out_bits: int = 1):
        self.store, self.out_bits = store, out_bits

    def configure(self, store: str, out_bits: int = 1) -> None:
        if store not in SIGN_STORES:
            raise WorkloadError(f"sign_store: must be one of {', '.join(SIGN_STORES)}, got "
                                f"{shown(store)}")
        self.store, self.out_bits = store, out_bits


def sign(x: torch.Tensor, layer: str, store: str, out_bits: int = 1) -> torch.Tensor:
    """The Sign layer ``layer`` (``layers.Sign.describe``'s kept tensor and vector work)."""
    cap = active()
    if cap is not None and cap.recorder is not None:
        n, real = x.numel(), store == "real"
        kept = (KeptSpec("sign_input", n, INPUT_WIDTH, is_input=True) if real
                else KeptSpec("mask", n, 1))
        vectors = [VectorSpec("fwd", "sign", n, 1 if real else 3, out_width=1)]
        if x.requires_grad:
            vectors.append(VectorSpec("bwd_data", "sign", n, 3 if real else 1,
                                      inputs=2 if real else 1, out_width=ERROR_WIDTH))
        cap.recorder.add(LayerInfo(layer, "sign", tuple(x.shape), tuple(x.shape), kept=(kept,),
                                   out_width=out_bits, vectors=tuple(vectors)))
    with paused(cap):
        return _SignSte.apply(x, store)


def _half(x: torch.Tensor) -> torch.Tensor:
    """``x`` rounded to IEEE half precision and back (``layers.binary.half``)."""
    return x.to(torch.float16).to(x.dtype)


class _L1Norm(torch.autograd.Function):
    """Training-mode l1 batch norm over every axis but 1 (``layers.L1BatchNorm``): the
    normalised input, then the backward ``mode`` (exact, sign or paper) asks for."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                mean: torch.Tensor, inv_sigma: torch.Tensor, mode: str, half: bool
                ) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        inv_sigma = inv_sigma.reshape(shape)
        xhat = (x - mean.reshape(shape)) * inv_sigma
        axes = (0, *range(2, x.dim()))
        mean_abs = xhat.abs().mean(axes, keepdim=True) if mode == "paper" else inv_sigma
        ctx.save_for_backward(xhat if mode == "exact" else xhat >= 0, inv_sigma, weight,
                              mean_abs)
        ctx.mode, ctx.half = mode, half
        beta = _half(bias) if half else bias
        return xhat * weight.reshape(shape) + beta.reshape(shape)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        kept, inv_sigma, weight, mean_abs = ctx.saved_tensors
        axes = (0, *range(2, grad.dim()))
        if ctx.half:
            grad = _half(grad)
        if ctx.mode == "exact":
            xhat, signs = kept, kept.sign()
        else:
            xhat = signs = torch.where(kept, 1.0, -1.0).to(grad.dtype)
            if ctx.mode == "paper":
                xhat = signs * mean_abs
        grad_w = (grad * xhat).sum(axes)
        grad_b = grad.sum(axes)
        g = grad * weight.reshape(inv_sigma.shape)
        mean_g = g.mean(axes, keepdim=True)
        if ctx.mode == "paper":  # layers.binary.paper_norm_input_grad
            a = g * inv_sigma
            grad_x = a - a.mean(axes, keepdim=True) - signs * (a * signs * mean_abs).mean(
                axes, keepdim=True)
        else:  # layers.binary.l1_norm_input_grad
            mean_s = signs.mean(axes, keepdim=True)
            mean_gx = (g * xhat).mean(axes, keepdim=True)
            grad_x = (g - mean_g - (signs - mean_s) * mean_gx) * inv_sigma
        return grad_x, grad_w, grad_b, None, None, None, None


L1_BACKWARDS = ("exact", "sign", "paper")


class L1BatchNorm(nn.Module):
    """l1 batch norm (``layers.L1BatchNorm``) over axis 1 of an [N, F] or [N, C, H, W] input:
    sigma = mean|x - mean| + eps, running mean and mean absolute deviation for evaluation.
    ``backward`` is ``layers.L1BatchNorm``'s (``exact``, ``sign`` or ``paper``, which also
    rounds mu, sigma, beta and the arriving error to half precision, as Wang et al.'s
    emulation does); a method may change it (:meth:`TorchFrontend.configure_l1_norms`)."""

    running_mean: torch.Tensor
    running_abs_dev: torch.Tensor

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1,
                 backward: str = "sign"):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.configure(backward)
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_abs_dev", torch.ones(num_features))

    def configure(self, backward: str) -> None:
        if backward not in L1_BACKWARDS:
            raise WorkloadError(f"norm_backward: must be one of {', '.join(L1_BACKWARDS)}, got "
                                f"{shown(backward)}")
        self.backward_mode, self.half_precision = backward, backward == "paper"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cap = active()
        if cap is not None and cap.recorder is not None:
            name = cap.names.op("l1batchnorm", self.weight)
            mode = self.backward_mode
            ops = {"exact": (8, 3, 11), "sign": (9, 4, 10), "paper": (11, 5, 9)}[mode]
            statistics = (3 if mode == "paper" else 2) * self.num_features
            info = norm_info(name, "l1batchnorm", x, self.weight, statistics,
                             fused=False, training=self.training,
                             normalised=VALUE_WIDTH if mode == "exact" else 1, ops=ops,
                             statistics_bits=16 if self.half_precision else 32)
            cap.recorder.add(info, self.weight, self.bias)
        with paused(cap):
            return self._compute(x)

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        axes = (0, *range(2, x.dim()))
        shape = (1, -1) + (1,) * (x.dim() - 2)
        if not self.training:
            inv_sigma = 1.0 / (self.running_abs_dev + self.eps)
            xhat = (x - self.running_mean.reshape(shape)) * inv_sigma.reshape(shape)
            return xhat * self.weight.reshape(shape) + self.bias.reshape(shape)
        with torch.no_grad():
            mean = x.mean(axes)
            if self.half_precision:
                mean = _half(mean)
            abs_dev = (x - mean.reshape(shape)).abs().mean(axes)
            if x.device.type != "meta":
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_abs_dev.mul_(1 - self.momentum).add_(self.momentum * abs_dev)
            sigma = abs_dev + self.eps
            inv_sigma = 1.0 / (_half(sigma) if self.half_precision else sigma)
        return _L1Norm.apply(x, self.weight, self.bias, mean, inv_sigma, self.backward_mode,
                             self.half_precision)


def _binary_norm(variant: str, features: int) -> nn.Module:
    if variant == "bnn":
        return nn.BatchNorm1d(features)
    return L1BatchNorm(features)


def make_binary(model: nn.Module, variant: str, first: str, classes: int
                ) -> tuple[nn.Module, SignSettings]:
    """Put ``model`` in ``variant``'s form in place (the module docstring); ``first`` is the
    qualified name of its first GEMM layer. Returns the norm the logits go through and the
    settings its Signs follow."""
    if variant not in VARIANTS[1:]:
        raise WorkloadError(f"unknown model variant {shown(variant)}; valid: "
                            f"{', '.join(str(v) for v in VARIANTS[1:])}")
    if variant == "bnn-lowmem":
        for name, module in list(model.named_modules()):
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                parent, _, attr = name.rpartition(".")
                norm = L1BatchNorm(module.num_features, eps=module.eps,
                                   momentum=module.momentum or 0.1)
                setattr(model.get_submodule(parent) if parent else model, attr, norm)
    settings = SignSettings("real" if variant == "bnn" else "mask")
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and name != first:
            module.register_forward_pre_hook(_sign_input(f"{name}.sign", settings))
    return _binary_norm(variant, classes), settings


def _sign_input(layer: str, settings: SignSettings) -> Any:
    def hook(module: nn.Module, args: tuple) -> tuple:
        return (sign(args[0], layer, settings.store, settings.out_bits), *args[1:])
    return hook
