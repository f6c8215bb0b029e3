"""Softmax cross-entropy: the loss every accelsim workload trains with.

What it owns: :class:`SoftmaxCrossEntropy`, the mean over all positions of
``-log softmax(logits)[target]``. Logits are [..., K] (a batch of class scores, or a batch of
sequences of them), targets the matching integer class indices [...]. Softmax and log are taken
together through the log-sum-exp with the row maximum subtracted, so large logits never
overflow. Backward is the classic ``(softmax - onehot(target)) / count``, scaled by the incoming
gradient (1 for a loss at the end of the graph).

Vector work (``describe``), per logit; per-row work (the log of the sum, picking the target,
the mean) is not counted:

========  ===================================================================  ===  ============
phase     counted from the code                                                ops  widths
========  ===================================================================  ===  ============
fwd       row max 1; subtract it 1; exp 1; sum 1; log_probs = shifted -         5    input ->
          log_norm 1 (kept for backward)                                            error
bwd_data  exp(log_probs) 1; subtract the one-hot target 1; scale by             3    error ->
          grad_out / count 1                                                        error
========  ===================================================================  ===  ============
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.errors import WorkloadError
from accelsim.train.interfaces import ERROR_WIDTH, LayerInfo, VectorSpec


class SoftmaxCrossEntropy:
    """Mean softmax cross-entropy; ``forward(logits, targets)`` -> loss, ``backward()`` -> dlogits."""

    def __init__(self, name: str = "loss"):
        self.name = name
        self._saved: tuple[np.ndarray, np.ndarray, tuple[int, ...]] | None = None

    def describe(self, logits_shape: tuple[int, ...]) -> LayerInfo:
        """The loss on logits of ``logits_shape`` by shape: no parameters, no GEMM; its vector
        work (the module's table). It keeps its log-probabilities at the error width (the
        memory model counts them)."""
        n = math.prod(logits_shape)
        return LayerInfo(self.name, "softmax_cross_entropy", logits_shape, (), vectors=(
            VectorSpec("fwd", "softmax", n, 5, out_width=ERROR_WIDTH),
            VectorSpec("bwd_data", "softmax", n, 3, in_width=ERROR_WIDTH,
                       out_width=ERROR_WIDTH)))

    def forward(self, logits: np.ndarray, targets: np.ndarray) -> float:
        if logits.ndim < 1 or targets.shape != logits.shape[:-1]:
            raise WorkloadError(f"{self.name}: targets of shape {list(targets.shape)} do not "
                                f"match logits of shape {list(logits.shape)} (want [..., K] "
                                "logits and [...] targets)")
        classes = logits.shape[-1]
        if not np.issubdtype(targets.dtype, np.integer):
            raise WorkloadError(f"{self.name}: targets must be integer class indices, got "
                                f"dtype {targets.dtype}")
        if targets.size and (targets.min() < 0 or targets.max() >= classes):
            raise WorkloadError(f"{self.name}: targets must be in [0, {classes}), got values "
                                f"in [{targets.min()}, {targets.max()}]")
        rows = logits.reshape(-1, classes)
        labels = targets.reshape(-1)
        shifted = rows - rows.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_norm
        picked = log_probs[np.arange(labels.size), labels]
        self._saved = (log_probs, labels, logits.shape)
        return float(-picked.mean())

    def backward(self, grad_out: float = 1.0) -> np.ndarray:
        if self._saved is None:
            raise RuntimeError(f"{self.name}: backward called before forward")
        log_probs, labels, shape = self._saved
        grad = np.exp(log_probs)
        grad[np.arange(labels.size), labels] -= 1.0
        grad *= grad_out / labels.size
        return grad.reshape(shape)

    def __call__(self, logits: np.ndarray, targets: np.ndarray) -> float:
        return self.forward(logits, targets)
