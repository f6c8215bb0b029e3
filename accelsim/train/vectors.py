"""The vector (SIMD) work of one training iteration, in the order a device runs it, by shape.

What it owns: :func:`plan_iteration`, which turns a network's
:class:`~accelsim.train.interfaces.LayerInfo` records (from any front-end's ``describe``, no data
needed) and a method into the trace's ``vector`` records of the forward and the backward pass,
each list interleaved with :class:`GemmMark` placeholders where the layers' GEMMs run. A tracer
emits the records between the GEMMs it sees (``Tracer.expect``); a shape-only front-end can emit
the plan whole. The update's work is the method's (``Method.update_ops``).

Forward, layer by layer: the method's quantisation of the GEMM inputs
(``quantiser.operand_work``), the layer's GEMMs, then its ``fwd`` vector steps; then the loss.
Backward, from the loss down to the first layer with parameters (layers before it run no
backward): the quantisation of the arriving error, then per phase ``bwd_weight`` and
``bwd_data`` the layer's GEMMs and its vector steps, and after ``bwd_weight`` the method's work
on the fresh gradients (``Method.gradient_work``).

Widths come from each step's width rules at the layer's place (``accelsim.train.widths``): in a
forward step ``INPUT_WIDTH`` is the activation arriving, in a backward step the error arriving.
Layer steps compute as the method computes the layer's values (``Method.value_dtype``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from accelsim.trace.records import Vector
from accelsim.train.interfaces import LayerInfo
from accelsim.train.layers.loss import SoftmaxCrossEntropy
from accelsim.train.methods.quantiser import operand_work
from accelsim.train.widths import Place, first_trained, places

if TYPE_CHECKING:
    from accelsim.train.methods.base import Method

MAX_INPUTS = 16  # values a vector record may read per element (a 5x5 pooling window reads 25)
BACKWARD_PHASES = ("bwd_weight", "bwd_data")


class GemmMark(NamedTuple):
    """Where a layer's GEMM of one phase runs among the vector records."""

    layer: str
    phase: str


Step = GemmMark | Vector


@dataclass
class IterationPlan:
    """The forward and backward steps of one iteration (GEMM marks and vector records)."""

    forward: list[Step] = field(default_factory=list)
    backward: list[Step] = field(default_factory=list)

    def vectors(self) -> list[Vector]:
        return [s for s in self.forward + self.backward if isinstance(s, Vector)]


def loss_place(layers: Sequence[Place], loss: LayerInfo) -> Place:
    """The loss after the network: it stores at the last owner's widths."""
    last = layers[-1]
    return Place(loss, last.owner, last.out_bits, last.out_fixed, last.out_bits, last.out_fixed,
                 last.error_out, last.error_out)


def layer_vectors(place: Place, phase: str, method: Method, iteration: int) -> list[Vector]:
    """The vector records of ``place``'s layer in ``phase``, at the method's widths."""
    dtype = method.value_dtype(place.owner)
    return [Vector(iter=iteration, layer=place.info.name, phase=phase, kind=spec.kind,
                   elements=spec.elements,
                   in_bits=place.resolve(spec.in_width, method, backward=phase != "fwd"),
                   out_bits=place.resolve(spec.out_width, method, backward=phase != "fwd"),
                   ops=spec.ops, inputs=min(spec.inputs, MAX_INPUTS), dtype=dtype,
                   tensor=spec.tensor, fused=spec.fused)
            for spec in place.info.vectors if spec.phase == phase and spec.elements > 0]


def plan_iteration(layers: Sequence[LayerInfo], method: Method, iteration: int,
                   loss: LayerInfo | None = None) -> IterationPlan:
    """The vector work of training ``layers`` (forward order, described for one batch) with
    ``method`` for one iteration; ``loss`` defaults to softmax cross-entropy on the logits."""
    where = places(layers, method)
    loss = loss or SoftmaxCrossEntropy().describe(layers[-1].out_shape)
    end = loss_place(where, loss)
    plan = IterationPlan()
    quantised = [operand_work(method, place, iteration) for place in where]
    for place, (before, _) in zip(where, quantised, strict=True):
        plan.forward += before
        plan.forward += [GemmMark(place.info.name, g.phase) for g in place.info.gemms
                         if g.phase == "fwd"]
        plan.forward += layer_vectors(place, "fwd", method, iteration)
    plan.forward += layer_vectors(end, "fwd", method, iteration)
    plan.backward += layer_vectors(end, "bwd_data", method, iteration)
    first = first_trained(layers)
    for place, (_, arriving) in reversed(list(zip(where, quantised, strict=True))[first:]):
        plan.backward += arriving
        for phase in BACKWARD_PHASES:
            plan.backward += [GemmMark(place.info.name, g.phase) for g in place.info.gemms
                              if g.phase == phase]
            plan.backward += layer_vectors(place, phase, method, iteration)
            if phase == "bwd_weight" and place.info.params:
                plan.backward += method.gradient_work(place.info.name, iteration)
    return plan
