"""Shape-only traces: the trace training would write, from the network's shapes alone.

The main test: for fp32 and qat, the shape-only trace of lenet5-digits and of cnn-digits is the
very file real training writes over the same iterations (decompressed and compressed); with a
real RCT run's widths, so is RCT's. Then the other methods and front-ends, the metrics, the
width files and their errors, the iteration bound, reuse, bounded memory and determinism.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from fake_frontend import FakeFrontend

import accelsim.train.data as data_module
import accelsim.train.shape_trace as shape_trace_module
from accelsim.errors import UsageError, WorkloadError
from accelsim.trace.io import read_trace
from accelsim.trace.records import Gemm, Transfer, Vector
from accelsim.train.data import load_dataset
from accelsim.train.gemm import observing
from accelsim.train.iteration import run_iteration
from accelsim.train.methods import METHODS
from accelsim.train.recorded_widths import read_widths
from accelsim.train.shape_trace import (
    MAX_ITERATIONS,
    check_iterations,
    dataset_shape_of,
    iteration_records,
    shape_trace,
)
from accelsim.train.tracer import Tracer
from accelsim.train.trainer import train
from accelsim.train.workload import load_workload

LENET = "lenet5-digits"
SMALL_MLP = ["model.params.hidden=16", "dataset.params.synthetic=true"]


class DatasetShape(NamedTuple):
    """What ``accelsim.train.data.dataset_shape`` returns."""

    input_shape: tuple[int, ...]
    classes: int
    train_samples: int


def lines(path: Path) -> tuple[dict, bytes]:
    """A trace file's header (parsed) and the bytes of every record after it."""
    header, records = gzip.decompress(path.read_bytes()).split(b"\n", 1)
    return json.loads(header), records


def digits_train_samples(params: dict) -> int:
    """The training samples of the digits data set with ``params``, as loaded."""
    return len(load_dataset("digits", seed=0, **params).x_train)


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """lenet5-digits trained for one epoch (45 iterations, the last batch smaller) per
    method."""
    out = tmp_path_factory.mktemp("real")
    workload = load_workload(LENET, ["epochs=1"])
    return {m: (out / m, train(workload, m, out / m, show_progress=False))
            for m in ("fp32", "qat", "rct")}


# ---- the main test: byte identity with training ------------------------------------------------

@pytest.mark.parametrize("method", ["fp32", "qat"])
def test_shape_only_trace_of_lenet5_digits_is_byte_identical_to_training(method, real_runs,
                                                                          tmp_path):
    real_dir, real = real_runs[method]
    metrics = shape_trace(load_workload(LENET, ["epochs=1"]), method, tmp_path,
                          iterations=real["iterations"])
    real_trace, trace = real_dir / "trace.jsonl.gz", tmp_path / "trace.jsonl.gz"
    # the header and every GEMM, transfer and vector record, byte for byte
    assert gzip.decompress(trace.read_bytes()) == gzip.decompress(real_trace.read_bytes())
    assert trace.read_bytes() == real_trace.read_bytes()  # and so the compressed file
    for key in ("trace", "memory", "training_memory", "bitwidth_history", "batch_size",
                "iterations", "method_params", "optimizer"):
        assert metrics[key] == real[key], key
    assert real["iterations"] == 45 and real["trace"]["records"] > 3000


@pytest.mark.parametrize("method", ["fp32", "qat"])
def test_shape_only_trace_of_cnn_digits_is_byte_identical_to_training(method, tmp_path):
    """cnn-digits as shipped (its 32-32-64 channels, batch 100), on a fifth of the digits so
    an epoch is a few iterations, the last one smaller."""
    workload = load_workload("cnn-digits", ["epochs=1", "dataset.params.test_fraction=0.8"])
    real = train(workload, method, tmp_path / "real", show_progress=False)
    metrics = shape_trace(workload, method, tmp_path / "shape", iterations=real["iterations"])
    real_text = gzip.decompress((tmp_path / "real" / "trace.jsonl.gz").read_bytes())
    assert gzip.decompress((tmp_path / "shape" / "trace.jsonl.gz").read_bytes()) == real_text
    for key in ("trace", "memory", "training_memory", "bitwidth_history"):
        assert metrics[key] == real[key], key
    assert real["iterations"] == 4 and metrics["distinct_iterations"] == 2


