"""Binary neural network training: the standard method and the low-memory one.

Both binarise the weights of every GEMM layer (role ``gemm_weight``: Linear, Conv2d) to +-1 for
the forward and backward GEMMs (sign of a real-valued *latent* weight, swapped in as the
method's shadow weights; the straight-through estimator passing gradients where |latent| <= 1,
latents clipped to [-1, 1] after each update: BinaryConnect / BinaryNet, Courbariaux & Bengio
2016) and train the binary form of the network (``variant``: batch norms and +-1 activations
after each GEMM layer, built by the front-end); the first layer sees the real input at
``input_bits``. They differ in what they keep:

- ``bnn`` (standard): latent weights, the values batch norm and Sign need for backward, errors,
  gradients and momentum all at high precision (``value_bits`` etc., 32 by default);
- ``bnn-lowmem``: Wang et al., "Enabling Binary Neural Network Training on the Edge" (TECS
  2023), as their public code does it (``training_emulation_on_gpu/binarization_utils.py``;
  docs/training-methods.md, "Binary networks"), each difference from accelsim's earlier
  reading an option of ``methods.bnn_lowmem`` (earlier value in brackets):

  ================  ===============================================================  ========
  option            default: the paper's                                             earlier
  ================  ===============================================================  ========
  latent_bits,      latent weights in IEEE half precision (numpy float16, rounded    16,
  latent_format     to nearest after each update): 16, ``fp``                        fixed
  error_bits,       errors entering the GEMMs in IEEE half precision: 16, ``fp``     16,
  error_format                                                                       fixed
  grad_bits,        weight gradients as ``sign(g) / sqrt(fan_in * fan_out)``,        1, mean
  grad_scale        fan_in * fan_out the layer's weight count: 1, ``fan``
                    (``mean``: sign(g) * mean|g| per tensor)
  norm_backward     l1 batch norm's custom 1-bit backward (``paper``, with FP16      sign
                    mu, sigma, beta and dy; ``layers.binary.paper_norm_input_grad``)
  ================  ===============================================================  ========

  and activations kept only in binary form (Sign keeps a 1-bit mask, the l1 batch norm the
  sign of its normalised input). Their optimiser, Adam at lr 1e-3 with batch 100, is the
  workload's (``workloads/bnn-*.yaml``). ``norm_backward`` reaches the numpy front-end's
  l1 batch norms (``layers.binary.configure_l1_norms``); the torch front-end builds its own.

With Adam both keep its two moments at ``state_bits`` (32 and 16 by default): below 32 bits m on
the signed fixed-point grid and v on the unsigned floating-point grid of ``methods.moments``
(see ``Method.store_state``).

Vector work (besides the operand quantisations, see ``quantiser.operand_work``: the network's
input, and bnn-lowmem's 16-bit errors; a Sign's +-1 output needs none), per element of the
latent weights (``clip``, ``sign_grad``, ``stochastic_round``, ``quantize``, ``binarize``) or
of every parameter (``sgd_update``, ``adam_update``, ``quantize``); fp when the latents are
32-bit (bnn) or in a floating-point format (bnn-lowmem's default), int for fixed point:

==========  ====================  ===========================================  ================
phase       kind                  what (ops)                                   bits
==========  ====================  ===========================================  ================
bwd_weight  ``clip``              the straight-through mask, grad * (|latent|  acc -> acc
                                  <= 1): abs, compare, select (3); reads the
                                  gradient and the latent
bwd_weight  ``sign_grad``         ``grad_bits`` 1: ``mean``: sign(g) *         acc -> 1
                                  mean|g|: sign, abs, add, multiply (4);
                                  ``fan``: sign(g) times a per-layer constant:
                                  sign, multiply (2)
update      ``sgd_update``        SGD on the latents (batch norms: their       latent -> latent
                                  weights) and momentum (``adam_update``:
                                  Adam's m, v and step, three records)
update      ``clip``              latents back into [-1, 1]: max, min (2)      latent -> latent
update      ``stochastic_round``  fixed-point latents below 32 bits onto       latent -> latent
                                  their grid (10); ``quantize`` (1, dtype fp):
                                  fp latents to the nearest half
update      ``quantize``          momentum below 32 bits onto its grid (6);    state -> state
                                  Adam: m (6) and v (9), two records
update      ``binarize``          the +-1 weights the next forward computes    latent -> 1
                                  with: one compare-select (1; written with
                                  the update, made in ``before_forward``)
==========  ====================  ===========================================  ================
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.trace.records import Vector
from accelsim.train.interfaces import Frontend, elements
from accelsim.train.methods.base import Method, method
from accelsim.train.quant import quantise, quantise_ops, round_float, round_float_ops
from accelsim.train.shadow import ShadowWeights
from accelsim.train.workload import Workload


def configure(frontend: Frontend, hook: str, *values: object) -> bool:
    """Ask ``frontend`` to set up its binary form as a method option says, through its
    ``hook`` (``configure_l1_norms``: ``norm_backward``; ``configure_signs``: ``sign_store``
    and ``activation_bits``), when it has one; a front-end without it keeps what it built
    (the torch front-end's Signs: ``real`` for bnn, ``mask`` for bnn-lowmem). Returns
    whether it had the hook."""
    configure_hook = getattr(frontend, hook, None)
    if configure_hook is not None:
        configure_hook(*values)
    return configure_hook is not None


def binarise(latent: np.ndarray) -> np.ndarray:
    """+1 where the latent weight is >= 0, else -1, in its dtype."""
    return np.where(latent >= 0, 1.0, -1.0).astype(latent.dtype)


def fan_scaled_signs(grad: np.ndarray, passed: np.ndarray) -> np.ndarray:
    """Wang et al.'s 1-bit weight gradient: ``sign(g) / sqrt(N) * passed``, N = ``grad.size``
    (fan_in * fan_out: k*k*c_in*c_out for a convolution), sign(0) = +1 (their
    ``sign(dW + 1e-16)``), the straight-through mask ``passed`` applied after the sign."""
    signs = np.where(grad >= 0, 1.0, -1.0) / math.sqrt(grad.size)
    return (signs * passed).astype(grad.dtype)


def mean_scaled_signs(grad: np.ndarray, passed: np.ndarray) -> np.ndarray:
    """accelsim's earlier 1-bit weight gradient: ``sign(g') * mean|g'|`` of the masked
    gradient g' = g * passed (sign(0) = 0)."""
    masked = grad * passed
    return (np.sign(masked) * np.mean(np.abs(masked))).astype(grad.dtype)


