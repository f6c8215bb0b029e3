"""Training step time: accelsim (numpy) against PyTorch on the CPU, same model, batch and method.

The model is the LeNet-5 of ``workloads/lenet5-digits.yaml`` (1x32x32 input, conv 5x5x6, ReLU,
maxpool 2, conv 5x5x16, ReLU, maxpool 2, fc 400-120-84-10), trained with SGD (the workload's lr,
momentum 0.9 and weight decay) on random inputs of the right shape. One *step* is a whole
training iteration: forward, softmax cross-entropy, backward, optimizer update. Each
configuration runs ``--warmup`` steps untimed, then ``--steps`` timed ones; the figure is the
median step time.

Methods compared:

* ``fp32``: accelsim's ``fp32`` method against plain PyTorch.
* ``qat``: accelsim's ``qat`` method (8-bit weights and biases, 8-bit activations at every GEMM
  input, 8-bit errors rounded stochastically at every GEMM input, fp32 master weights) against a
  PyTorch step doing the comparable fake quantisation: a per-tensor power-of-two fake-quant with
  a straight-through estimator on each conv/linear's weight, bias and input, and (unless
  ``--torch-no-error-quant``) an identity whose backward rounds the incoming error
  stochastically to 8 bits on each conv/linear output.

accelsim steps are driven by the loop body ``accelsim/train/trainer.py`` runs,
``accelsim.train.iteration.run_iteration`` (``begin_batch``, ``before_forward``, ``forward``,
loss, ``backward``, ``after_backward``, ``update``, under ``observing(method.observer())``);
the "+trace" column adds the trace writer (a ``trace.jsonl.gz`` in a temporary directory, kept
and update transfers included), as ``accelsim train`` runs. The ratio and the 2x target use the column without the tracer.

PyTorch is not an accelsim dependency. :func:`ensure_torch` builds a venv of its own, once
(``~/.cache/accelsim/torch-venv``, or ``$ACCELSIM_TORCH_VENV``), with ``torch==2.13.0`` (the
CPU wheel on this machine's disk; a plain ``torch`` would pull a CUDA build of several GB) and
numpy. Both sides run as worker subprocesses of this same file: the accelsim worker with the
current interpreter, the PyTorch worker with the venv's, each printing its timings as JSON.
Workers are started with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from their
environment (this machine may set them; they slow a current numpy) and with
``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set to the thread count under
test (PyTorch also gets ``torch.set_num_threads``). For each thread count, ``--rounds`` pairs of
workers run alternately, and the table shows the median over rounds of each worker's median, so
both sides see the same machine load.

Run: ``python benchmarks/train_vs_pytorch.py`` (about a minute, plus about 30 s for the
first venv build); ``--profile`` adds a cProfile of the accelsim step; ``--json FILE`` keeps
everything. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_venv import ensure_venv

#: What the PyTorch venv holds. 2.13.0 is the CPU wheel that lies on this machine's disk.
TORCH_REQUIREMENTS = ("torch==2.13.0", "numpy")
DEFAULT_VENV = Path("~/.cache/accelsim/torch-venv")
VENV_ENV_VAR = "ACCELSIM_TORCH_VENV"

TARGET_RATIO = 2.0
WORKLOAD = "lenet5-digits"
MODEL = "lenet5"
INPUT_SHAPE = (1, 32, 32)
CLASSES = 10
METHOD_NAMES = ("fp32", "qat")
#: Removed from every worker's environment: some machines set them (for old OpenBLAS builds)
#: and they pin a current numpy's OpenBLAS to a slower kernel.
CLEARED_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_RESULT_PREFIX = "ACCELSIM-BENCH-RESULT "
REPO = Path(__file__).resolve().parents[1]


class TorchBenchError(RuntimeError):
    """PyTorch could not be installed, or a worker failed."""


# --------------------------------------------------------------------------------------------
# The PyTorch venv (same scheme as scalesim_peer.py: marker file, lock, clean-up on failure)
# --------------------------------------------------------------------------------------------


def ensure_torch(venv_dir: str | os.PathLike[str] | None = None, *,
                 base_python: str | os.PathLike[str] | None = None) -> Path:
    """Return the python of a venv holding :data:`TORCH_REQUIREMENTS`, creating it on first use.

    The venv is ``venv_dir``, else ``$ACCELSIM_TORCH_VENV``, else ``~/.cache/accelsim/torch-venv``.
    Once built it is only checked for its python and a marker file listing the requirements. A
    failed install removes the half-built venv and raises :class:`TorchBenchError`.
    ``base_python`` is the interpreter the venv is made from (default: the current one); the
    torch wheel on this machine's disk is for Python 3.11.
    """
    return ensure_venv(TORCH_REQUIREMENTS, check_import="import torch, numpy",
                       env_var=VENV_ENV_VAR, default=str(DEFAULT_VENV), venv_dir=venv_dir,
                       base_python=base_python, error=TorchBenchError, announce=True)


# --------------------------------------------------------------------------------------------
# Shared by both workers
# --------------------------------------------------------------------------------------------


def _time_steps(step: Callable[[int], float], warmup: int, steps: int) -> dict[str, Any]:
    """Run ``step(i)`` warmup + steps times; per-step seconds of the timed ones, and a summary."""
    import gc
    import math

    gc.collect()
    times: list[float] = []
    loss = float("nan")
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = step(i)
        elapsed = time.perf_counter() - start
        if i >= warmup:
            times.append(elapsed)
    if not math.isfinite(loss):
        raise TorchBenchError(f"training diverged (loss {loss})")
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
            "mean_ms": statistics.fmean(times) * 1e3, "last_loss": loss,
            "times_ms": [round(t * 1e3, 4) for t in times]}


def _emit(result: dict[str, Any]) -> None:
    print(_RESULT_PREFIX + json.dumps(result), flush=True)


def _numpy_blas() -> dict[str, Any]:
    """Which BLAS numpy runs, with its kernel (threadpoolctl), else numpy's build config."""
    import numpy as np

    info: dict[str, Any] = {"numpy": np.__version__,
                            "cleared": {v: os.environ.get(v) for v in CLEARED_VARS}}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        try:
            cfg = np.show_config(mode="dicts")
            info["build_blas"] = cfg["Build Dependencies"]["blas"]
        except Exception as exc:  # numpy < 1.26 has no mode="dicts"
            info["build_blas"] = f"unknown ({exc})"
        return info
    info["threadpools"] = [
        {k: pool.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                  "threading_layer", "num_threads", "filepath")}
        for pool in threadpool_info()]
    return info


