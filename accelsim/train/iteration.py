"""One training iteration and one evaluation pass, for any front-end and any method.

What it owns: :func:`run_iteration`, the body of every training loop (the numpy trainer, a torch
trainer, the benchmarks), so the order of the method's hooks, the loss and the traced transfers
is written once; :func:`kept_transfers`, the DRAM traffic of what non-GEMM layers keep for
backward; and :func:`evaluate`, the deployed model's loss and accuracy. The loss is softmax
cross-entropy on the front-end's numpy logits, whatever computed them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from accelsim.errors import WorkloadError
from accelsim.trace.records import Transfer
from accelsim.train.interfaces import Frontend
from accelsim.train.layers.loss import SoftmaxCrossEntropy
from accelsim.train.memory import training_memory

if TYPE_CHECKING:
    from accelsim.train.methods import Method
    from accelsim.train.tracer import Tracer

# What layers keep for backward besides GEMM inputs (which the GEMMs' own traffic covers).
KEPT_OUTSIDE_GEMMS = ("mask", "normalised", "statistics", "sign_input", "argmax", "indices",
                      "softmax")
EVAL_BATCH = 256


def kept_transfers(frontend: Frontend, method: Method, batch_shape: tuple[int, ...],
                   iteration: int) -> tuple[list[Transfer], list[Transfer]]:
    """The DRAM writes (forward) and reads (backward) of what non-GEMM layers keep for the
    backward pass of a batch of ``batch_shape``, at the widths the method keeps them
    (``accelsim.train.memory``)."""
    writes: list[Transfer] = []
    reads: list[Transfer] = []
    for kept in training_memory(frontend.describe(batch_shape), method).kept:
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
    backward, the loss, the update, and (with a ``tracer``) the kept and update transfers in
    the order a device would make them; the GEMMs trace themselves through the observers.
    A non-finite loss raises WorkloadError before the update."""
    if tracer is not None:
        tracer.iteration = iteration
    method.begin_batch()
    method.before_forward()
    logits = frontend.forward(xb)
    stored: list[Transfer] = []
    restored: list[Transfer] = []
    if tracer is not None:
        stored, restored = kept_transfers(frontend, method, xb.shape, iteration)
        for op in stored:
            tracer.transfer(op)
    loss_fn = SoftmaxCrossEntropy()
    loss = float(loss_fn.forward(logits, yb))
    if not math.isfinite(loss):
        raise WorkloadError(f"training diverged at iteration {iteration} (loss {loss}); "
                            "lower optimizer.lr")
    frontend.backward(loss_fn.backward())
    if tracer is not None:
        for op in restored:
            tracer.transfer(op)
    method.after_backward()
    method.update(iteration)
    if tracer is not None:
        for op in method.update_transfers(iteration):
            tracer.transfer(op)
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