class _Binary(Method):
    weights_on_grid = True  # before_forward binarises them

    def __init__(self, frontend: Frontend, workload: Workload, rng: np.random.Generator):
        super().__init__(frontend, workload, rng)
        self.first = next(iter(self.layers))
        self.latents = [p for p in self.params if p.role == "gemm_weight"]
        self.binarised = {p.layer for p in self.latents}
        half = self.settings.latent_format == "fp" and self.settings.latent_bits < 32
        for p in self.latents:
            latent = np.clip(p.value(), -1.0, 1.0)
            p.assign(round_float(latent, self.settings.latent_bits) if half else latent)
        self.shadow = ShadowWeights(self.latents, binarise)
        configure(frontend, "configure_l1_norms", self.settings.norm_backward)
        signs = (self.settings.sign_store, self.settings.activation_bits)
        built = ("real" if self.variant == "bnn" else "mask", 1)  # any front-end's binary form
        if not configure(frontend, "configure_signs", *signs) and signs != built:
            raise WorkloadError(f"methods.{self.name}: this front-end cannot change "
                                f"what its Signs keep (sign_store {shown(built[0])}, "
                                f"activation_bits {built[1]})")

    @property
    def state_bits(self) -> int:
        return self.settings.state_bits

    def bits(self, layer: str, tensor: str) -> int:
        s = self.settings
        if tensor == "weights":
            return 1 if layer in self.binarised else s.value_bits
        if tensor == "activations":  # a GEMM's A operand: +-1 except the network's input
            return s.input_bits if layer == self.first else s.activation_bits
        return {"errors": s.error_bits, "weight_grads": s.grad_bits}.get(tensor, s.value_bits)

    def tensor_dtype(self, layer: str, tensor: str) -> str:
        """Errors and latent weights in the formats the settings name (``error_format``,
        ``latent_format``); everything else on the fixed-point grid."""
        if tensor == "errors":
            return "fp" if self.settings.error_format == "fp" else "int"
        if tensor == "master_weights":
            return "fp" if self.settings.latent_format == "fp" else "int"
        return "int"

    def value_bits(self, layer: str) -> int:
        return self.settings.value_bits

    def update_dtype(self, layer: str) -> str:
        """fp when the latents are 32-bit or in a floating-point format."""
        if self.settings.latent_format == "fp" and layer in self.binarised:
            return "fp"
        return super().update_dtype(layer)

    def input_bits(self) -> int:
        return self.settings.input_bits

    def copies(self, layer: str) -> dict[str, int]:
        if layer in self.binarised:
            return {"master_weights": self.settings.latent_bits, "weights": 1}
        return {"weights": self.settings.value_bits}

    def prepare_gradients(self) -> None:
        for p in self.latents:
            grad = p.grad()
            if grad is not None:  # straight-through, hardtanh
                p.set_grad(self._stored_gradient(grad, np.abs(p.value()) <= 1.0))

    def _stored_gradient(self, grad: np.ndarray, passed: np.ndarray) -> np.ndarray:
        """The gradient a latent's update uses, given the straight-through mask."""
        if self.settings.grad_bits > 1:
            return grad * passed
        if self.settings.grad_scale == "fan":
            return fan_scaled_signs(grad, passed)
        return mean_scaled_signs(grad, passed)

    def _stored_latent(self, latent: np.ndarray) -> np.ndarray:
        """``latent`` at its stored width: in IEEE half precision (nearest) when the format is
        fp, else stochastically rounded onto its fixed-point grid; as it is at 32 bits."""
        bits = self.settings.latent_bits
        if bits >= 32:
            return latent
        if self.settings.latent_format == "fp":
            return round_float(latent, bits)
        return quantise(latent, bits, rounding="stochastic", rng=self.rng).values

    def latent_elements(self, layer: str) -> int:
        """Values of ``layer``'s latent (binarised) weights."""
        return sum(elements(p) for p in self.layers[layer] if p.role == "gemm_weight")

    def gradient_work(self, layer: str, iteration: int) -> list[Vector]:
        count = self.latent_elements(layer)
        if not count:
            return []
        acc = self.acc_bits
        work = [self.vector(layer, "bwd_weight", "clip", count, acc, acc, 3, iteration,
                            inputs=2, tensor="weight_grads")]
        if self.settings.grad_bits == 1:  # scaled signs (_stored_gradient)
            ops = 2 if self.settings.grad_scale == "fan" else 4
            work.append(self.vector(layer, "bwd_weight", "sign_grad", count, acc, 1, ops,
                                    iteration, tensor="weight_grads"))
        return work

    def update_work(self, layer: str, iteration: int) -> list[Vector]:
        work = super().update_work(layer, iteration)
        count, bits = self.latent_elements(layer), self.settings.latent_bits
        if count:
            work.append(self.vector(layer, "update", "clip", count, bits, bits, 2, iteration,
                                    tensor="master_weights"))
            if bits < 32 and self.settings.latent_format == "fp":
                work.append(self.vector(layer, "update", "quantize", count, bits, bits,
                                        round_float_ops(bits), iteration,
                                        tensor="master_weights", dtype="fp"))
            elif bits < 32:
                work.append(self.vector(layer, "update", "stochastic_round", count, bits, bits,
                                        quantise_ops(bits, "stochastic"), iteration,
                                        tensor="master_weights"))
        work += self.stored_state(layer, iteration)
        if count:
            work.append(self.vector(layer, "update", "binarize", count, bits, 1, 1, iteration,
                                    tensor="weights"))
        return work

    def update(self, iteration: int) -> None:
        self.optimizer.step()
        for p in self.latents:
            p.assign(self._stored_latent(np.clip(p.value(), -1.0, 1.0)))
        if self.state_bits < 32:
            for p in self.params:
                self.store_state(p, self.state_bits)


@method("bnn")
class Bnn(_Binary):
    variant = "bnn"


@method("bnn-lowmem")
class BnnLowmem(_Binary):
    variant = "bnn-lowmem"
