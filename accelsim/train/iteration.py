"""One training iteration and one evaluation pass, for any front-end and any method.

What it owns: :func:`run_iteration`, the body of every training loop (the numpy trainer, a torch
trainer, the benchmarks), so the order of the method's hooks, the loss and the traced transfers
and vector work is written once; :func:`kept_transfers`, the DRAM traffic of what non-GEMM
layers keep for backward; and :func:`evaluate`, the deployed model's loss and accuracy. The loss
is softmax cross-entropy on the front-end's numpy logits, whatever computed them.

A traced iteration, in order: forward (operand quantisations, GEMMs and each layer's vector
steps, layer by layer, then the loss's), the kept tensors written; backward (the loss's
gradient, then layer by layer down to the first with parameters: GEMMs, vector steps, the
method's work on the fresh gradients), the kept tensors read back; the update, layer by layer
(its reads, its vector work, its writes), then what the update left behind.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from accelsim.errors import WorkloadError
from accelsim.trace.records import Transfer, Vector
from accelsim.train.interfaces import Frontend, LayerInfo
from accelsim.train.layers.loss import SoftmaxCrossEntropy
from accelsim.train.memory import training_memory
from accelsim.train.vectors import IterationPlan, plan_iteration

if TYPE_CHECKING:
    from accelsim.train.methods import Method
    from accelsim.train.tracer import Tracer

# What layers keep for backward besides GEMM inputs (which the GEMMs' own traffic covers).
KEPT_OUTSIDE_GEMMS = ("mask", "normalised", "statistics", "sign_input", "argmax", "indices",
                      "softmax", "input", "output")  # the last two: torch element-wise layers
EVAL_BATCH = 256


def kept_transfers(frontend: Frontend, method: Method, batch_shape: tuple[int, ...],
                   iteration: int) -> tuple[list[Transfer], list[Transfer]]:
    """The DRAM writes (forward) and reads (backward) of what non-GEMM layers keep for the
    backward pass of a batch of ``batch_shape``, at the widths the method keeps them
    (``accelsim.train.memory``)."""
    return _kept(frontend.describe(batch_shape), method, iteration)


def _kept(layers: tuple[LayerInfo, ...], method: Method, iteration: int
          ) -> tuple[list[Transfer], list[Transfer]]:
    writes: list[Transfer] = []
    reads: list[Transfer] = []
    for kept in training_memory(layers, method).kept:
        if kept.what not in KEPT_OUTSIDE_GEMMS:
            continue
        for direction, phase, out in (("write", "fwd", writes), ("read", "bwd_data", reads)):
            out.append(Transfer(iter=iteration, layer=kept.layer, tensor="activations",
                                dir=direction, elements=kept.elements, bits=kept.bits,
                                phase=phase))
    return writes, reads


def run_iteration(frontend: Frontend, method: Method, tracer: Tracer | None, xb: np.ndarray,
                  yb: np.ndarray, iteration: int) -> float:
    """Train on one batch and return its loss: the method's hooks around forward and
    backward, the loss, the update, and (with a ``tracer``) the kept and update transfers and
    the vector work in the order a device would make them (the module's docstring); the GEMMs
    trace themselves through the observers. A non-finite loss raises WorkloadError before the
    update."""
    plan = IterationPlan()
    stored: list[Transfer] = []
    restored: list[Transfer] = []
    if tracer is not None:
        tracer.iteration = iteration
        layers = frontend.describe(xb.shape)
        plan = plan_iteration(layers, method, iteration)
        stored, restored = _kept(layers, method, iteration)
        tracer.expect(plan.forward)
    method.begin_batch()
    method.before_forward()
    logits = frontend.forward(xb)
    if tracer is not None:
        tracer.flush()
        for op in stored:
            tracer.transfer(op)
        tracer.expect(plan.backward)
    loss_fn = SoftmaxCrossEntropy()
    loss = float(loss_fn.forward(logits, yb))
    if not math.isfinite(loss):
        raise WorkloadError(f"training diverged at iteration {iteration} (loss {loss}); "
                            "lower optimizer.lr")
    frontend.backward(loss_fn.backward())
    if tracer is not None:
        tracer.flush()
        for op in restored:
            tracer.transfer(op)
    method.after_backward()
    update: list[Transfer | Vector] = [] if tracer is None else method.update_ops(iteration)
    method.update(iteration)
    if tracer is not None:
        for step in [*update, *method.post_update_work(iteration)]:
            tracer.emit(step)
    return loss


def evaluate(frontend: Frontend, method: Method, x: np.ndarray, y: np.ndarray,
             batch: int = EVAL_BATCH) -> tuple[float, float]:
    """Mean loss and accuracy of the deployed (quantised) model on ``x``."""
    loss_fn = SoftmaxCrossEntropy()
    frontend.eval()
    total_loss, correct = 0.0, 0
    with method.inference():
        for start in range(0, len(x), batch):
            xb, yb = x[start:start + batch], y[start:start + batch]
            method.begin_batch()
            logits = frontend.forward(xb)
            total_loss += float(loss_fn.forward(logits, yb)) * len(xb)
            correct += int(np.sum(np.argmax(logits, axis=-1) == yb))
    frontend.train()
    return total_loss / len(x), correct / len(x)
