"""The training loop: one workload, one method, a trace and a metrics file.

The workload's front-end (numpy layers, or a PyTorch module: ``frontend_factory``) is built
in the form the method asks for, and every batch runs through :func:`accelsim.train.iteration.run_iteration`, the loop body every
front-end shares.

Seeds: one ``numpy.random.SeedSequence`` per run is split into independent streams for the data
split, initialisation, shuffling and stochastic rounding, so a seed fixes everything and the
trace is byte-identical across runs.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.atomic import write_atomic
from accelsim.errors import WorkloadError, shown
from accelsim.method_names import canonical_method
from accelsim.progress import Progress
from accelsim.trace.io import TraceWriter
from accelsim.trace.records import Header
from accelsim.train.data import batch_count, batches, load_dataset
from accelsim.train.frontend_factory import build_frontend
from accelsim.train.gemm import observing
from accelsim.train.iteration import evaluate, run_iteration
from accelsim.train.memory import training_memory
from accelsim.train.methods import METHODS
from accelsim.train.tracer import Tracer
from accelsim.train.workload import Workload

TRACE_NAME = "trace.jsonl.gz"


def learning_rate(workload: Workload, iteration: int, total: int) -> float:
    """The schedule's learning rate at ``iteration`` of ``total``."""
    lr = workload.optimizer.lr
    if workload.optimizer.schedule == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * iteration / total))
    return lr


def train(workload: Workload, method_name: str, out_dir: str | Path, *,
          epochs: int | None = None, seed: int | None = None,
          show_progress: bool | None = None) -> dict[str, Any]:
    """Train, writing ``out_dir/trace.jsonl.gz`` and ``out_dir/metrics.json``; return metrics."""
    method_name = canonical_method(method_name)
    if method_name not in METHODS:
        raise WorkloadError(f"unknown method {shown(method_name)}; valid: {', '.join(METHODS)}")
    if epochs is not None:
        workload = replace(workload, epochs=epochs)
    if seed is not None:
        workload = replace(workload, seed=seed)
    out = Path(out_dir)
    started = time.perf_counter()
    data_seq, init_seq, shuffle_seq, round_seq = np.random.SeedSequence(workload.seed).spawn(4)
    data = load_dataset(workload.dataset.name, seed=int(data_seq.generate_state(1)[0]),
                        **workload.dataset.params)
    if workload.batch_size > len(data.x_train):
        raise WorkloadError(f"batch_size: {workload.batch_size} is larger than the training set "
                            f"of {data.name} ({len(data.x_train)} samples)")
    method_cls = METHODS[method_name]
    frontend = build_frontend(workload.model, data.x_train.shape[1:], data.num_classes,
                              np.random.default_rng(init_seq), variant=method_cls.variant)
    method = method_cls(frontend, workload, np.random.default_rng(round_seq))
    shuffle = np.random.default_rng(shuffle_seq)
    steps_per_epoch = batch_count(len(data.x_train), workload.batch_size)
    total = workload.epochs * steps_per_epoch
    header = Header(workload=workload.name, method=method_name, seed=workload.seed,
                    meta={"batch_size": workload.batch_size, "epochs": workload.epochs,
                          "steps_per_epoch": steps_per_epoch,
                          "model": workload.model.name or workload.model.torch,
                          "dataset": data.name})
    history: list[dict[str, Any]] = []
    iteration = 0
    with TraceWriter(out / TRACE_NAME, header) as writer:
        tracer = Tracer(writer, method)
        with observing(method.observer()), observing(tracer), \
                Progress(total, f"train {method_name}",
                         enabled=show_progress) as bar:
            for epoch in range(workload.epochs):
                losses = []
                for xb, yb in batches(data.x_train, data.y_train, workload.batch_size,
                                      rng=shuffle):
                    method.optimizer.lr = learning_rate(workload, iteration, total)
                    losses.append(run_iteration(frontend, method, tracer, xb, yb, iteration))
                    iteration += 1
                    bar.update(iteration)
                    bar.note(epoch=f"{epoch + 1}/{workload.epochs}", loss=losses[-1])
                with tracer.paused():
                    train_loss, train_acc = evaluate(frontend, method, data.x_train,
                                                     data.y_train)
                    test_loss, test_acc = evaluate(frontend, method, data.x_test, data.y_test)
                history.append({"epoch": epoch + 1, "batch_loss": float(np.mean(losses)),
                                "train_loss": train_loss, "train_accuracy": train_acc,
                                "test_loss": test_loss, "test_accuracy": test_acc})
    bits = getattr(method, "history", None) or [
        {"iteration": 0, "bits": {layer: method.bits(layer, "weights")
                                  for layer in method.layers}}]
    metrics = {
        "workload": workload.name, "method": method_name, "seed": workload.seed,
        "epochs": workload.epochs, "batch_size": workload.batch_size,
        "iterations": iteration,
        "dataset": {"name": data.name, "source": data.source, "train": len(data.x_train),
                    "test": len(data.x_test), "classes": data.num_classes},
        "history": history,
        "final": history[-1],
        "test_accuracy": history[-1]["test_accuracy"],
        "uniform_baseline_loss": data.uniform_loss,
        "prior_baseline_loss": data.prior_loss(),
        "bitwidth_history": bits,
        "gavg_history": getattr(method, "gavg_history", []),
        "memory": method.memory(),
        "training_memory": training_memory(
            frontend.describe((workload.batch_size, *data.x_train.shape[1:])), method).to_json(),
        "method_params": asdict(method.settings),
        "optimizer": asdict(workload.optimizer),
        "trace": {"file": TRACE_NAME, "gemms": tracer.gemms, "transfers": tracer.transfers,
                  "vectors": tracer.vectors, "records": writer.ops_written},
        "wall_time_s": time.perf_counter() - started,
    }
    write_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