# --------------------------------------------------------------------------------------------
# accelsim worker (current interpreter)
# --------------------------------------------------------------------------------------------


def _accelsim_setup(method_name: str, batch: int, seed: int):
    """Front-end, method, one random batch: what ``trainer.train`` builds, minus the data set."""
    import numpy as np

    from accelsim.train.methods import METHODS
    from accelsim.train.numpy_frontend import NumpyFrontend
    from accelsim.train.workload import load_workload

    workload = load_workload(WORKLOAD, [f"batch_size={batch}"])
    init_seq, round_seq, data_seq = np.random.SeedSequence(seed).spawn(3)
    method_cls = METHODS[method_name]
    frontend = NumpyFrontend.build(MODEL, dict(workload.model.params), INPUT_SHAPE, CLASSES,
                                   np.random.default_rng(init_seq), variant=method_cls.variant)
    method = method_cls(frontend, workload, np.random.default_rng(round_seq))
    data = np.random.default_rng(data_seq)
    x = data.standard_normal((batch, *INPUT_SHAPE)).astype(np.float32)
    y = data.integers(0, CLASSES, size=batch)
    return workload, frontend, method, x, y


def _accelsim_step(frontend, method, x, y, tracer=None) -> Callable[[int], float]:
    """One training iteration: ``trainer.train``'s loop body, the same ``run_iteration``."""
    from accelsim.train.iteration import run_iteration

    def step(iteration: int) -> float:
        return run_iteration(frontend, method, tracer, x, y, iteration)

    return step


