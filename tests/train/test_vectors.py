"""The vector (SIMD) work of a training iteration, as the numpy front-end traces it: every
non-GEMM layer's steps in forward and backward with the counts its LayerInfo declares, every
method's own work (operand quantisation, gradient handling, the update) at the widths the method
really uses, every parameter element updated once, deterministic, nothing for evaluation, and
the same records from the shapes alone."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from accelsim.trace.io import TraceWriter, read_trace
from accelsim.trace.records import Header, Transfer, Vector
from accelsim.train.gemm import observing
from accelsim.train.iteration import evaluate, run_iteration
from accelsim.train.layers import Conv2d, Flatten, Linear, MaxPool2d, Sequential
from accelsim.train.methods import METHODS, quantiser
from accelsim.train.numpy_frontend import NumpyFrontend
from accelsim.train.optim import SGD, UpdateStep
from accelsim.train.quant import quantise, quantise_ops
from accelsim.train.tracer import Tracer
from accelsim.train.vectors import plan_iteration
from accelsim.train.widths import first_trained, places
from accelsim.train.workload import load_workload

BATCH, CLASSES = 4, 10
MODELS = {  # input shape, builder parameters, the workload its optimizer and methods come from
    "lenet5": ((1, 16, 16), {}, "lenet5-digits"),
    "mlp": ((1, 8, 8), {"hidden": 6}, "mlp-digits"),
    "cnn": ((1, 8, 8), {"channels": [4, 4, 8]}, "cnn-digits"),  # no weight decay
}
CASES = [("lenet5", m) for m in ("fp32", "qat", "rct")] + [
    (model, m) for model in ("mlp", "cnn") for m in ("bnn", "bnn-lowmem")]
METHOD_KINDS = {"quantize", "stochastic_round", "clip", "sign_grad", "sgd_update", "rct_update",
                "binarize"}


class Writer:
    """Stands in for a TraceWriter: keeps the records."""

    def __init__(self):
        self.ops: list = []

    def add(self, op) -> None:
        self.ops.append(op)


@dataclass
class Run:
    case: tuple[str, ...]
    method: object
    frontend: NumpyFrontend
    ops: list
    x: np.ndarray
    y: np.ndarray
    tracer: Tracer

    @property
    def vectors(self) -> list[Vector]:
        return [op for op in self.ops if isinstance(op, Vector)]

    def layers(self):
        return self.frontend.describe(self.x.shape)


def run(model: str, method: str, *overrides: str, iterations: int = 1, seed: int = 0,
        prepare=None) -> Run:
    cls = METHODS[method]
    shape, params, workload = MODELS[model]
    rng = np.random.default_rng(seed)
    frontend = NumpyFrontend.build(model, params, shape, CLASSES, rng, variant=cls.variant)
    m = cls(frontend, load_workload(workload, list(overrides)), np.random.default_rng(seed + 1))
    if prepare is not None:
        prepare(m)
    x = rng.standard_normal((BATCH, *shape)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    writer = Writer()
    tracer = Tracer(writer, m)
    with observing(m.observer()), observing(tracer):
        for it in range(iterations):
            run_iteration(frontend, m, tracer, x, y, it)
    return Run((model, method, *overrides), m, frontend, writer.ops, x, y, tracer)


@pytest.fixture(scope="module", params=CASES, ids=[f"{m}-{n}" for m, n in CASES])
def traced(request) -> Run:
    return run(*request.param)


# ---- the layers' work ------------------------------------------------------------------------

def test_every_non_gemm_layer_works_forward_and_backward(traced):
    layers = traced.layers()
    phases: dict[str, set[str]] = {}
    for v in traced.vectors:
        phases.setdefault(v.layer, set()).add(v.phase)
    first = first_trained(layers)
    for n, info in enumerate(layers):
        if info.kind == "flatten":
            assert info.name not in phases  # a view: no work
        elif not info.gemms:  # relu, pooling, batch norms, sign
            assert "fwd" in phases[info.name], info.name
            assert n < first or phases[info.name] & {"bwd_data", "bwd_weight"}, info.name
        elif any(p.role == "bias" for p in info.params):
            kinds = {(v.kind, v.phase) for v in traced.vectors if v.layer == info.name}
            assert {("bias_add", "fwd"), ("bias_grad", "bwd_weight")} <= kinds
    assert phases["loss"] >= {"fwd", "bwd_data"}


def test_layer_records_are_what_their_layer_info_declares(traced):
    layers = traced.layers()
    first = first_trained(layers)
    loss = [v for v in traced.vectors if v.layer == "loss"]
    assert [(v.phase, v.kind, v.elements, v.ops) for v in loss] == [
        ("fwd", "softmax", BATCH * CLASSES, 5), ("bwd_data", "softmax", BATCH * CLASSES, 3)]
    for n, info in enumerate(layers):
        for phase in ("fwd", "bwd_weight", "bwd_data"):
            runs = phase == "fwd" or n >= first
            declared = [(s.kind, s.elements, s.ops, min(s.inputs, 16)) for s in info.vectors
                        if s.phase == phase] if runs else []
            recorded = [(v.kind, v.elements, v.ops, v.inputs) for v in traced.vectors
                        if v.layer == info.name and v.phase == phase
                        and v.kind not in METHOD_KINDS]
            assert recorded == declared, (info.name, phase)


# ---- the method's work -------------------------------------------------------------------------

def test_the_update_covers_every_parameter_element_once(traced):
    m = traced.method
    updates = [v for v in traced.vectors if v.phase == "update"]
    assert updates and {v.iter for v in updates} == {0}
    covered = 0
    for layer in m.layers:
        primary = next(iter(m.copies(layer)))
        steps = [v for v in updates if v.layer == layer
                 and v.kind in ("sgd_update", "rct_update") and v.tensor == primary]
        assert [v.elements for v in steps] == [m.layer_elements(layer)], layer
        state = [v for v in updates if v.layer == layer and v.kind == "sgd_update"
                 and v.tensor == "optimizer_state"]
        assert [v.elements for v in state] == [m.layer_elements(layer)], layer  # momentum 0.9
        covered += steps[0].elements
    assert covered == m.memory()["parameters"] == sum(
        p.elements for info in traced.layers() for p in info.params)


def test_the_update_reads_and_writes_each_copy_at_its_stored_width(traced):
    m = traced.method
    for v in traced.vectors:
        if v.kind not in ("sgd_update", "rct_update"):
            continue
        copies = m.copies(v.layer)
        primary = next(iter(copies))
        grad, state, weights = (m.bits(v.layer, "weight_grads"), m.state_bits, copies[primary])
        decay = m.workload.optimizer.weight_decay > 0
        if v.tensor == "optimizer_state":  # v = mu * v + g (+ wd * w)
            assert (v.in_bits, v.out_bits) == (max(grad, state, weights if decay else 1), state)
            assert (v.inputs, v.ops) == ((3, 4) if decay else (2, 2))
        else:  # w - lr * v, v in a register
            assert (v.tensor, v.in_bits, v.out_bits, v.inputs) == (primary, weights, weights, 1)
        assert v.dtype == ("fp" if weights == 32 or m.tensor_dtype(v.layer, primary) == "fp"
                           else "int")


def test_operand_quantisations_are_at_the_gemm_operand_widths(traced):
    m = traced.method
    layers = {info.name: info for info in traced.layers()}
    quantised = [v for v in traced.vectors if v.tensor in ("activations", "errors")
                 and v.kind in ("quantize", "stochastic_round")]
    for v in quantised:
        fp = m.tensor_dtype(v.layer, v.tensor) == "fp"  # to the nearest half
        kind, phase = (("quantize", ("fwd",)) if v.tensor == "activations" else
                       ("quantize" if fp else "stochastic_round", ("bwd_weight", "bwd_data")))
        assert v.kind == kind and v.phase in phase and v.out_bits == m.bits(v.layer, v.tensor)
        assert layers[v.layer].gemms  # only GEMM inputs are quantised
    if m.name == "fp32":
        assert not quantised
    want = {"fp32": set(), "qat": {"activations", "errors"}, "rct": {"activations", "errors"},
            "bnn": {"activations"}, "bnn-lowmem": {"activations", "errors"}}[m.name]
    assert {v.tensor for v in quantised} == want
    if m.name.startswith("bnn"):  # the network's input only: a Sign's +-1 is its own code
        first = next(info.name for info in layers.values() if info.gemms)
        assert [v.layer for v in quantised if v.tensor == "activations"] == [first]


@pytest.mark.parametrize(("model", "method"), [("lenet5", "qat"), ("lenet5", "rct"),
                                               ("cnn", "bnn-lowmem")])
def test_planned_operand_quantisations_are_the_ones_the_quantiser_makes(model, method,
                                                                        monkeypatch):
    made = []

    def spy(x, bits, *, rounding="nearest", rng=None, exponent=None):
        if bits > 1:  # (a Sign's +-1 put on the 1-bit grid again is not work)
            made.append((bits, rounding))
        return quantise(x, bits, rounding=rounding, rng=rng, exponent=exponent)

    monkeypatch.setattr(quantiser, "quantise", spy)
    fixed = ["methods.bnn_lowmem.error_format=fixed"] if method == "bnn-lowmem" else []
    r = run(model, method, *fixed)  # (errors in fp16 are not put on a fixed-point grid)
    planned = [(v.out_bits, "stochastic" if v.kind == "stochastic_round" else "nearest")
               for v in r.vectors if v.tensor in ("activations", "errors")
               and v.kind in ("quantize", "stochastic_round")]
    assert planned == made and made


def test_fp32_works_in_floating_point_at_32_bits():
    r = run("lenet5", "fp32")
    assert all((v.in_bits, v.out_bits, v.dtype) == (32, 32, "fp") for v in r.vectors)
    assert {v.kind for v in r.vectors} == {"bias_add", "relu", "maxpool", "softmax",
                                            "bias_grad", "sgd_update"}


def test_qat_updates_fp32_masters_and_quantises_the_copy_it_computes_with():
    r = run("lenet5", "qat")
    update = [v for v in r.vectors if v.phase == "update" and v.layer == "conv1"]
    assert [(v.kind, v.tensor, v.in_bits, v.out_bits, v.dtype) for v in update] == [
        ("sgd_update", "optimizer_state", 32, 32, "fp"),
        ("sgd_update", "master_weights", 32, 32, "fp"),
        ("quantize", "weights", 32, 8, "fp")]
    relu = [v for v in r.vectors if v.layer == "relu1"]
    assert [(v.phase, v.in_bits, v.out_bits, v.dtype) for v in relu] == [
        ("fwd", 8, 8, "int"), ("bwd_data", 8, 8, "int")]
    assert not any(v.tensor == "weight_grads" and v.kind == "quantize" for v in r.vectors)
    rounded = run("lenet5", "qat", "methods.qat.grad_bits=12")
    grads = [v for v in rounded.vectors if v.tensor == "weight_grads" and v.kind == "quantize"]
    assert [(v.layer, v.phase, v.in_bits, v.out_bits) for v in grads] == [
        (layer, "bwd_weight", 32, 12) for layer in ("fc3", "fc2", "fc1", "conv2", "conv1")]


def narrow(m) -> None:
    m.layer_bits.update({"conv1": 5, "conv2": 6, "fc1": 7, "fc2": 9, "fc3": 10})


def test_rct_works_at_each_layers_width():
    r = run("lenet5", "rct", prepare=narrow)
    by = {(v.layer, v.phase, v.kind): v for v in r.vectors}

    def bits(layer, phase, kind):
        v = by[layer, phase, kind]
        return v.in_bits, v.out_bits

    assert bits("relu1", "fwd", "relu") == (5, 5)  # stores at its owner's (conv1) width
    assert bits("pool1", "fwd", "maxpool") == (5, 5)
    assert bits("conv2", "fwd", "quantize") == (5, 6)  # arrives at 5, enters the GEMM at 6
    assert bits("relu3", "bwd_data", "relu") == (9, 7)  # fc2's error in, fc1's error out
    assert bits("relu4", "bwd_data", "relu") == (10, 9)
    assert bits("fc2", "bwd_weight", "stochastic_round") == (9, 9)  # relu4 wrote it at 9
    assert bits("loss", "fwd", "softmax") == (10, 10)
    assert bits("conv2", "bwd_weight", "quantize") == (32, 16)  # gradients to grad_bits
    assert bits("fc1", "update", "rct_update") == (7, 7)
    assert by["fc1", "update", "rct_update"].ops == 2 + 2 + 7 + 10  # step, Gavg, guard,
    # stochastic rounding
    assert {v.dtype for v in r.vectors} == {"int"}
    update = [(v.kind, v.tensor) for v in r.vectors if v.layer == "fc1" and v.phase == "update"]
    assert update == [("sgd_update", "optimizer_state"), ("rct_update", "weights"),
                      ("quantize", "optimizer_state")]


def test_rct_moves_narrowed_layers_onto_their_grid_after_the_update():
    r = run("mlp", "rct", "methods.rct.interval=1", "methods.rct.t_min=1e-9",
            "methods.rct.t_max=1e-8")
    assert set(r.method.layer_bits.values()) == {7}
    tail = r.ops[-2:]  # after every layer's update and its writes, at the widths it ran at
    assert [(v.kind, v.layer, v.phase, v.tensor, v.in_bits, v.out_bits) for v in tail] == [
        ("quantize", layer, "update", "weights", 8, 7) for layer in ("fc1", "fc2")]
    assert {v.out_bits for v in r.vectors if v.kind == "rct_update"} == {8}
    assert {t.bits for t in r.ops if isinstance(t, Transfer) and t.tensor == "weights"} == {8}


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_bnn_binarises_latents_and_masks_their_gradients(model):
    r = run(model, "bnn")
    latents = [layer for layer in r.method.layers if layer in r.method.binarised]
    for layer in latents:
        grads = [(v.kind, v.in_bits, v.out_bits, v.inputs) for v in r.vectors
                 if v.layer == layer and v.tensor == "weight_grads" and v.kind in METHOD_KINDS]
        assert grads == [("clip", 32, 32, 2)]
        update = [(v.kind, v.tensor, v.out_bits) for v in r.vectors
                  if v.layer == layer and v.phase == "update"]
        assert update == [("sgd_update", "optimizer_state", 32),
                          ("sgd_update", "master_weights", 32), ("clip", "master_weights", 32),
                          ("binarize", "weights", 1)]
    signs = [v for v in r.vectors if v.kind == "sign"]
    assert {(v.phase, v.out_bits, v.ops) for v in signs} == {("fwd", 1, 1), ("bwd_data", 32, 3)}
    assert {v.kind for v in r.vectors if v.phase != "update"} >= {"batchnorm", "sign"}
    assert {v.dtype for v in r.vectors} == {"fp"}


# bnn-lowmem as accelsim read it before Wang et al.'s code (every option at its earlier value)
EARLIER_LOWMEM = ("methods.bnn_lowmem.latent_format=fixed", "methods.bnn_lowmem.error_format=fixed",
                  "methods.bnn_lowmem.grad_scale=mean", "methods.bnn_lowmem.norm_backward=sign")


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_bnn_lowmem_keeps_16_bits_and_scaled_sign_gradients(model):
    r = run(model, "bnn-lowmem", *EARLIER_LOWMEM)  # tests/train/test_bnn_paper.py: the paper's
    for layer in r.method.binarised:
        grads = [(v.kind, v.in_bits, v.out_bits) for v in r.vectors
                 if v.layer == layer and v.tensor == "weight_grads" and v.kind in METHOD_KINDS]
        assert grads == [("clip", 32, 32), ("sign_grad", 32, 1)]
        update = [(v.kind, v.tensor, v.in_bits, v.out_bits) for v in r.vectors
                  if v.layer == layer and v.phase == "update"]
        assert update == [("sgd_update", "optimizer_state", 16, 16),
                          ("sgd_update", "master_weights", 16, 16),
                          ("clip", "master_weights", 16, 16),
                          ("stochastic_round", "master_weights", 16, 16),
                          ("quantize", "optimizer_state", 16, 16),
                          ("binarize", "weights", 16, 1)]
    norms = [v for v in r.vectors if v.kind == "l1batchnorm"]
    assert {(v.phase, v.ops, v.inputs) for v in norms} == {
        ("fwd", 9, 1), ("bwd_weight", 4, 1), ("bwd_data", 10, 1)}
    signs = {(v.phase, v.out_bits, v.ops) for v in r.vectors if v.kind == "sign"}
    assert signs == {("fwd", 1, 3), ("bwd_data", 16, 1)}
    assert {v.dtype for v in r.vectors} == {"int"}


# ---- the iteration as a whole ------------------------------------------------------------------

def test_two_runs_trace_the_same(traced):
    assert run(*traced.case).ops == traced.ops


def test_the_plan_from_shapes_alone_is_what_the_tracer_emits(traced):
    plan = plan_iteration(traced.layers(), traced.method, 0)
    assert plan.vectors() == [v for v in traced.vectors if v.phase != "update"]
    update = [op for op in traced.method.update_ops(0) if isinstance(op, Vector)]
    assert update == [v for v in traced.vectors if v.phase == "update"]


def test_evaluation_emits_nothing(traced):
    count = len(traced.ops)
    with traced.tracer.paused():
        evaluate(traced.frontend, traced.method, traced.x, traced.y)
    assert len(traced.ops) == count
    evaluate(traced.frontend, traced.method, traced.x, traced.y)  # unpaused: GEMMs only
    assert not any(isinstance(op, Vector) for op in traced.ops[count:])
    del traced.ops[count:]


def test_vector_records_round_trip_through_a_version_2_trace(traced, tmp_path):
    path = tmp_path / "trace.jsonl.gz"
    with TraceWriter(path, Header(workload="w", method=traced.method.name)) as writer:
        for op in traced.ops:
            writer.add(op)
    header, ops = read_trace(path)
    assert header.version == 2
    expanded = [replace(op, count=1) for op in ops for _ in range(op.count)]
    assert [op for op in expanded if isinstance(op, Vector)] == traced.vectors


def test_an_embedding_scatters_its_gradient():
    rng = np.random.default_rng(0)
    frontend = NumpyFrontend.build("charlm", {"embedding": 3, "hidden": 5}, (4,), 7, rng)
    rct = METHODS["rct"](frontend, load_workload("charlm-text"), rng)
    writer = Writer()
    tracer = Tracer(writer, rct)
    with observing(rct.observer()), observing(tracer):
        run_iteration(frontend, rct, tracer, rng.integers(0, 7, (2, 4)), rng.integers(0, 7, 2), 0)
    embed = [(v.phase, v.kind, v.elements, v.ops, v.in_bits, v.out_bits, v.tensor)
             for v in writer.ops if isinstance(v, Vector) and v.layer == "embed"]
    assert embed == [("bwd_weight", "scatter_add", 2 * 4 * 3, 1, 8, 32, "weight_grads"),
                     ("bwd_weight", "quantize", 7 * 3, 6, 32, 16, "weight_grads"),
                     ("update", "sgd_update", 21, 2, 16, 16, "optimizer_state"),  # no decay
                     ("update", "rct_update", 21, 21, 8, 8, "weights"),
                     ("update", "quantize", 21, 6, 16, 16, "optimizer_state")]


def test_a_pooling_window_wider_than_a_record_reads_16_values():
    rng = np.random.default_rng(0)
    net = Sequential([Conv2d(1, 2, 3, rng=rng, name="conv"), MaxPool2d(5, name="pool"),
                      Flatten(), Linear(2, 3, rng=rng, name="fc")])
    net.layers[0].needs_input_grad = False
    frontend = NumpyFrontend(net)
    fp32 = METHODS["fp32"](frontend, load_workload("mlp-digits"), rng)
    layers = frontend.describe((2, 1, 7, 7))
    assert layers[1].vectors[0].inputs == 25
    pool = [v for v in plan_iteration(layers, fp32, 0).vectors() if v.layer == "pool"]
    assert [(v.phase, v.ops, v.inputs) for v in pool] == [("fwd", 24, 16), ("bwd_data", 1, 1)]
    assert [p.owner for p in places(layers, fp32)] == ["conv", "conv", "conv", "fc"]


# ---- the counts the records are built from -------------------------------------------------------

def test_quantisation_costs_follow_the_quantiser():
    assert quantise_ops(8) == 6 and quantise_ops(8, ranged=False) == 4
    assert quantise_ops(16, "stochastic") == 10 and quantise_ops(1) == 1
    assert quantise_ops(1, "stochastic") == 10
    with pytest.raises(ValueError, match="unknown rounding 'up'"):
        quantise_ops(8, "up")


class P:
    """The least a ParamRef needs to be optimised."""

    name, layer, role, shape = "w", "fc", "gemm_weight", (2,)


@pytest.mark.parametrize(("options", "steps"), [
    ({"momentum": 0.9, "weight_decay": 1e-4},
     (UpdateStep("state", ("grad", "state", "weights"), 4), UpdateStep("weights", ("weights",), 2))),
    ({"momentum": 0.9}, (UpdateStep("state", ("grad", "state"), 2),
                         UpdateStep("weights", ("weights",), 2))),
    ({"momentum": 0.9, "nesterov": True}, (UpdateStep("state", ("grad", "state"), 2),
                                           UpdateStep("weights", ("weights",), 4))),
    ({}, (UpdateStep("weights", ("grad", "weights"), 2),)),
    ({"weight_decay": 1e-4}, (UpdateStep("weights", ("grad", "weights"), 4),)),
])
def test_sgd_says_what_one_update_computes(options, steps):
    assert SGD([P()], lr=0.1, **options).vector_steps() == steps
