"""Shape-only traces: the trace a training run would write, from the network's shapes alone.

What it owns: :func:`shape_trace` (``accelsim trace``), split into :func:`prepare` (every check,
the network built, nothing written: a study prepares all its methods first) and :func:`write`
(the trace and ``metrics.json``, both or neither); :func:`iteration_records`, one iteration's
records; the rendering of iterations as reusable text. The widths of a recorded run are
``accelsim.train.recorded_widths``'s.

Why it works: a trace is a function of the network's shapes and of the widths the method stores
each tensor at, never of the values (the GEMMs' sizes come from ``LayerInfo.gemms``, the vector
work from ``plan_iteration``, the transfers from the memory model and ``Method.update_ops``). So
a network too big to train here (ResNet-18 at 224x224) still gets the exact trace training
would write, in seconds, from any front-end's ``describe``. What it cannot know is what the data
decides: the loss and accuracy, and widths a method chooses from the data (RCT's), which come
from the method's configuration or from a recorded run.

How the order is reproduced: :func:`iteration_records` replays
:func:`accelsim.train.iteration.run_iteration` step for step with the real
:class:`~accelsim.train.tracer.Tracer`: it hands the tracer the same plan, then, instead of
running the layers, it shows it each GEMM a layer describes, in the order the layers run them
(forward layer by layer; backward from the last layer down to the first with parameters, each
layer's GEMMs in its own order, as autograd runs them too), with the operand widths the method's
quantiser would report; the tracer releases the planned vector records between them as it does
in training. The kept transfers, the update's transfers and vector work and the post-update work
follow as in ``run_iteration``, and the header is the trainer's: the file is training's, byte for
byte. Iterations that share a batch size and a width state share their records: each is rendered
once as text and written again with its iteration number (the records are otherwise
identical), so writing an iteration costs a string join; the front-end is described once per
batch shape.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np

from accelsim.atomic import write_atomic
from accelsim.errors import UsageError, WorkloadError, shown
from accelsim.method_names import canonical_method
from accelsim.progress import Progress
from accelsim.trace.io import TraceWriter, fold_repeats
from accelsim.trace.records import (
    OPERAND_TENSORS,
    Gemm,
    Header,
    Op,
    Vector,
    op_to_json,
)
from accelsim.train.data import batch_count
from accelsim.train.frontend_factory import build_frontend
from accelsim.train.gemm import FP_BITS, GemmOp
from accelsim.train.interfaces import Frontend, GemmShape, LayerInfo
from accelsim.train.iteration import kept_transfers
from accelsim.train.memory import training_memory
from accelsim.train.methods import METHODS, Method
from accelsim.train.methods.rct import Rct
from accelsim.train.recorded_widths import (
    METRICS_NAME,
    RecordedWidths,
    WidthPlan,
    bitwidth_history,
    hold_widths,
    width_plan,
)
from accelsim.train.tracer import Tracer
from accelsim.train.vectors import plan_iteration
from accelsim.train.widths import first_trained
from accelsim.train.workload import Workload

TRACE_NAME = "trace.jsonl.gz"  # as accelsim.train.trainer writes it
MAX_ITERATIONS = 100_000  # a trace's iterations; each is hundreds of records at real scale
MAX_TEMPLATES = 8  # rendered iterations kept for reuse (batch sizes x recent width states)
_ITER = "\x00"  # stands for the iteration number in a rendered record (JSON escapes a real NUL)


# ---- the data set's shape ------------------------------------------------------------------

class Shape(NamedTuple):
    """What tracing needs of a data set: one input's shape, the classes, the training samples
    (which set the batches of an epoch, the last one smaller)."""

    input_shape: tuple[int, ...]
    classes: int
    train_samples: int


def dataset_shape_of(workload: Workload) -> Shape:
    """The workload's data set by shape: ``accelsim.train.data.dataset_shape`` (no data
    loaded) when the data set has a shape reader; else the same three figures read off the
    loaded data set (a data set registered without a reader still traces, only slower)."""
    from accelsim.train import data

    name, params = workload.dataset.name, dict(workload.dataset.params)
    if name in data.base.SHAPES:
        found = data.dataset_shape(name, params)
        return Shape(tuple(found.input_shape), int(found.classes), int(found.train_samples))
    loaded = data.load_dataset(name, seed=workload.seed, **params)
    return Shape(loaded.input_shape, loaded.num_classes, len(loaded.x_train))


def steps_per_epoch(workload: Workload, shape: Shape) -> int:
    """Batches in an epoch, as the trainer cuts them (the last one smaller); a batch larger
    than the training set is the trainer's error."""
    if workload.batch_size > shape.train_samples:
        raise WorkloadError(f"batch_size: {workload.batch_size} is larger than the training set "
                            f"of {workload.dataset.name} ({shape.train_samples} samples)")
    return batch_count(shape.train_samples, workload.batch_size)