def test_rct_with_a_real_runs_widths_equals_the_real_rct_trace(real_runs, tmp_path):
    """The recorded widths make RCT's shape-only trace the real one: its GEMM records (the
    widths of both operands, layer by layer, iteration by iteration) and every other record,
    including the narrowing at each width decision."""
    real_dir, real = real_runs["rct"]
    assert len(real["bitwidth_history"]) > 1, "the run changed no width: nothing is tested"
    widths = read_widths(real_dir)
    metrics = shape_trace(load_workload(LENET, ["epochs=1"]), "rct", tmp_path,
                          iterations=real["iterations"], widths=widths)
    _, real_ops = read_trace(real_dir / "trace.jsonl.gz")
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    assert [op for op in ops if isinstance(op, Gemm)] == \
        [op for op in real_ops if isinstance(op, Gemm)]
    assert lines(tmp_path / "trace.jsonl.gz")[1] == lines(real_dir / "trace.jsonl.gz")[1]
    assert metrics["bitwidth_history"] == real["bitwidth_history"]
    assert metrics["memory"] == real["memory"]  # at the widths training ended with
    assert metrics["widths_from"] == str(real_dir / "metrics.json")
    narrowing = [op for op in ops if isinstance(op, Vector) and op.phase == "update"
                 and op.kind == "quantize" and op.tensor == "weights"]
    assert narrowing, "the recorded narrowing is part of the trace"


def test_rct_without_recorded_widths_keeps_its_configured_widths(real_runs, tmp_path):
    _, real = real_runs["rct"]
    workload = load_workload(LENET, ["epochs=1", "methods.rct.init_bits=6"])
    metrics = shape_trace(workload, "rct", tmp_path, iterations=real["iterations"])
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    assert {(op.a_bits, op.b_bits) for op in ops if isinstance(op, Gemm)} == {(6, 6)}
    assert metrics["bitwidth_history"] == [
        {"iteration": 0, "bits": dict.fromkeys(real["bitwidth_history"][0]["bits"], 6)}]
    assert metrics["widths_from"] is None


# ---- every method, other networks, other front-ends --------------------------------------------

IDENTICAL = {
    "mlp-fp32": ("mlp-digits", "fp32", []),
    "mlp-qat-adam": ("mlp-digits", "qat", ["optimizer.name=adam", "optimizer.lr=0.01"]),
    "mlp-bnn": ("mlp-digits", "bnn", [*SMALL_MLP, "batch_size=100"]),
    "mlp-bnn-lowmem": ("mlp-digits", "bnn-lowmem", [*SMALL_MLP, "batch_size=100"]),
    "mlp-rct-adam": ("mlp-digits", "rct", [*SMALL_MLP, "optimizer.name=adam",
                                           "optimizer.lr=0.01", "methods.rct.interval=4"]),
    # four iterations, a width decision every two: one falls at the very end
    "cnn-rct": ("cnn-digits", "rct", ["model.params.channels=[4,4,8]",
                                      "dataset.params.test_fraction=0.8",
                                      "methods.rct.interval=2", "methods.rct.t_max=0.02",
                                      "methods.rct.t_min=0.001"]),
    "cnn-bnn-lowmem": ("cnn-digits", "bnn-lowmem", ["model.params.channels=[4,4,8]",
                                                    "dataset.params.test_fraction=0.8"]),
    # an embedding: the first layer with parameters runs no GEMM
    "charlm-qat": ("charlm-text", "qat", ["dataset.params.max_chars=3000",
                                          "model.params.hidden=16", "batch_size=64"]),
}


@pytest.mark.parametrize("case", IDENTICAL)
def test_every_method_and_network_matches_its_training_trace(case, tmp_path):
    name, method, overrides = IDENTICAL[case]
    workload = load_workload(name, [*overrides, "epochs=1"])
    real = train(workload, method, tmp_path / "real", show_progress=False)
    widths = read_widths(tmp_path / "real") if method == "rct" else None
    metrics = shape_trace(workload, method, tmp_path / "shape", iterations=real["iterations"],
                          widths=widths)
    assert lines(tmp_path / "shape" / "trace.jsonl.gz")[1] == \
        lines(tmp_path / "real" / "trace.jsonl.gz")[1]
    for key in ("trace", "memory", "training_memory", "bitwidth_history"):
        assert metrics[key] == real[key], key


