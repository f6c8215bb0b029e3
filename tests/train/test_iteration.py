"""The loop body every front-end shares: the order of the method's hooks, of the GEMMs, the
traced transfers and the vector work, the shapes the front-end described, divergence, and
evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from fake_frontend import FakeFrontend

from accelsim.errors import WorkloadError
from accelsim.trace.records import Gemm, Transfer, Vector
from accelsim.train.gemm import observing
from accelsim.train.iteration import evaluate, kept_transfers, run_iteration
from accelsim.train.methods import METHODS
from accelsim.train.tracer import Tracer
from accelsim.train.vectors import GemmMark, plan_iteration
from accelsim.train.workload import load_workload


class Writer:
    """Stands in for a TraceWriter: keeps the records."""

    def __init__(self):
        self.ops: list = []

    def add(self, op) -> None:
        self.ops.append(op)


def traced(method: str, iterations: int = 1):
    cls = METHODS[method]
    rng = np.random.default_rng(0)
    frontend = FakeFrontend.build(rng, cls.variant)
    m = cls(frontend, load_workload("mlp-digits"), np.random.default_rng(1))
    x, y = rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)
    writer = Writer()
    tracer = Tracer(writer, m)
    with observing(m.observer()), observing(tracer):
        losses = [run_iteration(frontend, m, tracer, x, y, it) for it in range(iterations)]
    return m, frontend, writer.ops, losses


def shape(op) -> tuple:
    return (op.layer, op.phase, op.m, op.n, op.k)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_an_iteration_traces_its_plan_kept_and_update_transfers_in_device_order(method):
    m, frontend, ops, _ = traced(method)
    layers = frontend.describe((8, 6))
    plan = plan_iteration(layers, m, 0)
    writes, reads = kept_transfers(frontend, m, (8, 6), 0)
    gemm_at = {(i.name, g.phase): g for i in layers for g in i.gemms}

    def expected(steps):  # a GEMM mark stands for the GEMM the front-end described
        return [("gemm", s.layer, s.phase, *gemm_at[s][1:4]) if isinstance(s, GemmMark)
                else s for s in steps]

    seen = [("gemm", op.layer, op.phase, op.m, op.n, op.k) if isinstance(op, Gemm) else op
            for op in ops]
    assert seen == (expected(plan.forward) + writes + expected(plan.backward) + reads
                    + m.update_ops(0))
    forward = [(i.name, *g[:4]) for i in layers for g in i.gemms if g.phase == "fwd"]
    backward = [(i.name, *g[:4]) for i in reversed(layers) for g in i.gemms if g.phase != "fwd"]
    assert [shape(op) for op in ops if isinstance(op, Gemm)] == forward + backward
    assert [op for op in ops if isinstance(op, Transfer)] == (
        writes + reads + list(m.update_transfers(0)))
    assert {op.iter for op in ops} == {0}


def test_fp32_iteration_order_by_hand():
    """Forward layer by layer (GEMM, then the layer's vector steps), the loss; the kept tensors
    written; the loss's gradient, backward layer by layer down to fc1 (bwd_weight GEMM and bias
    gradient, bwd_data GEMM, the ReLU's mask); the kept tensors read; each layer's update
    between its reads and its writes."""
    _, _, ops, _ = traced("fp32")

    def name(op) -> str:
        if isinstance(op, Gemm):
            return f"gemm {op.layer} {op.phase}"
        if isinstance(op, Vector):
            return f"{op.kind} {op.layer} {op.phase}"
        return f"{op.dir} {op.layer} {op.tensor}"

    update = ["read {0} weights", "read {0} weight_grads", "read {0} optimizer_state",
              "sgd_update {0} update", "sgd_update {0} update", "write {0} optimizer_state",
              "write {0} weights"]
    assert [name(op) for op in ops] == [
        "gemm fc1 fwd", "bias_add fc1 fwd", "relu act1 fwd", "gemm fc2 fwd", "bias_add fc2 fwd",
        "softmax loss fwd", "write act1 activations", "write loss activations",
        "softmax loss bwd_data", "gemm fc2 bwd_weight", "bias_grad fc2 bwd_weight",
        "gemm fc2 bwd_data", "relu act1 bwd_data", "gemm fc1 bwd_weight",
        "bias_grad fc1 bwd_weight", "read act1 activations", "read loss activations",
        *(s.format("fc1") for s in update), *(s.format("fc2") for s in update)]


def test_kept_transfers_are_what_non_gemm_layers_keep_written_then_read_back():
    m, frontend, _, _ = traced("bnn-lowmem")
    writes, reads = kept_transfers(frontend, m, (8, 6), 4)
    assert [(t.layer, t.dir, t.phase, t.elements, t.bits) for t in writes] == [
        ("act1", "write", "fwd", 40, 1), ("scale_out", "write", "fwd", 24, 16),
        ("loss", "write", "fwd", 24, 16)]
    assert [(t.layer, t.dir, t.phase) for t in reads] == [
        ("act1", "read", "bwd_data"), ("scale_out", "read", "bwd_data"),
        ("loss", "read", "bwd_data")]
    assert {t.tensor for t in writes + reads} == {"activations"} and {t.iter for t in reads} == {4}


def test_the_tracer_records_each_iteration_under_its_number():
    _, _, ops, losses = traced("rct", iterations=3)
    assert sorted({op.iter for op in ops}) == [0, 1, 2]
    assert all(np.isfinite(losses))


def test_a_non_finite_loss_stops_training_before_the_update():
    cls = METHODS["fp32"]
    frontend = FakeFrontend.build(np.random.default_rng(0))
    m = cls(frontend, load_workload("mlp-digits"), np.random.default_rng(1))
    x = np.full((8, 6), np.inf, dtype=np.float32)
    before = frontend.storage.copy()
    with np.errstate(invalid="ignore"), pytest.raises(
            WorkloadError, match=r"training diverged at iteration 7 \(loss nan\); lower "
                                 "optimizer.lr"):
        run_iteration(frontend, m, None, x, np.zeros(8, dtype=int), 7)
    assert np.array_equal(frontend.storage, before)


def test_evaluation_is_untraced_in_eval_mode_and_leaves_training_mode_on():
    m, frontend, _, _ = traced("qat")
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((20, 6)).astype(np.float32), rng.integers(0, 3, 20)
    modes = []
    forward = frontend.forward
    frontend.forward = lambda xb: modes.append(frontend.training) or forward(xb)
    stored = frontend.storage.copy()
    loss, accuracy = evaluate(frontend, m, x, y, batch=8)
    assert modes == [False, False, False] and frontend.training  # 8 + 8 + 4 samples
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    assert np.array_equal(frontend.storage, stored)  # the master weights are back