def check_iterations(iterations: Any, flag: str = "--iterations") -> int:
    """A number of iterations in [1, MAX_ITERATIONS] (a bigger trace takes hours to replay)."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) \
            or not 1 <= iterations <= MAX_ITERATIONS:
        raise UsageError(f"{flag} must be from 1 to {MAX_ITERATIONS:,}, got {shown(iterations)}")
    return iterations


# ---- one iteration's records -------------------------------------------------------------------

class _Records:
    """What the tracer writes to, kept in order instead of written."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def add(self, op: Op) -> None:
        self.ops.append(op)


def gemm_op(method: Method, layer: str, shape: GemmShape) -> GemmOp:
    """The GEMM as the tracer sees it once the method's quantiser has run
    (``OperandQuantiser.operands``): floating-point methods leave both operands at 32 bits,
    the others report each operand's stored width and compute in integers."""
    a_bits = b_bits = FP_BITS
    dtype = "fp"
    if method.dtype != "fp":
        a_tensor, b_tensor, _ = OPERAND_TENSORS[shape.phase]
        a_bits, b_bits = method.bits(layer, a_tensor), method.bits(layer, b_tensor)
        formats = (method.tensor_dtype(layer, a_tensor), method.tensor_dtype(layer, b_tensor))
        dtype = "fp" if "fp" in formats else "int"  # an operand in a float format (bnn-lowmem)
    return GemmOp(layer, shape.phase, m=shape.m, n=shape.n, k=shape.k, a_bits=a_bits,
                  b_bits=b_bits, dtype=dtype, a_elements=shape.a_elements,
                  c_elements=shape.c_elements)


def forward_gemms(layers: Sequence[LayerInfo], method: Method) -> list[GemmOp]:
    """The forward pass's GEMMs in the order they run: layer by layer."""
    return [gemm_op(method, info.name, g) for info in layers for g in info.gemms
            if g.phase == "fwd"]


def backward_gemms(layers: Sequence[LayerInfo], method: Method) -> list[GemmOp]:
    """The backward pass's GEMMs in the order they run: from the last layer down to the first
    with parameters (layers before it run no backward), each layer's in its own order."""
    return [gemm_op(method, info.name, g) for info in reversed(layers[first_trained(layers):])
            for g in info.gemms if g.phase != "fwd"]


def iteration_records(frontend: Frontend, method: Method, batch_shape: tuple[int, ...],
                      iteration: int, layers: Sequence[LayerInfo] | None = None) -> list[Op]:
    """Every record ``run_iteration`` traces for a batch of ``batch_shape`` at ``iteration``,
    in its order, unfolded, at the widths ``method`` holds now (and, for the post-update work,
    the widths its update leaves)."""
    layers = frontend.describe(batch_shape) if layers is None else layers
    records = _Records()
    tracer = Tracer(cast(TraceWriter, records), method)
    tracer.iteration = iteration
    plan = plan_iteration(layers, method, iteration)
    stored, restored = kept_transfers(frontend, method, batch_shape, iteration)
    tracer.expect(plan.forward)
    for op in forward_gemms(layers, method):
        tracer.record(op)
    tracer.flush()
    for transfer in stored:
        tracer.transfer(transfer)
    tracer.expect(plan.backward)
    for op in backward_gemms(layers, method):
        tracer.record(op)
    tracer.flush()
    for transfer in restored:
        tracer.transfer(transfer)
    for step in [*method.update_ops(iteration), *method.post_update_work(iteration)]:
        tracer.emit(step)
    return records.ops


# ---- writing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Template:
    """One iteration's folded records as trace text, split where the iteration number goes."""

    parts: tuple[str, ...]
    records: int  # lines, after folding
    gemms: int
    transfers: int
    vectors: int

    def text(self, iteration: int) -> str:
        return str(iteration).join(self.parts)