@pytest.mark.parametrize("method", sorted(METHODS))
def test_an_iteration_from_shapes_is_run_iterations_on_a_foreign_front_end(method):
    """A front-end that is not accelsim's layers (a stand-in for PyTorch): one iteration's
    records from its ``describe`` alone equal those ``run_iteration`` traces training it."""
    cls = METHODS[method]
    workload = load_workload("mlp-digits")
    rng = np.random.default_rng(0)
    frontend = FakeFrontend.build(rng, cls.variant)
    trained = cls(frontend, workload, np.random.default_rng(1))
    x, y = rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)

    class Writer:
        def __init__(self):
            self.ops: list = []

        def add(self, op) -> None:
            self.ops.append(op)

    writer = Writer()
    tracer = Tracer(writer, trained)
    with observing(trained.observer()), observing(tracer):
        run_iteration(frontend, trained, tracer, x, y, 7)
    described = FakeFrontend.build(np.random.default_rng(2), cls.variant)
    shaped = cls(described, workload, np.random.default_rng(3))
    assert iteration_records(described, shaped, (8, 6), 7) == writer.ops
    assert any(isinstance(op, Gemm) for op in writer.ops)


# ---- iterations, epochs, reuse -------------------------------------------------------------------

def test_epochs_are_cut_as_training_cuts_them(tmp_path):
    """About 1440 samples at batch 32: 45 batches an epoch, the last smaller; iteration 45
    starts the next epoch with a full batch."""
    samples = digits_train_samples({"upsample": 4})
    assert 44 * 32 < samples < 45 * 32
    metrics = shape_trace(load_workload(LENET), "fp32", tmp_path, iterations=47)
    header, ops = read_trace(tmp_path / "trace.jsonl.gz")
    fc1 = {op.iter: op.m for op in ops if isinstance(op, Gemm) and op.layer == "fc1"
           and op.phase == "fwd"}
    assert fc1 == {i: samples - 44 * 32 if i == 44 else 32 for i in range(47)}
    assert header.meta == {"batch_size": 32, "epochs": 2, "steps_per_epoch": 45,
                           "model": "lenet5", "dataset": "digits"}
    assert metrics["epochs"] == 2 and metrics["steps_per_epoch"] == 45
    assert metrics["distinct_iterations"] == 2  # a full batch and the last one


def test_identical_iterations_are_rendered_once(tmp_path, monkeypatch):
    """Per-iteration work is writing the iteration's records: they are built once per batch
    size and width state, whatever the number of iterations."""
    built = []
    real = shape_trace_module.iteration_records

    def counting(*args, **kwargs):
        built.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(shape_trace_module, "iteration_records", counting)
    workload = load_workload("mlp-digits", SMALL_MLP)
    metrics = shape_trace(workload, "qat", tmp_path, iterations=500)
    assert built == [0, 44]
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    by_iter: dict[int, list] = {}
    for op in ops:
        by_iter.setdefault(op.iter, []).append(replace(op, iter=0))
    assert len(by_iter) == 500 and by_iter[0] == by_iter[45] == by_iter[499]
    assert by_iter[44] != by_iter[0]
    assert metrics["trace"]["records"] == len(ops)
    assert metrics["trace"]["gemms"] == sum(op.count for op in ops if isinstance(op, Gemm))
    assert metrics["trace"]["transfers"] == sum(op.count for op in ops
                                                if isinstance(op, Transfer))


def test_the_same_inputs_give_the_same_bytes(tmp_path):
    workload = load_workload(LENET)
    first = shape_trace(workload, "qat", tmp_path / "a", iterations=50)
    second = shape_trace(workload, "qat", tmp_path / "b", iterations=50)
    assert (tmp_path / "a" / "trace.jsonl.gz").read_bytes() == \
        (tmp_path / "b" / "trace.jsonl.gz").read_bytes()
    first.pop("wall_time_s"), second.pop("wall_time_s")
    assert first == second


@pytest.mark.parametrize("bad", [0, -1, MAX_ITERATIONS + 1, 10**12, True, 2.5, "10"])
def test_iterations_are_bounded(bad, tmp_path):
    with pytest.raises(UsageError, match="--iterations must be from 1 to 100,000"):
        shape_trace(load_workload(LENET), "fp32", tmp_path, iterations=bad)
    assert not list(tmp_path.iterdir())
    assert check_iterations(MAX_ITERATIONS) == MAX_ITERATIONS


