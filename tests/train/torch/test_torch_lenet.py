"""A torch LeNet-5 written like accelsim's numpy LeNet-5 traces exactly as the numpy one does:
the same layers by shape, and, trained on the same data, the same trace record for record
(GEMMs with their shapes, phases, widths and counts; vector work; transfers) for fp32 and qat."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")

import torch_models
from helpers_torch import one_thread, workload_file  # noqa: F401

from accelsim.trace import Gemm, read_trace
from accelsim.train.numpy_frontend import NumpyFrontend
from accelsim.train.torch_frontend import TorchFrontend
from accelsim.train.trainer import train
from accelsim.train.workload import load_workload

DIGITS = {"name": "digits", "params": {"upsample": 4, "test_fraction": 0.9, "synthetic": True}}


def test_describe_matches_the_numpy_lenet():
    shape = (8, 1, 32, 32)
    torch_layers = TorchFrontend(torch_models.lenet5(), shape[1:]).describe(shape)
    numpy_layers = NumpyFrontend.build("lenet5", {}, shape[1:], 10,
                                       np.random.default_rng(0)).describe(shape)
    assert torch_layers == numpy_layers


@pytest.mark.parametrize("method", ["fp32", "qat"])
def test_both_front_ends_write_the_same_trace(tmp_path, method):
    torch_workload = load_workload(workload_file(tmp_path, "lenet5", dataset=DIGITS))
    numpy_workload = replace(torch_workload, model=replace(torch_workload.model, torch="",
                                                           name="lenet5"))
    train(torch_workload, method, tmp_path / "torch", show_progress=False)
    train(numpy_workload, method, tmp_path / "numpy", show_progress=False)
    _, torch_ops = read_trace(tmp_path / "torch" / "trace.jsonl.gz")
    _, numpy_ops = read_trace(tmp_path / "numpy" / "trace.jsonl.gz")
    torch_ops, numpy_ops = list(torch_ops), list(numpy_ops)
    gemms = [op for op in torch_ops if isinstance(op, Gemm)]
    assert gemms == [op for op in numpy_ops if isinstance(op, Gemm)]
    assert torch_ops == numpy_ops  # the vector work and transfers too
    assert {op.layer for op in gemms} == {"conv1", "conv2", "fc1", "fc2", "fc3"}
    assert not any(op.layer == "conv1" and op.phase == "bwd_data" for op in gemms)
    widths = {(op.a_bits, op.b_bits, op.dtype) for op in gemms}
    assert widths == ({(32, 32, "fp")} if method == "fp32" else {(8, 8, "int")})