def _line(op: Op) -> str:
    """The record's line as ``TraceWriter`` writes it."""
    return json.dumps(op_to_json(op), separators=(",", ":")) + "\n"


def _template(ops: Sequence[Op]) -> _Template:
    """Render ``ops`` (one iteration's, unfolded) once; checks that the iteration number is
    where the template puts it, so the text written equals ``TraceWriter``'s byte for byte."""
    lines = []
    for op in fold_repeats(ops):
        line = _line(op)
        head = f'{{"op":{json.dumps(op.op)},"iter":{op.iter},'
        if not line.startswith(head):
            raise RuntimeError(f"a {op.op} record no longer starts with op and iter: {line!r}")
        lines.append(f'{{"op":{json.dumps(op.op)},"iter":{_ITER},' + line[len(head):])
    gemms = sum(isinstance(op, Gemm) for op in ops)
    vectors = sum(isinstance(op, Vector) for op in ops)
    return _Template(tuple("".join(lines).split(_ITER)), len(lines), gemms,
                     len(ops) - gemms - vectors, vectors)


class _TemplateWriter(TraceWriter):
    """A ``TraceWriter`` that also takes records already rendered (a whole iteration's)."""

    def add_text(self, text: str, records: int) -> None:
        self._flush()
        self._out.write(text)
        self.ops_written += records


# ---- the command -------------------------------------------------------------------------------

class _DescribedOnce:
    """A front-end whose ``describe`` runs once per input shape: the vector plan, the kept
    transfers and the memory model each ask for it, and a torch front-end may run its module to
    answer. Everything else is the front-end's own."""

    def __init__(self, frontend: Frontend) -> None:
        self._frontend = frontend
        self._layers: dict[tuple[int, ...], tuple[LayerInfo, ...]] = {}

    def describe(self, in_shape: tuple[int, ...]) -> tuple[LayerInfo, ...]:
        key = tuple(in_shape)
        if key not in self._layers:
            self._layers[key] = tuple(self._frontend.describe(key))
        return self._layers[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._frontend, name)


@dataclass
class ShapeJob:
    """A shape-only trace ready to write: everything checked, the network built (so a study
    checks every method's before it writes any)."""

    workload: Workload
    method: Method
    shapes: Frontend  # the front-end, described once per batch shape
    plan: WidthPlan | None
    shape: Shape
    iterations: int
    steps: int
    widths_from: str | None

    def header(self) -> Header:
        """The header training writes (``trainer.train``): nothing in the trace says how it
        was made, so the file is the training run's byte for byte; metrics.json says
        ``shape_only``."""
        wl = self.workload
        return Header(workload=wl.name, method=self.method.name, seed=wl.seed,
                      meta={"batch_size": wl.batch_size,
                            "epochs": math.ceil(self.iterations / self.steps),
                            "steps_per_epoch": self.steps,
                            "model": wl.model.name or wl.model.torch,
                            "dataset": wl.dataset.name})


def prepare(workload: Workload, method_name: str, *, iterations: int,
            widths: RecordedWidths | None = None) -> ShapeJob:
    """Check a shape-only trace's inputs and build its network; write nothing. ``widths``
    (RCT only) replaces the configured widths from each recorded iteration on."""
    method_name = canonical_method(method_name)
    if method_name not in METHODS:
        raise WorkloadError(f"unknown method {shown(method_name)}; valid: {', '.join(METHODS)}")
    iterations = check_iterations(iterations)
    shape = dataset_shape_of(workload)
    steps = steps_per_epoch(workload, shape)
    method_cls = METHODS[method_name]
    if widths is not None and method_cls is not Rct:
        width_plan(None, widths, iterations)  # the error, before building anything
    frontend = build_frontend(workload.model, shape.input_shape, shape.classes,
                              np.random.default_rng(workload.seed), variant=method_cls.variant)
    method = method_cls(frontend, workload, np.random.default_rng(workload.seed))
    return ShapeJob(workload, method, cast(Frontend, _DescribedOnce(frontend)),
                    width_plan(method, widths, iterations), shape, iterations, steps,
                    widths.source if widths is not None else None)