def test_a_batch_larger_than_the_training_set_is_the_trainers_error(tmp_path):
    with pytest.raises(WorkloadError, match="larger than the training set"):
        shape_trace(load_workload(LENET, ["batch_size=5000"]), "fp32", tmp_path, iterations=1)
    assert not list(tmp_path.iterdir())


def test_the_data_set_comes_from_dataset_shape_without_loading(tmp_path, monkeypatch):
    """``dataset_shape(name, params)`` alone sets the input, classes and epoch; no loader runs."""
    calls = []

    def shape(name, params):
        calls.append((name, params))
        return DatasetShape((1, 32, 32), 7, 100)

    def no_loading(*_, **__):
        raise AssertionError("a shape-only trace loaded the data set")

    monkeypatch.setattr(data_module, "dataset_shape", shape, raising=False)
    monkeypatch.setattr(data_module, "load_dataset", no_loading)
    metrics = shape_trace(load_workload(LENET), "fp32", tmp_path, iterations=4)
    assert calls == [("digits", {"upsample": 4, "test_fraction": 0.2})]
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    fc3 = [op for op in ops if isinstance(op, Gemm) and op.layer == "fc3" and op.phase == "fwd"]
    assert [(op.iter, op.m, op.n) for op in fc3] == [(0, 32, 7), (1, 32, 7), (2, 32, 7),
                                                     (3, 4, 7)]  # 100 = 3 x 32 + 4
    assert metrics["dataset"] == {"name": "digits", "train": 100, "classes": 7,
                                  "input_shape": [1, 32, 32]}


def test_a_data_set_without_a_shape_reader_is_loaded_for_its_figures(monkeypatch):
    from accelsim.train.data import base

    monkeypatch.delitem(base.SHAPES, "digits")
    assert tuple(dataset_shape_of(load_workload(LENET))) == \
        ((1, 32, 32), 10, digits_train_samples({"upsample": 4}))


# ---- metrics -----------------------------------------------------------------------------------

def _keys(doc) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in _keys(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in _keys(v)}
    return set()


def test_metrics_hold_what_a_shape_only_run_knows_and_no_accuracy(tmp_path):
    metrics = shape_trace(load_workload(LENET), "qat", tmp_path, iterations=3)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == metrics
    assert metrics["shape_only"] is True
    assert (metrics["workload"], metrics["method"], metrics["iterations"],
            metrics["batch_size"]) == ("lenet5-digits", "qat", 3, 32)
    assert metrics["training_memory"]["peak_bytes"] > metrics["memory"]["param_memory_bytes"] > 0
    assert metrics["bitwidth_history"] == [
        {"iteration": 0, "bits": dict.fromkeys(["conv1", "conv2", "fc1", "fc2", "fc3"], 8)}]
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    assert metrics["trace"]["records"] == len(ops)
    assert sum(metrics["trace"][k] for k in ("gemms", "transfers", "vectors")) == \
        sum(op.count for op in ops)
    measured = {k for k in _keys(metrics) if "accuracy" in k or "loss" in k}
    assert not measured and "history" not in metrics and "final" not in metrics


# ---- widths from a recorded run -----------------------------------------------------------------

MLP_LAYERS = ("fc1", "fc2")


def run_dir(tmp_path: Path, history, name: str = "recorded") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({"bitwidth_history": history}))
    return folder


