"""End to end: training writes a deterministic trace the simulator accepts, and metrics."""

import json

import pytest

from accelsim.cli import main
from accelsim.trace import Gemm, Transfer, read_trace
from accelsim.trace.records import Vector
from accelsim.train.trainer import train
from accelsim.train.workload import load_workload

FAST = ["epochs=1", "dataset.params.synthetic=true", "model.params.hidden=16"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for method in ("fp32", "qat", "rct"):
        d = tmp_path_factory.mktemp(method)
        out[method] = (d, train(load_workload("mlp-digits", FAST), method, d))
    return out


def test_trace_is_byte_identical_for_a_seed(runs, tmp_path):
    d, _ = runs["rct"]
    train(load_workload("mlp-digits", FAST), "rct", tmp_path)
    assert (tmp_path / "trace.jsonl.gz").read_bytes() == (d / "trace.jsonl.gz").read_bytes()
    other = tmp_path / "other"
    train(load_workload("mlp-digits", FAST), "rct", other, seed=7)
    assert (other / "trace.jsonl.gz").read_bytes() != (d / "trace.jsonl.gz").read_bytes()


def test_trace_holds_every_gemm_with_its_widths(runs):
    d, metrics = runs["qat"]
    header, ops = read_trace(d / "trace.jsonl.gz")
    assert header.method == "qat" and header.workload == "mlp-digits"
    gemms = [op for op in ops if isinstance(op, Gemm)]
    first = [g for g in gemms if g.iter == 0]
    # mlp: fc1 fwd, fc2 fwd, fc2 bwd_weight, fc2 bwd_data, fc1 bwd_weight (no fc1 bwd_data)
    assert [(g.layer, g.phase) for g in first] == [
        ("fc1", "fwd"), ("fc2", "fwd"), ("fc2", "bwd_weight"), ("fc2", "bwd_data"),
        ("fc1", "bwd_weight")]
    batch = metrics["batch_size"]
    assert (first[0].m, first[0].n, first[0].k) == (batch, 16, 64)
    assert all(g.a_bits == 8 and g.b_bits == 8 and g.dtype == "int" for g in gemms)
    assert first[2].out_bits == 32  # QAT stores weight gradients in fp32
    assert sum(1 for g in gemms) == metrics["trace"]["gemms"]
    transfers = [op for op in ops if isinstance(op, Transfer)]
    assert {t.tensor for t in transfers} == {"master_weights", "weights", "weight_grads",
                                             "optimizer_state", "activations"}
    assert max(op.iter for op in ops) == metrics["iterations"] - 1


def test_trace_is_version_2_with_the_vector_work_of_every_iteration(runs):
    d, metrics = runs["rct"]
    header, ops = read_trace(d / "trace.jsonl.gz")
    vectors = [op for op in ops if isinstance(op, Vector)]
    assert header.version == 2 and sum(op.count for op in vectors) == metrics["trace"]["vectors"]
    assert {op.iter for op in vectors} == set(range(metrics["iterations"]))
    assert {op.kind for op in vectors} == {"quantize", "bias_add", "relu", "softmax",
                                           "stochastic_round", "bias_grad", "sgd_update",
                                           "rct_update"}
    assert metrics["trace"]["records"] == sum(1 for _ in ops)


def test_fp32_trace_is_floating_point(runs):
    d, _ = runs["fp32"]
    _, ops = read_trace(d / "trace.jsonl.gz")
    assert all(op.dtype == "fp" and op.a_bits == 32 for op in ops if isinstance(op, Gemm))


def test_metrics(runs):
    for method, (d, _) in runs.items():
        on_disk = json.loads((d / "metrics.json").read_text())
        assert on_disk["method"] == method and len(on_disk["history"]) == 1
        assert 0 <= on_disk["test_accuracy"] <= 1
        assert on_disk["memory"]["param_memory_bytes"] > 0
        assert on_disk["bitwidth_history"][0]["iteration"] == 0
    assert (runs["rct"][1]["memory"]["param_memory_bytes"]
            < runs["qat"][1]["memory"]["param_memory_bytes"])


def test_trace_replays_through_the_simulator(runs, tmp_path, capsys):
    d, _ = runs["rct"]
    assert main(["simulate", "--trace", str(d / "trace.jsonl.gz"), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["trace"]["method"] == "rct" and report["macs"] > 0
    assert "master_weights" not in report["dram_bytes_by_tensor"]


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--workload", "mlp-digits", "--method", "sgd", "--out", "x"], "unknown method 'sgd'"),
    (["train", "--workload", "nope", "--method", "qat", "--out", "x"], "no such workload"),
    (["train", "--workload", "mlp-digits", "--method", "qat", "--out", "x", "--set", "epochs=0"],
     "epochs: 0 is below the minimum 1"),
    (["train", "--workload", "mlp-digits", "--method", "qat", "--out", "x", "--set", "epochs"],
     "expected KEY.PATH=VALUE"),
    (["train", "--workload", "mlp-digits", "--method", "qat", "--out", "x", "--epochs", "0"],
     "--epochs must be from 1 to 100,000, got 0"),
    (["train", "--workload", "mlp-digits", "--method", "qat", "--out", "x", "--epochs", "two"],
     "invalid int value: 'two'"),
    (["train", "--workload", "mlp-digits", "--method", "qat", "--out", "x",
      "--set", "model.name=resnet"], "unknown model 'resnet'"),
    (["train", "--workload", "mlp-digits", "--method", "qat", "--out", "x",
      "--set", "model.params.depth=3"], "model.params.depth: not a parameter of model 'mlp'"),
    (["train", "--workload", "lenet5-digits", "--method", "bnn", "--out", "x"],
     "model 'lenet5' has no binary form for method 'bnn' (models that do: bnn-binarynet, "
     "bnn-cnv, bnn-mlp, cnn, mlp)"),
])
def test_train_errors_are_one_line(capsys, argv, message, tmp_path):
    argv = [a if a != "x" else str(tmp_path / "out") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "trace.jsonl.gz").exists()


def test_convolutions_report_their_feature_map_footprint(tmp_path):
    w = load_workload("lenet5-digits", ["epochs=1", "dataset.params.synthetic=true",
                                        "dataset.params.test_fraction=0.9"])
    train(w, "fp32", tmp_path)
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    first = {(op.layer, op.phase): op for op in ops if isinstance(op, Gemm) and op.iter == 0}
    conv1, conv2 = first[("conv1", "fwd")], first[("conv2", "fwd")]
    batch = w.batch_size
    assert conv1.a_elements == batch * 1 * 32 * 32  # the input images, not the 25x im2col view
    assert conv2.a_elements == batch * 6 * 14 * 14
    assert first[("conv2", "bwd_weight")].a_elements == batch * 6 * 14 * 14
    assert first[("conv2", "bwd_data")].c_elements == batch * 6 * 14 * 14
    assert first[("fc1", "fwd")].a_elements is None  # a dense layer's A is no view


@pytest.mark.parametrize(("method", "what_bits"), [("fp32", {"relu1": 1}),
                                                   ("bnn", {"bn1": 32, "sign1": 32}),
                                                   ("bnn-lowmem", {"bn1": 1, "sign1": 1})])
def test_kept_tensors_outside_gemms_are_traced(tmp_path, method, what_bits):
    """What non-GEMM layers keep for backward is written in fwd and read back in bwd_data."""
    train(load_workload("mlp-digits", FAST), method, tmp_path)
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    kept = [op for op in ops if isinstance(op, Transfer) and op.iter == 0
            and op.tensor == "activations"]
    def largest(direction):  # a layer may keep several tensors: its values and statistics
        out = {}
        for op in kept:
            if op.dir == direction and op.elements >= getattr(out.get(op.layer), "elements", 0):
                out[op.layer] = op
        return out

    writes, reads = largest("write"), largest("read")
    assert writes.keys() == reads.keys() and "loss" in writes
    assert all(op.phase == "fwd" for op in writes.values())
    assert all(op.phase == "bwd_data" for op in reads.values())
    for layer, bits in what_bits.items():
        assert writes[layer].bits == bits, layer
