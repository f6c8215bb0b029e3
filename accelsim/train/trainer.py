"""The training loop: one workload, one method, a trace and a metrics file.

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
from accelsim.progress import Progress
from accelsim.trace.io import TraceWriter
from accelsim.trace.records import Header, Transfer
from accelsim.train.data import batch_count, batches, load_dataset
from accelsim.train.gemm import observing
from accelsim.train.layers import SoftmaxCrossEntropy
from accelsim.train.memory import training_memory
from accelsim.train.methods import METHODS, Method
from accelsim.train.models import build_model
from accelsim.train.tracer import Tracer
from accelsim.train.workload import Workload, canonical_method

TRACE_NAME = "trace.jsonl.gz"
# What layers keep for backward besides GEMM inputs (which the GEMMs' own traffic covers).
KEPT_OUTSIDE_GEMMS = ("mask", "normalised", "statistics", "sign_input", "argmax", "indices",
                      "softmax")


def kept_transfers(model, method: Method, input_shape: tuple[int, ...], batch: int,
                   iteration: int) -> tuple[list[Transfer], list[Transfer]]:
    """The DRAM writes (forward) and reads (backward) of what non-GEMM layers keep for the
    backward pass, at the widths the method keeps them (``accelsim.train.memory``)."""
    writes: list[Transfer] = []
    reads: list[Transfer] = []
    for kept in training_memory(model, method, input_shape, batch).kept:
        if kept.what not in KEPT_OUTSIDE_GEMMS:
            continue
        for direction, phase, out in (("write", "fwd", writes), ("read", "bwd_data", reads)):
            out.append(Transfer(iter=iteration, layer=kept.layer, tensor="activations",
                                dir=direction, elements=kept.elements, bits=kept.bits,
                                phase=phase))
    return writes, reads
EVAL_BATCH = 256


def evaluate(model, method: Method, loss_fn: SoftmaxCrossEntropy, x: np.ndarray,
             y: np.ndarray) -> tuple[float, float]:
    """Mean loss and accuracy of the deployed (quantised) model on ``x``."""
    model.eval()
    total_loss, correct = 0.0, 0
    with method.inference():
        for start in range(0, len(x), EVAL_BATCH):
            xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
            method.begin_batch()
            logits = model.forward(xb)
            total_loss += float(loss_fn.forward(logits, yb)) * len(xb)
            correct += int(np.sum(np.argmax(logits, axis=-1) == yb))
    model.train()
    return total_loss / len(x), correct / len(x)


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
    model = build_model(workload.model.name, workload.model.params, data.x_train.shape[1:],
                        data.num_classes, np.random.default_rng(init_seq),
                        variant=getattr(method_cls, "model_variant", None) or None)
    method = method_cls(model, workload, np.random.default_rng(round_seq))
    shuffle = np.random.default_rng(shuffle_seq)
    loss_fn = SoftmaxCrossEntropy()
    steps_per_epoch = batch_count(len(data.x_train), workload.batch_size)
    total = workload.epochs * steps_per_epoch
    header = Header(workload=workload.name, method=method_name, seed=workload.seed,
                    meta={"batch_size": workload.batch_size, "epochs": workload.epochs,
                          "steps_per_epoch": steps_per_epoch, "model": workload.model.name,
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
                    tracer.iteration = iteration
                    method.optimizer.lr = learning_rate(workload, iteration, total)
                    method.begin_batch()
                    method.before_forward()
                    logits = model.forward(xb)
                    stored, restored = kept_transfers(model, method, data.x_train.shape[1:],
                                                      len(xb), iteration)
                    for op in stored:
                        tracer.transfer(op)
                    losses.append(float(loss_fn.forward(logits, yb)))
                    if not math.isfinite(losses[-1]):
                        raise WorkloadError(f"training diverged at iteration {iteration} (loss "
                                            f"{losses[-1]}); lower optimizer.lr")
                    model.backward(loss_fn.backward())
                    for op in restored:
                        tracer.transfer(op)
                    method.after_backward()
                    method.update(iteration)
                    for op in method.update_transfers(iteration):
                        tracer.transfer(op)
                    iteration += 1
                    bar.update(iteration)
                    bar.note(epoch=f"{epoch + 1}/{workload.epochs}", loss=losses[-1])
                with tracer.paused():
                    train_loss, train_acc = evaluate(model, method, loss_fn, data.x_train,
                                                     data.y_train)
                    test_loss, test_acc = evaluate(model, method, loss_fn, data.x_test,
                                                   data.y_test)
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
        "training_memory": training_memory(model, method, data.x_train.shape[1:],
                                           workload.batch_size).to_json(),
        "method_params": asdict(method.params),
        "optimizer": asdict(workload.optimizer),
        "trace": {"file": TRACE_NAME, "gemms": tracer.gemms, "transfers": tracer.transfers,
                  "records": writer.ops_written},
        "wall_time_s": time.perf_counter() - started,
    }
    write_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