def _accelsim_run(method_name: str, batch: int, args: argparse.Namespace,
                  trace: bool) -> dict[str, Any]:
    import tempfile

    from accelsim.trace.io import TraceWriter
    from accelsim.trace.records import Header
    from accelsim.train.gemm import observing
    from accelsim.train.tracer import Tracer

    workload, frontend, method, x, y = _accelsim_setup(method_name, batch, args.seed)
    with contextlib.ExitStack() as stack:
        stack.enter_context(observing(method.observer()))
        tracer = None
        if trace:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            writer = stack.enter_context(
                TraceWriter(tmp / "trace.jsonl.gz", Header(workload=workload.name,
                                                           method=method_name, seed=args.seed)))
            tracer = Tracer(writer, method)
            stack.enter_context(observing(tracer))
        return _time_steps(_accelsim_step(frontend, method, x, y, tracer),
                           args.warmup, args.steps)


def _accelsim_worker(args: argparse.Namespace) -> None:
    results = []
    for batch in args.batches:
        for method_name in args.methods:
            row = {"batch": batch, "method": method_name,
                   **_accelsim_run(method_name, batch, args, trace=False)}
            if args.trace:
                row["trace"] = _accelsim_run(method_name, batch, args, trace=True)
            results.append(row)
    _emit({"side": "accelsim", "threads": args.threads, "python": sys.version.split()[0],
           "blas": _numpy_blas(), "results": results})


def _accelsim_profile(args: argparse.Namespace) -> None:
    """cProfile ``--steps`` accelsim steps of one configuration and print the top entries."""
    import cProfile
    import io
    import pstats

    from accelsim.train.gemm import observing

    (batch,), (method_name,) = args.batches, args.methods
    _, frontend, method, x, y = _accelsim_setup(method_name, batch, args.seed)
    with observing(method.observer()):
        step = _accelsim_step(frontend, method, x, y)
        for i in range(args.warmup):
            step(i)
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for i in range(args.steps):
            step(args.warmup + i)
        profiler.disable()
        wall = time.perf_counter() - start
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(args.profile_top)
    stats.sort_stats("cumulative").print_stats(args.profile_top)
    print(f"== cProfile: accelsim {method_name}, batch {batch}, {args.threads} thread(s), "
          f"{args.steps} steps, {wall / args.steps * 1e3:.2f} ms/step under the profiler ==")
    print(out.getvalue())


# --------------------------------------------------------------------------------------------
# PyTorch worker (torch venv)
# --------------------------------------------------------------------------------------------


