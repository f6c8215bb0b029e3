"""QAT: fp32 master weights, plus a quantised copy that the forward and backward GEMMs use.

Before each forward pass the master weights are quantised (nearest rounding, per-tensor
power-of-two scale) into the copy the layers compute with (the method's shadow weights); the
gradients computed against that copy reach the master weights unchanged (straight-through
estimator: the scale is chosen from the tensor's range, so nothing saturates), and the optimizer
updates the master copy in fp32 (SGD's momentum, or both of Adam's moments, kept in fp32).

Vector work (besides the operand quantisations every integer method makes, see
``quantiser.operand_work``), per parameter element of each layer:

==========  ==============  =================================================  ===============
phase       kind            what                                               bits, dtype
==========  ==============  =================================================  ===============
bwd_weight  ``quantize``    gradients to ``grad_bits``, nearest (only below    acc -> grad, int
                            32 bits; ``prepare_gradients``)
update      ``sgd_update``  SGD on the fp32 master copy and momentum           32 -> 32, fp
                            (``adam_update``: Adam, m and v in fp32)
update      ``quantize``    the master copy to the ``weight_bits`` copy the    32 -> weight, fp
                            next forward computes with, nearest (written with
                            the update, as the update's transfers say; the
                            code makes it in ``before_forward``)
==========  ==============  =================================================  ===============
"""

from __future__ import annotations

import numpy as np

from accelsim.trace.records import Vector
from accelsim.train.interfaces import Frontend
from accelsim.train.methods.base import Method, method
from accelsim.train.quant import quantise, quantise_ops
from accelsim.train.shadow import ShadowWeights
from accelsim.train.workload import Workload


@method("qat")
class Qat(Method):
    weights_on_grid = True  # before_forward quantises them

    def __init__(self, frontend: Frontend, workload: Workload, rng: np.random.Generator):
        super().__init__(frontend, workload, rng)
        weight_bits = self.settings.weight_bits
        self.shadow = ShadowWeights(self.params, lambda w: quantise(w, weight_bits).values)

    def bits(self, layer: str, tensor: str) -> int:
        s = self.settings
        return {"weights": s.weight_bits, "activations": s.activation_bits,
                "errors": s.error_bits, "weight_grads": s.grad_bits}.get(tensor, 32)

    def copies(self, layer: str) -> dict[str, int]:
        return {"master_weights": 32, "weights": self.settings.weight_bits}

    def prepare_gradients(self) -> None:
        grad_bits = self.settings.grad_bits
        if grad_bits >= 32:
            return
        for p in self.params:
            grad = p.grad()
            if grad is not None:
                p.set_grad(quantise(grad, grad_bits).values)

    def update(self, iteration: int) -> None:
        self.optimizer.step()

    def gradient_work(self, layer: str, iteration: int) -> list[Vector]:
        return self.rounded_gradients(layer, iteration)

    def update_work(self, layer: str, iteration: int) -> list[Vector]:
        bits = self.settings.weight_bits
        copy = self.vector(layer, "update", "quantize", self.layer_elements(layer), 32, bits,
                           quantise_ops(bits), iteration, tensor="weights")
        return [*super().update_work(layer, iteration), copy]
