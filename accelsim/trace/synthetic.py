"""Traces from a table of layer shapes, for examples, tests and benchmarks.

Real traces come from training (``accelsim train``); this builds the same op pattern from GEMM
shapes alone: per layer a forward GEMM, a backward-data GEMM (skipped for the first layer, whose
input needs no gradient) and a backward-weight GEMM, then per layer an update that reads the
weights and their gradients and writes the weights back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from accelsim.trace.records import Gemm, Op, Transfer, Vector


@dataclass(frozen=True)
class LayerShape:
    """A layer as its forward GEMM: C[m,n] = A[m,k].B[k,n] (m = batch x output pixels)."""

    name: str
    m: int
    n: int
    k: int


def lenet5_mnist(batch: int) -> list[LayerShape]:
    """LeNet-5 on 28x28 inputs (padded first convolution), convolutions as im2col GEMMs."""
    return [LayerShape("conv1", batch * 28 * 28, 6, 1 * 5 * 5),
            LayerShape("conv2", batch * 10 * 10, 16, 6 * 5 * 5),
            LayerShape("fc1", batch, 120, 400),
            LayerShape("fc2", batch, 84, 120),
            LayerShape("fc3", batch, 10, 84)]


def training_iteration(layers: list[LayerShape], iteration: int, *, bits: int = 8,
                       acc_bits: int = 32) -> Iterator[Op]:
    """One iteration's ops at a uniform operand width."""
    common: dict[str, Any] = {"iter": iteration, "a_bits": bits, "b_bits": bits,
                              "acc_bits": acc_bits, "c_bits": bits}
    for layer in layers:
        yield Gemm(layer=layer.name, phase="fwd", m=layer.m, n=layer.n, k=layer.k, **common)
    for pos, layer in reversed(list(enumerate(layers))):
        if pos > 0:
            yield Gemm(layer=layer.name, phase="bwd_data", m=layer.m, n=layer.k, k=layer.n,
                       **common)
        yield Gemm(layer=layer.name, phase="bwd_weight", m=layer.k, n=layer.n, k=layer.m,
                   **common)
    for layer in layers:
        weights = layer.k * layer.n
        for tensor, direction in (("weights", "read"), ("weight_grads", "read"),
                                  ("weights", "write")):
            yield Transfer(iter=iteration, layer=layer.name, tensor=tensor, dir=direction,
                           elements=weights, bits=bits, phase="update")


def training_trace(layers: list[LayerShape], iterations: int, **kw: int) -> list[Op]:
    return [op for it in range(iterations) for op in training_iteration(layers, it, **kw)]


def narrowing_trace(layers: list[LayerShape], iterations: int) -> list[Op]:
    """A harder pattern for replay tests: every GEMM followed by a fused epilogue, one layer's
    forward by an unfused three-pass batch norm (``count`` 3), and the operand width narrowing
    from 8 to 6 to 4 bits in thirds of the run (as RCT narrows it)."""
    ops: list[Op] = []
    for it in range(iterations):
        bits = 8 if 3 * it < iterations else 6 if 3 * it < 2 * iterations else 4
        for op in training_iteration(layers, it, bits=bits):
            ops.append(op)
            if not isinstance(op, Gemm):
                continue
            ops.append(Vector(iter=it, layer=op.layer, phase=op.phase, kind="relu",
                              elements=op.m * op.n, in_bits=bits, out_bits=bits, ops=1,
                              fused=True))
            if op.layer == layers[1].name and op.phase == "fwd":
                ops.append(Vector(iter=it, layer=op.layer, phase="fwd", kind="batchnorm",
                                  elements=op.m * op.n, in_bits=bits, out_bits=bits, ops=4,
                                  count=3))
    return ops
