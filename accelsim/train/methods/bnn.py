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
- ``bnn-lowmem`` (Wang et al., "Enabling Binary Neural Network Training on the Edge"):
  activations kept only in binary form (Sign keeps a 1-bit mask, an l1 batch norm keeps the sign
  of its normalised input), weight gradients as scaled signs (sign(g) * mean|g| per tensor),
  latent weights, errors and momentum at 16 bits.

With Adam both keep its two moments at ``state_bits`` (32 and 16 by default): below 32 bits m on
the signed fixed-point grid and v on the unsigned floating-point grid of ``methods.moments``
(see ``Method.store_state``).

Vector work (besides the operand quantisations, see ``quantiser.operand_work``: the network's
input, and bnn-lowmem's 16-bit errors; a Sign's +-1 output needs none), per element of the
latent weights (``clip``, ``sign_grad``, ``stochastic_round``, ``binarize``) or of every
parameter (``sgd_update``, ``quantize``); fp when the latents are 32-bit (bnn), int at 16
(bnn-lowmem):

==========  ====================  ===========================================  ================
phase       kind                  what (ops)                                   bits
==========  ====================  ===========================================  ================
bwd_weight  ``clip``              the straight-through mask, grad * (|latent|  acc -> acc
                                  <= 1): abs, compare, select (3); reads the
                                  gradient and the latent
bwd_weight  ``sign_grad``         bnn-lowmem (``grad_bits`` 1): sign(g) *      acc -> 1
                                  mean|g|: sign, abs, add, multiply (4)
update      ``sgd_update``        SGD on the latents (batch norms: their       latent -> latent
                                  weights) and momentum (``adam_update``:
                                  Adam's m, v and step, three records)
update      ``clip``              latents back into [-1, 1]: max, min (2)      latent -> latent
update      ``stochastic_round``  latents below 32 bits onto their grid (10)   latent -> latent
update      ``quantize``          momentum below 32 bits onto its grid (6);    state -> state
                                  Adam: m (6) and v (9), two records
update      ``binarize``          the +-1 weights the next forward computes    latent -> 1
                                  with: one compare-select (1; written with
                                  the update, made in ``before_forward``)
==========  ====================  ===========================================  ================
"""

from __future__ import annotations

import numpy as np

from accelsim.trace.records import Vector
from accelsim.train.interfaces import Frontend, elements
from accelsim.train.methods.base import Method, method
from accelsim.train.quant import quantise, quantise_ops
from accelsim.train.shadow import ShadowWeights
from accelsim.train.workload import Workload


def binarise(latent: np.ndarray) -> np.ndarray:
    """+1 where the latent weight is >= 0, else -1, in its dtype."""
    return np.where(latent >= 0, 1.0, -1.0).astype(latent.dtype)


class _Binary(Method):
    weights_on_grid = True  # before_forward binarises them

    def __init__(self, frontend: Frontend, workload: Workload, rng: np.random.Generator):
        super().__init__(frontend, workload, rng)
        self.first = next(iter(self.layers))
        self.latents = [p for p in self.params if p.role == "gemm_weight"]
        self.binarised = {p.layer for p in self.latents}
        for p in self.latents:
            p.assign(np.clip(p.value(), -1.0, 1.0))
        self.shadow = ShadowWeights(self.latents, binarise)

    @property
    def state_bits(self) -> int:
        return self.settings.state_bits

    def bits(self, layer: str, tensor: str) -> int:
        s = self.settings
        if tensor == "weights":
            return 1 if layer in self.binarised else s.value_bits
        if tensor == "activations":  # a GEMM's A operand: +-1 except the network's input
            return s.input_bits if layer == self.first else 1
        return {"errors": s.error_bits, "weight_grads": s.grad_bits}.get(tensor, s.value_bits)

    def value_bits(self, layer: str) -> int:
        return self.settings.value_bits

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
                p.set_grad(grad * (np.abs(p.value()) <= 1.0))
        self._store_gradients()

    def _store_gradients(self) -> None:
        pass

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
        if self.settings.grad_bits == 1:  # scaled signs (_store_gradients)
            work.append(self.vector(layer, "bwd_weight", "sign_grad", count, acc, 1, 4,
                                    iteration, tensor="weight_grads"))
        return work

    def update_work(self, layer: str, iteration: int) -> list[Vector]:
        work = super().update_work(layer, iteration)
        count, bits = self.latent_elements(layer), self.settings.latent_bits
        if count:
            work.append(self.vector(layer, "update", "clip", count, bits, bits, 2, iteration,
                                    tensor="master_weights"))
            if bits < 32:
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
        latent_bits = self.settings.latent_bits
        for p in self.latents:
            latent = np.clip(p.value(), -1.0, 1.0)
            if latent_bits < 32:
                latent = quantise(latent, latent_bits, rounding="stochastic", rng=self.rng).values
            p.assign(latent)
        if self.state_bits < 32:
            for p in self.params:
                self.store_state(p, self.state_bits)


@method("bnn")
class Bnn(_Binary):
    variant = "bnn"


@method("bnn-lowmem")
class BnnLowmem(_Binary):
    variant = "bnn-lowmem"

    def _store_gradients(self) -> None:
        """Weight gradients kept as scaled signs: one bit each plus a per-tensor scale."""
        if self.settings.grad_bits > 1:
            return
        for p in self.latents:
            grad = p.grad()
            if grad is not None:
                p.set_grad((np.sign(grad) * np.mean(np.abs(grad))).astype(grad.dtype))
