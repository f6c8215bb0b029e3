"""The training-memory model: bytes a method holds while training one batch, at stored widths.

One ruler for every method (FP32, QAT, RCT, BNN, low-memory BNN) and every front-end. It walks
the network's :class:`~accelsim.train.interfaces.LayerInfo` records (shapes only, no
arithmetic, no layer classes) and counts:

- parameters: every copy the method keeps (``Method.copies``), plus optimizer state;
- what each layer keeps for its backward pass (``LayerInfo.kept``), at the width its rule gives:
  the width the layer's input arrives at (a GEMM layer's input feature map, not the im2col view;
  a standard Sign's input), the method's value width (a batch norm's normalised input), or a
  fixed number of bits (ReLU's 1-bit mask, max pooling's argmax, an embedding's indices, a
  low-memory layer's 1-bit sign), and the loss its softmax at the error width;
- transients: the activation flowing forward, the two error tensors flowing backward, and the
  weight gradients produced so far.

:func:`resident_memory` is the other accounting, Wang et al.'s (binary networks on the edge,
docs/papers-bnn.md): the same tensors at the same widths, all resident at once.

The peak is taken over the iteration: during the forward pass (kept tensors accumulate) and the
backward pass (kept tensors are released layer by layer while gradients accumulate). Value widths
follow the network (``LayerInfo.out_width``): a GEMM's or a norm's output is stored at the
method's value width for that layer, a Sign's output is 1 bit, shape and pooling layers keep
their input's width. Layers without parameters store at the widths of the last layer with
parameters before them (their "owner").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from accelsim.train.interfaces import LayerInfo
from accelsim.train.widths import first_trained, places

if TYPE_CHECKING:
    from accelsim.train.methods.base import Method


@dataclass
class Kept:
    """One tensor a layer keeps for backward."""

    layer: str
    what: str
    elements: int
    bits: int

    @property
    def bytes(self) -> int:
        return (self.elements * self.bits + 7) // 8


@dataclass
class MemoryModel:
    """The model's result: the static part, what is kept per layer, and the peak."""

    batch: int
    param_copies_bytes: dict[str, int]
    optimizer_state_bytes: int
    kept: list[Kept] = field(default_factory=list)
    peak_bytes: int = 0
    peak_phase: str = ""
    forward_peak_bytes: int = 0
    weight_grads_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        by_kind: dict[str, int] = {}
        for k in self.kept:
            by_kind[k.what] = by_kind.get(k.what, 0) + k.bytes
        params = sum(self.param_copies_bytes.values())
        return {"batch_size": self.batch, "peak_bytes": self.peak_bytes,
                "peak_during": self.peak_phase, "forward_peak_bytes": self.forward_peak_bytes,
                "param_memory_bytes": params, "param_copies_bytes": self.param_copies_bytes,
                "optimizer_state_bytes": self.optimizer_state_bytes,
                "weight_grads_bytes": self.weight_grads_bytes,
                "kept_for_backward_bytes": sum(k.bytes for k in self.kept),
                "kept_by_kind_bytes": by_kind,
                "kept_by_layer": [{"layer": k.layer, "what": k.what, "elements": k.elements,
                                   "bits": k.bits} for k in self.kept]}


def _bytes(elements: int, bits: int) -> int:
    return (elements * bits + 7) // 8