def test_recorded_widths_hold_from_their_iteration_and_narrow_in_the_update_before(tmp_path):
    history = [{"iteration": 0, "bits": {"fc1": 8, "fc2": 8}},
               {"iteration": 3, "bits": {"fc1": 6, "fc2": 9}},
               {"iteration": 5, "bits": {"fc1": 5, "fc2": 9}},  # at the end: the last update
               {"iteration": 9, "bits": {"fc1": 4, "fc2": 4}}]  # after the end: unused
    widths = read_widths(run_dir(tmp_path, history))
    workload = load_workload("mlp-digits", SMALL_MLP)
    metrics = shape_trace(workload, "rct", tmp_path / "out", iterations=5, widths=widths)
    _, ops = read_trace(tmp_path / "out" / "trace.jsonl.gz")
    fwd = {(op.iter, op.layer): op.a_bits for op in ops
           if isinstance(op, Gemm) and op.phase == "fwd"}
    assert fwd == {(i, layer): (8 if i < 3 else 6 if layer == "fc1" else 9)
                   for i in range(5) for layer in MLP_LAYERS}
    narrowed = [(op.iter, op.layer, op.in_bits, op.out_bits) for op in ops
                if isinstance(op, Vector) and op.kind == "quantize" and op.tensor == "weights"
                and op.phase == "update"]
    assert narrowed == [(2, "fc1", 8, 6), (4, "fc1", 6, 5)]  # widening moves nothing
    assert metrics["bitwidth_history"] == history[:3]
    params = metrics["memory"]["parameters"]
    assert 0 < metrics["memory"]["param_memory_bytes"] < params * 9 / 8  # fc1 at 5 bits


def test_a_history_starting_late_keeps_the_configured_widths_until_then(tmp_path):
    widths = read_widths(run_dir(tmp_path, [{"iteration": 2, "bits": {"fc1": 12, "fc2": 12}}]))
    workload = load_workload("mlp-digits", [*SMALL_MLP, "methods.rct.init_bits=10"])
    metrics = shape_trace(workload, "rct", tmp_path / "out", iterations=4, widths=widths)
    _, ops = read_trace(tmp_path / "out" / "trace.jsonl.gz")
    assert [op.b_bits for op in ops if isinstance(op, Gemm) and op.layer == "fc1"
            and op.phase == "fwd"] == [10, 10, 12, 12]
    assert [e["iteration"] for e in metrics["bitwidth_history"]] == [0, 2]


@pytest.mark.parametrize(("bits", "expect"), [
    ({"fc1": 8}, "no width for layer(s) fc2 of the model"),
    ({"fc1": 8, "fc2": 8, "conv9": 8}, "names layer(s) conv9 the model does not have"),
])
def test_widths_must_name_exactly_the_models_layers(bits, expect, tmp_path):
    widths = read_widths(run_dir(tmp_path, [{"iteration": 0, "bits": {"fc1": 8, "fc2": 8}},
                                            {"iteration": 20, "bits": bits}]))
    with pytest.raises(UsageError, match="iteration 20") as error:
        shape_trace(load_workload("mlp-digits", SMALL_MLP), "rct", tmp_path / "out",
                    iterations=5, widths=widths)
    assert expect in str(error.value)
    assert not (tmp_path / "out").exists()


def test_widths_apply_to_rct_only(tmp_path):
    widths = read_widths(run_dir(tmp_path, [{"iteration": 0, "bits": {"fc1": 8, "fc2": 8}}]))
    with pytest.raises(UsageError, match="applies to rct"):
        shape_trace(load_workload("mlp-digits", SMALL_MLP), "qat", tmp_path / "out",
                    iterations=5, widths=widths)
    assert not (tmp_path / "out").exists()


# ---- bounded work and memory, clean failures ----------------------------------------------------

def test_a_front_end_is_described_once_per_batch_shape(tmp_path, monkeypatch):
    """``describe`` may be costly (a torch front-end runs its module): the plan, the kept
    transfers and the memory model share one answer per batch shape."""
    calls = []
    build = shape_trace_module.build_frontend

    def counting_build(*args, **kwargs):
        frontend = build(*args, **kwargs)
        describe = frontend.describe

        def counted(in_shape):
            calls.append(tuple(in_shape))
            return describe(in_shape)

        frontend.describe = counted
        return frontend

    monkeypatch.setattr(shape_trace_module, "build_frontend", counting_build)
    shape_trace(load_workload(LENET), "qat", tmp_path, iterations=90)
    assert sorted(calls) == sorted({(32, 1, 32, 32), calls[-1]}) and len(calls) == 2