def _torch_worker(args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):  # only settable before any parallel work
        torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)

    def pow2_scale(t: torch.Tensor, bits: int) -> torch.Tensor:
        """2**e, the smallest e with (2**(bits-1) - 1) * 2**e >= max|t| (as accelsim's
        ``choose_exponent``, up to float rounding of log2)."""
        top = 2 ** (bits - 1) - 1
        max_abs = t.detach().abs().amax().clamp_min(1e-30)
        return torch.exp2(torch.ceil(torch.log2(max_abs / top)))

    class FakeQuant(torch.autograd.Function):
        """Round to nearest on a per-tensor power-of-two grid; straight-through backward."""

        @staticmethod
        def forward(ctx, t, bits):
            scale = pow2_scale(t, bits)
            top = 2 ** (bits - 1) - 1
            return torch.round(t / scale).clamp_(-top - 1, top).mul_(scale)

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    class ErrorQuant(torch.autograd.Function):
        """Identity forward; backward rounds the error stochastically onto a power-of-two grid,
        as accelsim does to the errors entering the bwd_data and bwd_weight GEMMs."""

        @staticmethod
        def forward(ctx, t, bits):
            ctx.bits = bits
            return t.view_as(t)

        @staticmethod
        def backward(ctx, grad):
            bits = ctx.bits
            top = 2 ** (bits - 1) - 1
            scale = pow2_scale(grad, bits)
            scaled = grad / scale
            codes = torch.floor(scaled)
            codes += torch.rand_like(scaled) < (scaled - codes)
            return codes.clamp_(-top - 1, top).mul_(scale), None

    qat_bits = {"weight": args.weight_bits, "activation": args.activation_bits,
                "error": 32 if args.torch_no_error_quant else args.error_bits}

    def fq(t, bits):
        return t if t is None or bits >= 32 else FakeQuant.apply(t, bits)

    class QConv2d(nn.Conv2d):
        def forward(self, x):
            b = qat_bits
            y = F.conv2d(fq(x, b["activation"]), fq(self.weight, b["weight"]),
                         fq(self.bias, b["weight"]))
            return y if b["error"] >= 32 else ErrorQuant.apply(y, b["error"])

    class QLinear(nn.Linear):
        def forward(self, x):
            b = qat_bits
            y = F.linear(fq(x, b["activation"]), fq(self.weight, b["weight"]),
                         fq(self.bias, b["weight"]))
            return y if b["error"] >= 32 else ErrorQuant.apply(y, b["error"])

    def lenet5(quantised: bool) -> nn.Module:
        conv, linear = (QConv2d, QLinear) if quantised else (nn.Conv2d, nn.Linear)
        return nn.Sequential(
            conv(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            conv(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), linear(400, 120), nn.ReLU(), linear(120, 84), nn.ReLU(),
            linear(84, CLASSES))

    def run(method_name: str, batch: int) -> dict[str, Any]:
        model = lenet5(method_name == "qat")
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                              weight_decay=args.weight_decay)
        gen = torch.Generator().manual_seed(args.seed)
        x = torch.randn((batch, *INPUT_SHAPE), generator=gen)
        y = torch.randint(0, CLASSES, (batch,), generator=gen)

        def step(iteration: int) -> float:
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()  # accelsim's trainer takes float(loss) every step too

        return _time_steps(step, args.warmup, args.steps)

    results = [{"batch": batch, "method": m, **run(m, batch)}
               for batch in args.batches for m in args.methods]
    # e.g. "Intel(R) oneAPI Math Kernel Library Version 2024.2 ...", "Intel(R) MKL-DNN v3.12.0"
    blas = [line.strip().split(" (Git")[0].split("-Product")[0]
            for line in torch.__config__.parallel_info().splitlines()
            if line.startswith("Intel(R)") or line.startswith("ATen parallel backend")]
    _emit({"side": "torch", "threads": args.threads, "torch": torch.__version__,
           "torch_threads": torch.get_num_threads(), "python": sys.version.split()[0],
           "cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "mkldnn": torch.backends.mkldnn.is_available(), "torch_config": blas,
           "error_quant": qat_bits["error"] < 32, "blas": _numpy_blas(), "results": results})


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def _worker_env(threads: int, keep_openblas_env: bool, pythonpath: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not keep_openblas_env:
        for var in CLEARED_VARS:
            env.pop(var, None)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _worker_argv(args: argparse.Namespace, side: str, threads: int, opt: dict[str, float]
                 ) -> list[str]:
    argv = [str(Path(__file__).resolve()), "--worker", side, "--threads", str(threads),
            "--warmup", str(args.warmup), "--steps", str(args.steps), "--seed", str(args.seed),
            "--batches", *map(str, args.batches), "--methods", *args.methods,
            "--lr", repr(opt["lr"]), "--momentum", repr(opt["momentum"]),
            "--weight-decay", repr(opt["weight_decay"])]
    for key in ("weight_bits", "activation_bits", "error_bits"):
        argv += [f"--{key.replace('_', '-')}", str(opt[key])]
    if args.no_trace:
        argv.append("--no-trace")
    if args.torch_no_error_quant:
        argv.append("--torch-no-error-quant")
    return argv


def _run_worker(python: str | Path, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([str(python), *argv], capture_output=True, text=True, env=env,
                          cwd=REPO)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise TorchBenchError(f"worker {' '.join([str(python), *argv])} failed "
                              f"(exit {proc.returncode}):\n{tail}")
    return json.loads(lines[-1][len(_RESULT_PREFIX):])


def _describe_numpy_blas(blas: dict[str, Any]) -> str:
    pools = [p for p in blas.get("threadpools", []) if p.get("user_api") == "blas"]
    if not pools:
        return f"numpy {blas['numpy']}: {blas.get('build_blas', 'no BLAS found by threadpoolctl')}"
    return "; ".join(f"numpy {blas['numpy']}: {p['internal_api']} {p['version']}, kernel "
                     f"{p['architecture']}, {p['num_threads']} thread(s)" for p in pools)


def _workload_settings() -> dict[str, float]:
    from accelsim.train.workload import load_workload

    w = load_workload(WORKLOAD)
    q = w.methods.qat
    return {"lr": w.optimizer.lr, "momentum": w.optimizer.momentum,
            "weight_decay": w.optimizer.weight_decay, "weight_bits": q.weight_bits,
            "activation_bits": q.activation_bits, "error_bits": q.error_bits}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2],
                        help="thread counts to test, both sides (default: 1 2)")
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 64])
    parser.add_argument("--methods", nargs="+", choices=METHOD_NAMES, default=list(METHOD_NAMES))
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps (default 10)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps (default 50)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating accelsim/PyTorch worker pairs per thread count "
                        "(default 3); the table shows the median over rounds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-trace", action="store_true",
                        help="skip the accelsim runs with the trace writer")
    parser.add_argument("--torch-no-error-quant", action="store_true",
                        help="PyTorch QAT without stochastic error quantisation")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help=f"leave {' and '.join(CLEARED_VARS)} set in the workers")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile the accelsim step (batch 32, 1 thread, fp32 and qat)")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--venv", help=f"torch venv (default: ${VENV_ENV_VAR} or {DEFAULT_VENV})")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    # Worker mode (internal): run one side in this process and print its JSON result.
    parser.add_argument("--worker", choices=("accelsim", "torch", "profile"),
                        help=argparse.SUPPRESS)
    for name, kind in (("lr", float), ("momentum", float), ("weight-decay", float),
                       ("weight-bits", int), ("activation-bits", int), ("error-bits", int)):
        parser.add_argument(f"--{name}", type=kind, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.trace = not args.no_trace

    if args.worker is not None:
        (args.threads,) = args.threads
    if args.worker == "accelsim":
        _accelsim_worker(args)
        return 0
    if args.worker == "torch":
        _torch_worker(args)
        return 0
    if args.worker == "profile":
        _accelsim_profile(args)
        return 0

    torch_python = ensure_torch(args.venv)
    opt = _workload_settings()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for threads in args.threads:
        for rnd in range(args.rounds):
            for side, python in (("accelsim", sys.executable), ("torch", torch_python)):
                env = _worker_env(threads, args.keep_openblas_env, pythonpath=side == "accelsim")
                print(f"[run] {side:8s} threads={threads} round {rnd + 1}/{args.rounds}",
                      file=sys.stderr, flush=True)
                runs.setdefault((side, threads), []).append(
                    _run_worker(python, _worker_argv(args, side, threads, opt), env))

    def median_of(side: str, threads: int, batch: int, method: str, key: str | None = None,
                  field: str = "median_ms") -> float:
        values = []
        for run in runs[(side, threads)]:
            (row,) = [r for r in run["results"] if r["batch"] == batch and r["method"] == method]
            values.append((row[key] if key else row)[field])
        return statistics.median(values)

    first_a, first_t = runs[("accelsim", args.threads[0])][0], runs[("torch", args.threads[0])][0]
    print(f"\nLeNet-5 ({WORKLOAD}, 1x32x32 input) training step, SGD lr={opt['lr']:g} "
          f"momentum={opt['momentum']:g} wd={opt['weight_decay']:g}; random inputs; median of "
          f"{args.steps} steps after {args.warmup} warm-up, median over {args.rounds} "
          "alternating rounds")
    if load_before is not None:
        print(f"machine: {os.cpu_count()} CPUs; load average (1 min) {load_before[0]:.2f} before, "
              f"{os.getloadavg()[0]:.2f} after: other work on the machine inflates both sides")
    print(f"accelsim: Python {first_a['python']}")
    for threads in args.threads:
        blas = runs[("accelsim", threads)][0]["blas"]
        print(f"  at {threads} thread(s): {_describe_numpy_blas(blas)}")
    print(f"  worker env: {', '.join(CLEARED_VARS)} "
          f"{'kept' if args.keep_openblas_env else 'unset'} "
          f"(was {', '.join(f'{v}={os.environ.get(v)}' for v in CLEARED_VARS)})")
    print(f"pytorch:  torch {first_t['torch']} (CPU capability {first_t['cpu_capability']}, "
          f"mkldnn {first_t['mkldnn']}); {'; '.join(first_t['torch_config'])}")
    print(f"  QAT side: per-tensor pow2 fake-quant ({opt['weight_bits']}-bit weights+biases, "
          f"{opt['activation_bits']}-bit conv/linear inputs, STE)"
          + (f", {opt['error_bits']}-bit stochastic error quantisation" if first_t["error_quant"]
             else ", no error quantisation"))
    print()
    header = (f"{'model':<7} {'batch':>5} {'method':<6} {'thr':>3} {'accelsim ms':>11} "
              f"{'+trace ms':>9} {'pytorch ms':>10} {'ratio':>6}  within 2x  "
              f"{'best-step ratio':>15}")
    print(header)
    print("-" * len(header))
    rows = []
    for threads in args.threads:
        for batch in args.batches:
            for method in args.methods:
                a = median_of("accelsim", threads, batch, method)
                at = median_of("accelsim", threads, batch, method, "trace") if args.trace else None
                t = median_of("torch", threads, batch, method)
                ratio = a / t
                best = (median_of("accelsim", threads, batch, method, field="min_ms")
                        / median_of("torch", threads, batch, method, field="min_ms"))
                ok = ratio <= TARGET_RATIO
                rows.append({"model": MODEL, "batch": batch, "method": method,
                             "threads": threads, "accelsim_ms": a, "accelsim_trace_ms": at,
                             "pytorch_ms": t, "ratio": ratio, "within_target": ok,
                             "best_step_ratio": best})
                print(f"{MODEL:<7} {batch:>5} {method:<6} {threads:>3} {a:>11.2f} "
                      f"{(f'{at:.2f}' if at is not None else '-'):>9} {t:>10.2f} "
                      f"{ratio:>6.2f}  {'yes' if ok else 'NO':<9}  {best:>15.2f}")
    met = sum(r["within_target"] for r in rows)
    print(f"\n{met}/{len(rows)} configurations within {TARGET_RATIO:g}x of PyTorch "
          "(ratio = accelsim / pytorch, median step times; best-step ratio uses each side's "
          f"fastest step, less sensitive to other load); {time.perf_counter() - started:.0f} s "
          "in all.")

    if args.profile:
        for method in args.methods:
            prof_args = [str(Path(__file__).resolve()), "--worker", "profile", "--threads", "1",
                         "--batches", str(args.batches[0]), "--methods", method,
                         "--warmup", str(args.warmup), "--steps", str(args.steps),
                         "--seed", str(args.seed), "--profile-top", str(args.profile_top)]
            proc = subprocess.run([sys.executable, *prof_args], capture_output=True, text=True,
                                  env=_worker_env(1, args.keep_openblas_env, pythonpath=True),
                                  cwd=REPO)
            if proc.returncode != 0:
                raise TorchBenchError(f"profile worker failed:\n{proc.stderr[-3000:]}")
            print("\n" + proc.stdout.rstrip())

    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "settings": opt,
                                         "runs": {f"{s}-{t}": v for (s, t), v in runs.items()}},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
