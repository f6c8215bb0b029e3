"""Shared pieces of the torch front-end tests: a GEMM recorder, MACs by phase, a workload file
naming a factory in ``torch_models.py``, and ``one_thread`` (torch's thread pool spins for
its peers on a busy 2-core machine: one thread runs these small models 10-20x faster there)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml

from accelsim.train.gemm import GemmObserver, GemmOp

HERE = Path(__file__).resolve().parent
MODELS = HERE / "torch_models.py"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Ops(GemmObserver):
    """Every GemmOp seen, in order."""

    def __init__(self) -> None:
        self.ops: list[GemmOp] = []

    def record(self, op: GemmOp) -> None:
        self.ops.append(op)

    def macs(self) -> Counter:
        by_phase: Counter = Counter()
        for op in self.ops:
            by_phase[op.phase] += op.macs
        return by_phase


def workload_file(folder: Path, factory: str, *, dataset: dict, params: dict | None = None,
                  batch_size: int = 32, name: str = "torch-test") -> Path:
    """A workload in ``folder`` whose model is ``torch_models.py:<factory>``, named by a path
    relative to the workload (the file is copied beside it)."""
    shutil.copy(MODELS, folder / "torch_models.py")
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "seed": 0, "dataset": dataset,
        "model": {"torch": f"torch_models.py:{factory}", "params": params or {}},
        "batch_size": batch_size, "epochs": 1,
        "optimizer": {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.0001}}))
    return path