def test_width_states_beyond_the_kept_few_are_rendered_again_identically(tmp_path,
                                                                        monkeypatch):
    """Rendered iterations are kept for the latest few width states only (memory stays
    bounded however often widths change); one rendered again is the same text."""
    history = [{"iteration": i, "bits": {"fc1": 8 + i // 2 % 2, "fc2": 8}}
               for i in range(0, 40, 2)]
    widths = read_widths(run_dir(tmp_path, history))
    workload = load_workload("mlp-digits", SMALL_MLP)
    kept = shape_trace(workload, "rct", tmp_path / "kept", iterations=40, widths=widths)
    monkeypatch.setattr(shape_trace_module, "MAX_TEMPLATES", 1)
    again = shape_trace(workload, "rct", tmp_path / "again", iterations=40, widths=widths)
    assert (tmp_path / "kept" / "trace.jsonl.gz").read_bytes() == \
        (tmp_path / "again" / "trace.jsonl.gz").read_bytes()
    assert kept["distinct_iterations"] < again["distinct_iterations"] <= 40


@pytest.mark.parametrize("fails", ["rendering", "metrics"])
def test_a_failure_while_writing_leaves_nothing(fails, tmp_path, monkeypatch):
    def broken(*_, **__):
        raise OSError(28, "No space left on device")

    target = "iteration_records" if fails == "rendering" else "write_atomic"
    monkeypatch.setattr(shape_trace_module, target, broken)
    with pytest.raises(OSError, match="No space"):
        shape_trace(load_workload(LENET), "fp32", tmp_path / "new" / "out", iterations=3)
    assert not list(tmp_path.iterdir())
    (tmp_path / "kept").mkdir()
    with pytest.raises(OSError, match="No space"):
        shape_trace(load_workload(LENET), "fp32", tmp_path / "kept", iterations=3)
    assert (tmp_path / "kept").is_dir() and not list((tmp_path / "kept").iterdir())


# ---- a PyTorch front-end (the torch extra) ----------------------------------------------------

RESIDUAL_NET = '''
import torch
from torch import nn


class Block(nn.Module):
    """Two 3x3 convolutions with batch norm, a strided 1x1 projection shortcut, ReLU after."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, 2, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + self.shortcut(x))


def build(*_, **__):
    return nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1), nn.ReLU(), Block(4, 8), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10))
'''


def needs_torch_frontend(test):
    """Skipped only where PyTorch is not installed (the torch extra)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return pytest.mark.skip(reason="PyTorch is not installed")(test)
    return test


@needs_torch_frontend
@pytest.mark.parametrize("method", ["fp32", "qat", "rct"])
def test_a_torch_residual_networks_trace_from_shapes_is_its_training_trace(method, tmp_path):
    """Autograd runs the backward in reverse creation order, so the projection shortcut's
    GEMMs come before the main branch's, as reversed(describe) has them."""
    (tmp_path / "net.py").write_text(RESIDUAL_NET)
    workload = load_workload("mlp-digits", [
        f"model={{torch: '{tmp_path / 'net.py'}:build', params: {{}}}}",
        "dataset={name: synthetic, params: {shape: [3, 8, 8], train_samples: 40, "
        "test_samples: 10}}", "batch_size=16", "epochs=2", "methods.rct.interval=2"])
    real = train(workload, method, tmp_path / "real", show_progress=False)
    widths = read_widths(tmp_path / "real") if method == "rct" else None
    metrics = shape_trace(workload, method, tmp_path / "shape", iterations=real["iterations"],
                          widths=widths)
    assert gzip.decompress((tmp_path / "shape" / "trace.jsonl.gz").read_bytes()) == \
        gzip.decompress((tmp_path / "real" / "trace.jsonl.gz").read_bytes())
    for key in ("trace", "memory", "training_memory", "bitwidth_history"):
        assert metrics[key] == real[key], key


@needs_torch_frontend
def test_resnet18_at_224_traces_in_seconds(tmp_path):
    """The network this mode exists for: 200 iterations of ResNet-18 on 224x224 inputs."""
    workload = load_workload("mlp-digits", [
        "model={torch: 'accelsim.zoo.resnet:resnet18', params: {num_classes: 100}}",
        "dataset={name: synthetic, params: {shape: [3, 224, 224], classes: 100, "
        "train_samples: 600, test_samples: 40}}", "batch_size=32"])
    started = time.perf_counter()
    metrics = shape_trace(workload, "qat", tmp_path, iterations=200)
    elapsed = time.perf_counter() - started
    assert metrics["trace"]["gemms"] >= 200 * 21 * 2  # 21 GEMM layers, each at least twice
    assert elapsed < 30, f"{elapsed:.1f} s"
