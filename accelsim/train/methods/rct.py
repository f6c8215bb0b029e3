"""RCT/APT: only a quantised model exists; each layer's width follows how well it can learn.

The weights are held on a per-tensor power-of-two grid at their layer's width and updated in
place: ``w <- Q_stochastic(w - update, bits)``, so an update smaller than the grid step still
moves a weight with the right probability. Every ``interval`` iterations each layer's Gavg (mean
|update| over its grid step, averaged over the interval; ``gavg: gradient`` measures the stored
gradient instead, the papers' wording) decides its width: below ``t_min`` its updates underflow
and it gains a bit, above ``t_max`` it learns comfortably and loses one (RCT, Huang et al. 2021,
Algorithm 1). APT's trade-off knob divides both thresholds by (1 + tradeoff).

The noise guard (ours; ``noise_budget``, 0 turns it off). Stochastic rounding is unbiased but
not free: a weight moved by a fraction f of a grid step lands a whole step away with
probability f, which adds ``grid**2 f (1 - f)`` of variance (:func:`rounding_variance`). With
no master copy nothing removes it, so over training a layer's weights random-walk: on
``charlm-text`` the 6-bit dense layer's weights had 62 % more rms than QAT's after one epoch,
while Gavg (0.01 to 0.03) said the layer learnt well. The guard compares the noise injected per
iteration over the last interval, as a fraction of the layer's weight power (sum of squares),
times the iterations so far (what that rate accumulates to over a run as long as the one so far)
with the budget: above it the layer gains a bit whatever Gavg says; a layer narrows only when
``NARROWING`` times the figure stays within it (a bit coarser doubles the noise; the factor 2
beyond that keeps the decision from flickering). The knob leaves the budget alone, so however
far it lowers the thresholds, no layer narrows past what the budget allows: accuracy degrades
boundedly.

A layer's width applies to its weights and to both operands of its GEMMs;
gradients are stored at ``grad_bits`` and the optimizer state (SGD's momentum, or Adam's two
moments) at ``state_bits``: the momentum and Adam's m on the signed fixed-point grid, Adam's v
(non-negative, with the square of the gradient's dynamic range) on the unsigned floating-point
grid of ``methods.moments``, which keeps small values instead of flushing them to zero (a v
of zero under a surviving m would make Adam's step m / (sqrt(v) + eps) explode).

Vector work (besides the operand quantisations, see ``quantiser.operand_work``), per parameter
element of each layer, all fixed point, b_l the layer's width:

==========  ==============  ===================================================  ============
phase       kind            what (ops)                                           bits
==========  ==============  ===================================================  ============
bwd_weight  ``quantize``    gradients to ``grad_bits``, nearest (6)              acc -> grad
update      ``sgd_update``  the momentum, v = mu * v + g (+ weight decay)        grad, state
                                                                                 -> state
            ``adam_update`` (Adam: m (3, +2 decay), then v (4); two records)
update      ``rct_update``  step = lr * v, w - step (2), Gavg's mean abs step    b_l -> b_l
                            (abs, add: 2), the noise guard (7: ``NOISE_OPS``;
                            none when it is off), stochastic rounding onto the
                            grid (10): 21 (Adam: its step, 6, instead of 2: 25)
update      ``quantize``    the momentum back onto ``state_bits`` (6); Adam: m   state ->
                            (6), then v onto its unsigned grid (9)               state
update      ``quantize``    at a width decision that narrows a layer, its        b_l -> b_l - 1
                            weights onto the coarser grid (6)
==========  ==============  ===================================================  ============
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from accelsim.trace.records import Vector
from accelsim.train.interfaces import Frontend
from accelsim.train.methods.base import Method, method
from accelsim.train.quant import quantise, quantise_ops
from accelsim.train.workload import Workload


@method("rct")
class Rct(Method):
    weights_on_grid = True  # the model only ever holds quantised weights

    def __init__(self, frontend: Frontend, workload: Workload, rng: np.random.Generator):
        super().__init__(frontend, workload, rng)
        s = self.settings
        self.layer_bits = dict.fromkeys(self.layers, s.init_bits)
        self.t_min = s.t_min / (1.0 + s.tradeoff)
        self.t_max = s.t_max / (1.0 + s.tradeoff)
        self._gavg_sum = dict.fromkeys(self.layers, 0.0)
        self._gavg_count = dict.fromkeys(self.layers, 0)
        self._noise = dict.fromkeys(self.layers, 0.0)  # rounding variance injected, summed
        self._power = dict.fromkeys(self.layers, 0.0)  # the weights' sum of squares, summed
        self.history: list[dict[str, Any]] = [{"iteration": 0, "bits": dict(self.layer_bits)}]
        self.gavg_history: list[dict[str, Any]] = []
        self._narrowed: list[tuple[str, int, int]] = []  # (layer, old bits, new bits) last update
        for p in self.params:
            p.assign(quantise(p.value(), s.init_bits).values)

    @property
    def state_bits(self) -> int:
        return self.settings.state_bits

    def bits(self, layer: str, tensor: str) -> int:
        if tensor == "weight_grads":
            return self.settings.grad_bits
        # a GEMM without parameters (attention's q @ k^T) has no Gavg of its own: init_bits
        return self.layer_bits.get(layer, self.settings.init_bits)

    def copies(self, layer: str) -> dict[str, int]:
        return {"weights": self.layer_bits[layer]}

    def update(self, iteration: int) -> None:
        self._narrowed = []
        for p in self.params:
            grad = p.grad()
            if grad is None:
                continue
            bits = self.layer_bits[p.layer]
            stored = quantise(grad, self.settings.grad_bits).values
            p.set_grad(stored)
            step = self.optimizer.step_for(p)
            self.store_state(p, self.state_bits)
            grid = quantise(p.value(), bits).step
            moved = stored if self.settings.gavg == "gradient" else step
            self._gavg_sum[p.layer] += float(np.mean(np.abs(moved))) / grid
            self._gavg_count[p.layer] += 1
            if self.settings.noise_budget > 0:
                self._noise[p.layer] += rounding_variance(step, grid)
            p.assign(quantise(p.value() - step, bits, rounding="stochastic",
                              rng=self.rng).values)
            if self.settings.noise_budget > 0:
                w = p.value()
                self._power[p.layer] += float(np.dot(w.ravel(), w.ravel()))
        if (iteration + 1) % self.settings.interval == 0:
            self._adapt(iteration + 1)

    def noise_ratio(self, layer: str) -> float:
        """The rounding noise ``layer``'s stochastic updates injected per iteration over the
        last interval, as a fraction of its weights' power (the sum of their squares)."""
        return self._noise[layer] / self._power[layer] if self._power[layer] > 0 else 0.0

    def _adapt(self, iteration: int) -> None:
        s = self.settings
        gavg = {layer: self._gavg_sum[layer] / max(self._gavg_count[layer], 1)
                for layer in self.layers}
        noise = {layer: self.noise_ratio(layer) * iteration for layer in self.layers}
        guarded = s.noise_budget > 0
        for layer, value in gavg.items():
            bits = self.layer_bits[layer]
            if (guarded and noise[layer] > s.noise_budget) or value < self.t_min:
                bits = min(bits + 1, s.max_bits)
            elif value > self.t_max and not (guarded and NARROWING * noise[layer] >
                                                 s.noise_budget):
                bits = max(bits - 1, s.min_bits)
            if bits < self.layer_bits[layer]:  # a coarser grid: move the weights onto it
                self._narrowed.append((layer, self.layer_bits[layer], bits))
                for p in self.layers[layer]:
                    p.assign(quantise(p.value(), bits).values)
            self.layer_bits[layer] = bits  # (a finer grid already holds the old values)
            self._gavg_sum[layer], self._gavg_count[layer] = 0.0, 0
            self._noise[layer], self._power[layer] = 0.0, 0.0
        record: dict[str, Any] = {"iteration": iteration, "gavg": gavg}
        if guarded:
            record["noise"] = noise
        self.gavg_history.append(record)
        if self.layer_bits != self.history[-1]["bits"]:
            self.history.append({"iteration": iteration, "bits": dict(self.layer_bits)})

    # ---- vector work (the module's table) ------------------------------------------------------
    def gradient_work(self, layer: str, iteration: int) -> list[Vector]:
        return self.rounded_gradients(layer, iteration)

    def update_work(self, layer: str, iteration: int) -> list[Vector]:
        bits = self.layer_bits[layer]
        in_place = GAVG_OPS + quantise_ops(bits, "stochastic")
        if self.settings.noise_budget > 0:
            in_place += NOISE_OPS
        work = [replace(v, kind="rct_update", ops=v.ops + in_place) if v.tensor == "weights"
                else v for v in super().update_work(layer, iteration)]
        return work + self.stored_state(layer, iteration)

    def post_update_work(self, iteration: int) -> list[Vector]:
        return [self.vector(layer, "update", "quantize", self.layer_elements(layer), old, new,
                            quantise_ops(new), iteration, tensor="weights")
                for layer, old, new in self._narrowed]


GAVG_OPS = 2  # |step| and its running sum, per element (the grid division is per tensor)
NARROWING = 4  # a bit coarser doubles the noise; narrow only if twice that stays in budget
NOISE_OPS = 7  # the guard: f = frac(|step| / grid) (floor, subtract), f (1 - f) (2), its sum
# (1), and the updated weight's square and its sum (2), per element


def rounding_variance(step: np.ndarray, grid: float) -> float:
    """Sum over ``step``'s elements of the variance stochastic rounding adds when a weight on a
    grid of spacing ``grid`` moves by that step: ``grid**2 f (1 - f)``, f the fraction of a grid
    step the move leaves over (what rounds up with probability f and down otherwise)."""
    scaled = np.abs(step, dtype=np.float64) / grid
    frac = scaled - np.floor(scaled)
    return float(np.sum(frac * (1.0 - frac))) * grid * grid
