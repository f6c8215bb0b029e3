"""Training a PyTorch model through ``accelsim.train.trainer.train`` (``model.torch`` in a
workload) writes a trace and metrics for every method, deterministically; a shape-only trace
of the same workload holds the same GEMMs; bad factories are one-line workload errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("torch")

from helpers_torch import one_thread, workload_file  # noqa: F401

from accelsim.errors import WorkloadError
from accelsim.trace import Gemm, read_trace
from accelsim.train.frontend_factory import build_frontend
from accelsim.train.methods import METHODS
from accelsim.train.shape_trace import shape_trace
from accelsim.train.trainer import train
from accelsim.train.workload import ModelSpec, load_workload

DIGITS = {"name": "digits", "params": {"upsample": 4, "test_fraction": 0.9, "synthetic": True}}
IMAGES = {"name": "synthetic", "params": {"shape": [3, 12, 12], "classes": 10,
                                          "train_samples": 64, "test_samples": 16}}
SEQUENCES = {"name": "synthetic", "params": {"shape": [5, 16], "classes": 4,
                                             "train_samples": 64, "test_samples": 16}}


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lenet")
    return load_workload(workload_file(folder, "lenet5", dataset=DIGITS))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_trains_and_writes_a_trace(lenet, tmp_path, method):
    metrics = train(lenet, method, tmp_path, show_progress=False)
    header, ops = read_trace(tmp_path / "trace.jsonl.gz")
    gemms = [op for op in ops if isinstance(op, Gemm)]
    assert header.method == method and metrics["iterations"] == 6  # 180 samples, batch 32
    assert sum(op.count for op in gemms) == metrics["trace"]["gemms"] == 6 * 14
    assert json.loads((tmp_path / "metrics.json").read_text())["method"] == method
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["training_memory"]["peak_bytes"] > 0
    first = {(op.layer, op.phase): op for op in gemms if op.iter == 0}
    if method.startswith("bnn"):  # binary operands after the first layer, signs in between
        assert (first[("conv2", "fwd")].a_bits, first[("conv2", "fwd")].b_bits) == (1, 1)
        assert (first[("conv1", "fwd")].a_bits, first[("conv1", "fwd")].b_bits) == (8, 1)
        kinds = {layer["what"] for layer in metrics["training_memory"]["kept_by_layer"]}
        assert ("sign_input" in kinds) == (method == "bnn")
        assert "bn_out" in metrics["bitwidth_history"][0]["bits"]


def test_the_trace_is_deterministic(lenet, tmp_path):
    train(lenet, "rct", tmp_path / "a", show_progress=False)
    train(lenet, "rct", tmp_path / "b", show_progress=False)
    assert ((tmp_path / "a" / "trace.jsonl.gz").read_bytes()
            == (tmp_path / "b" / "trace.jsonl.gz").read_bytes())
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a["history"] == b["history"]


@pytest.mark.parametrize(("factory", "dataset", "method"), [
    ("convnet", IMAGES, "qat"), ("convnet", IMAGES, "rct"),
    ("attention", SEQUENCES, "fp32"), ("attention", SEQUENCES, "qat"),
    ("attention", SEQUENCES, "rct")])
def test_a_shape_only_trace_holds_the_trained_gemms(tmp_path, factory, dataset, method):
    workload = load_workload(workload_file(tmp_path, factory, dataset=dataset, batch_size=16))
    train(workload, method, tmp_path / "trained", show_progress=False)
    shape_trace(workload, method, tmp_path / "shapes", iterations=4, show_progress=False)
    _, trained = read_trace(tmp_path / "trained" / "trace.jsonl.gz")
    _, shaped = read_trace(tmp_path / "shapes" / "trace.jsonl.gz")
    assert ([op for op in trained if isinstance(op, Gemm)]
            == [op for op in shaped if isinstance(op, Gemm)])


def _build(factory: str, **params):
    return build_frontend(ModelSpec(torch=factory, params=params), (1, 32, 32), 10,
                          np.random.default_rng(0))


@pytest.mark.parametrize(("factory", "message"), [
    ("torch_models.py", "is not 'file.py:function'"),
    ("/no/such/models.py:build", "no such file '/no/such/models.py'"),
    ("{models}:nothing", "has no function 'nothing'"),
    ("accelsim.zoo.nothing:build", "cannot import 'accelsim.zoo.nothing'"),
    ("{models}:attention", "cannot run on an input of shape [2, 1, 32, 32] (RuntimeError"),
])
def test_bad_factories_are_workload_errors(factory, message):
    from helpers_torch import MODELS

    with pytest.raises(WorkloadError, match=re.escape(message)):
        _build(factory.format(models=MODELS))


def test_unknown_factory_parameters_and_hidden_gemms_are_refused(tmp_path):
    from helpers_torch import MODELS

    with pytest.raises(WorkloadError, match=r"model.params: .*depth"):
        _build(f"{MODELS}:lenet5", depth=3)
    with pytest.raises(WorkloadError, match=r"gives outputs of shape \[2, 7\] for a batch of 2; "
                                            "the data set has 10 classes"):
        _build(f"{MODELS}:lenet5", num_classes=7)
    (tmp_path / "hidden.py").write_text(
        "import torch\n"
        "class Hidden(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.w = torch.nn.Parameter(torch.ones(1024, 10))\n"
        "    def forward(self, x):\n"
        "        return torch.einsum('nk,kc->nc', x.flatten(1), self.w)\n"
        "def build():\n"
        "    return Hidden()\n")
    with pytest.raises(WorkloadError, match="einsum in module '' runs a GEMM accelsim cannot "
                                            "trace: write the contraction as matmul"):
        _build(f"{tmp_path / 'hidden.py'}:build")