def training_memory(layers: Sequence[LayerInfo], method: Method) -> MemoryModel:
    """The memory ``method`` needs to train the network ``layers`` describe (forward order,
    described for one batch: ``layers[0].in_shape`` is the batch of inputs)."""
    mem = method.memory()
    input_shape = layers[0].in_shape
    batch = input_shape[0]
    result = MemoryModel(batch, dict(mem["param_copies_bytes"]), mem["optimizer_state_bytes"])
    static = sum(result.param_copies_bytes.values()) + result.optimizer_state_bytes
    layer_outputs: list[tuple[int, int]] = []  # (elements, bits) of each layer's output
    grads: list[int] = []  # weight-gradient bytes each layer produces
    kept_at: list[list[Kept]] = []
    owners: list[str] = []  # the layer with parameters whose widths each position stores at
    for place in places(layers, method):
        info, owner = place.info, place.owner
        owners.append(owner)
        kept_at.append([Kept(info.name, k.what, k.elements, place.resolve(k.width, method))
                        for k in info.kept])
        layer_outputs.append((math.prod(info.out_shape), place.out_bits))
        params = sum(p.elements for p in info.params)
        grads.append(_bytes(params, method.bits(owner, "weight_grads")) if params else 0)
    out_shape = layers[-1].out_shape
    classes = out_shape[-1]
    loss_kept = Kept("loss", "softmax", math.prod(out_shape), method.bits(owner, "errors"))
    result.kept = [k for ks in kept_at for k in ks] + [loss_kept]
    result.weight_grads_bytes = sum(grads)
    # Forward: everything kept so far, plus the input and output of the running layer.
    peak, phase = 0, ""
    running = 0
    in_bytes = _bytes(math.prod(input_shape), method.input_bits())
    for n, kept in enumerate(kept_at):
        running += sum(k.bytes for k in kept)
        out_bytes = _bytes(*layer_outputs[n])
        keeps_input = any(k.is_input for k in layers[n].kept)  # then it is already counted
        live = running + (0 if keeps_input else in_bytes) + out_bytes
        if live > peak:
            peak, phase = live, f"forward, {layers[n].name}"
        in_bytes = out_bytes
    result.forward_peak_bytes = static + peak
    running += loss_kept.bytes
    # Backward: release each layer's kept tensors after it; gradients accumulate until update.
    grad_out = _bytes(batch * classes, method.bits(owner, "errors"))
    grads_so_far = 0
    first = first_trained(layers)
    for n in reversed(range(first, len(kept_at))):  # backward stops at the first layer with
        grads_so_far += grads[n]                      # parameters: its input needs no gradient
        # The error a layer passes back is stored at that layer's error width.
        grad_in = 0 if n == first else _bytes(layer_outputs[n - 1][0],
                                              method.bits(owners[n], "errors"))
        live = running + grad_out + grad_in + grads_so_far
        if live > peak:
            peak, phase = live, f"backward, {layers[n].name}"
        running -= sum(k.bytes for k in kept_at[n])
        grad_out = grad_in
    result.peak_bytes = static + peak
    result.peak_phase = phase
    return result


@dataclass
class ResidentMemory:
    """Wang et al.'s accounting of training memory (their repository's spreadsheet,
    ``memory_estimation/memory_estimation.xlsx``): every tensor resident at once."""

    param_bytes: int  # every copy of the parameters
    optimizer_state_bytes: int
    weight_grads_bytes: int  # all of them
    kept_bytes: int  # every tensor every layer keeps for backward, all at once
    error_buffers_bytes: int  # the largest GEMM input's and the largest GEMM output's errors

    @property
    def total_bytes(self) -> int:
        return (self.param_bytes + self.optimizer_state_bytes + self.weight_grads_bytes
                + self.kept_bytes + self.error_buffers_bytes)


def resident_memory(layers: Sequence[LayerInfo], method: Method) -> ResidentMemory:
    """Training memory as Wang et al. account it: the parameters (every copy), the optimizer
    state and *all* weight gradients, every tensor each layer keeps for backward (at the
    widths :func:`training_memory` gives them) and two error buffers, one as large as the
    largest input of a GEMM layer (the network's input included: their MAX(act_in)) and one
    as large as the largest GEMM output, each at that layer's error width: all resident
    together. :func:`training_memory`'s peak follows the iteration instead: a layer's kept
    tensors are freed once its backward has run, the errors live are the two flowing at that
    moment, and backward never makes the network input's gradient."""
    model = training_memory(layers, method)
    largest = {"in": (0, 0), "out": (0, 0)}  # elements, bits
    for place in places(layers, method):
        info = place.info
        if not info.gemms:
            continue
        errors = method.bits(place.owner, "errors")
        for end, shape in (("in", info.in_shape), ("out", info.out_shape)):
            largest[end] = max(largest[end], (math.prod(shape), errors))
    return ResidentMemory(sum(model.param_copies_bytes.values()), model.optimizer_state_bytes,
                          model.weight_grads_bytes, sum(k.bytes for k in model.kept),
                          sum(_bytes(*buffer) for buffer in largest.values()))
