"""The loop body every front-end shares: the order of the method's hooks, of the GEMMs and the
traced transfers, the shapes the front-end described, divergence, and evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from fake_frontend import FakeFrontend

from accelsim.errors import WorkloadError
from accelsim.trace.records import Gemm, Transfer
from accelsim.train.gemm import observing
from accelsim.train.iteration import evaluate, kept_transfers, run_iteration
from accelsim.train.methods import METHODS
from accelsim.train.tracer import Tracer
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
def test_an_iteration_traces_gemms_then_kept_and_update_transfers_in_device_order(method):
    m, frontend, ops, _ = traced(method)
    layers = frontend.describe((8, 6))
    forward = [(i.name, *g[:4]) for i in layers for g in i.gemms if g.phase == "fwd"]
    backward = [(i.name, *g[:4]) for i in reversed(layers) for g in i.gemms if g.phase != "fwd"]
    kinds = ["gemm" if isinstance(op, Gemm) else f"{op.phase}" for op in ops]
    n_fwd, n_bwd = len(forward), len(backward)
    writes, reads = kept_transfers(frontend, m, (8, 6), 0)
    updates = list(m.update_transfers(0))
    assert kinds == (["gemm"] * n_fwd + ["fwd"] * len(writes) + ["gemm"] * n_bwd
                     + ["bwd_data"] * len(reads) + ["update"] * len(updates))
    gemms = [op for op in ops if isinstance(op, Gemm)]
    assert [shape(op) for op in gemms] == forward + backward  # what the front-end described
    transfers = [op for op in ops if isinstance(op, Transfer)]
    assert transfers == writes + reads + updates
    assert {op.iter for op in ops} == {0}


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