def shape_trace(workload: Workload, method_name: str, out_dir: str | Path, *, iterations: int,
                widths: RecordedWidths | None = None, show_progress: bool | None = None
                ) -> dict[str, Any]:
    """Write the trace of ``iterations`` training iterations of ``workload`` with
    ``method_name`` to ``out_dir/trace.jsonl.gz``, and ``out_dir/metrics.json``, from shapes
    alone (no data, no training); return the metrics. Every check runs before anything is
    written (:func:`prepare`); a failure while writing leaves neither file."""
    started = time.perf_counter()
    job = prepare(workload, method_name, iterations=iterations, widths=widths)
    return write(job, out_dir, show_progress=show_progress, started=started)


def write(job: ShapeJob, out_dir: str | Path, *, show_progress: bool | None = None,
          started: float | None = None) -> dict[str, Any]:
    """Write a prepared trace and its metrics into ``out_dir``; return the metrics."""
    started = time.perf_counter() if started is None else started
    out = Path(out_dir)
    made = [d for d in (out, *out.parents) if not d.exists()]  # removed again on a failure
    wl, method, plan, shape = job.workload, job.method, job.plan, job.shape
    header = job.header()
    try:
        counts, rendered = _write_trace(out / TRACE_NAME, header, job.shapes, method, plan,
                                        shape, job.iterations, show_progress)
        if plan is not None:  # memory at the widths training ends with, as training reports
            hold_widths(method, plan.at(job.iterations))
        metrics = {
            "workload": wl.name, "method": method.name, "seed": wl.seed,
            "shape_only": True,
            "epochs": header.meta["epochs"], "batch_size": wl.batch_size,
            "iterations": job.iterations, "steps_per_epoch": job.steps,
            "dataset": {"name": wl.dataset.name, "train": shape.train_samples,
                        "classes": shape.classes, "input_shape": list(shape.input_shape)},
            "bitwidth_history": bitwidth_history(method, plan),
            "widths_from": job.widths_from,
            "memory": method.memory(),
            "training_memory": training_memory(
                job.shapes.describe((wl.batch_size, *shape.input_shape)), method).to_json(),
            "method_params": asdict(method.settings),
            "optimizer": asdict(wl.optimizer),
            "trace": {"file": TRACE_NAME, **counts},
            "distinct_iterations": rendered,
            "wall_time_s": time.perf_counter() - started,
        }
        write_atomic(out / METRICS_NAME, json.dumps(metrics, indent=2) + "\n")
    except BaseException:  # no half-written run: neither file, nor the folders made for them
        (out / TRACE_NAME).unlink(missing_ok=True)
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return metrics


def _write_trace(path: Path, header: Header, shapes: Frontend, method: Method,
                 plan: WidthPlan | None, shape: Shape, iterations: int,
                 show_progress: bool | None) -> tuple[dict[str, int], int]:
    """Write the trace iteration by iteration, each from its rendered template (rendering one
    when the batch size or the width state is new); return the record counts (as the tracer
    counts them) and how many iterations were rendered."""
    batch, steps = header.meta["batch_size"], header.meta["steps_per_epoch"]
    last = shape.train_samples - (steps - 1) * batch  # the epoch's last, smaller batch
    templates: dict[tuple, _Template] = {}  # the latest few: widths rarely come back
    rendered = 0
    counts = {"gemms": 0, "transfers": 0, "vectors": 0}
    writer = _TemplateWriter(path, header)
    with writer, Progress(iterations, f"trace {header.method}", enabled=show_progress) as bar:
        for iteration in range(iterations):
            size = last if iteration % steps == steps - 1 else batch
            key: tuple = (size,)
            if plan is not None:
                bits, narrowed = plan.at(iteration), plan.narrowed_after(iteration)
                key = (size, tuple(bits.values()), narrowed)
            template = templates.get(key)
            if template is None:
                if plan is not None:
                    hold_widths(method, bits, narrowed)
                template = templates[key] = _template(iteration_records(
                    shapes, method, (size, *shape.input_shape), iteration))
                rendered += 1
                if len(templates) > MAX_TEMPLATES:
                    del templates[next(iter(templates))]
            writer.add_text(template.text(iteration), template.records)
            counts["gemms"] += template.gemms
            counts["transfers"] += template.transfers
            counts["vectors"] += template.vectors
            bar.update(iteration + 1)
    return {**counts, "records": writer.ops_written}, rendered


def default_iterations(workload: Workload, epochs: int | None = None) -> int:
    """The iterations ``accelsim train`` would run: epochs times batches per epoch."""
    steps = steps_per_epoch(workload, dataset_shape_of(workload))
    return (workload.epochs if epochs is None else epochs) * steps

