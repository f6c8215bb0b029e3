"""The study: train each method, replay its trace on a machine, compare, and draw the figures.

``run_study`` is what ``accelsim run`` does; ``compare_runs`` is ``accelsim compare``: the same
table, files and figures from run directories that already hold ``metrics.json`` and
``report.json``. With ``shape_only`` the study trains nothing: each method's trace is written
from the network's shapes (``accelsim.train.shape_trace``), so it prices networks too big to
train here, and measures no accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accelsim.atomic import write_atomic
from accelsim.errors import UsageError, clip
from accelsim.study.compare import compare, comparison_csv

if TYPE_CHECKING:
    from accelsim.train.recorded_widths import RecordedWidths
    from accelsim.train.workload import Workload

DEFAULT_METHODS = ("fp32", "qat", "rct")


def parse_methods(text: str) -> list[str]:
    """``fp32,qat,rct`` -> a checked list of method names."""
    from accelsim.method_names import METHODS, canonical_method

    names = [canonical_method(m) for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if not names or unknown:
        raise UsageError(f"--methods {clip(text)!r}: unknown method(s) {clip(', '.join(unknown)) or '(none)'}"
                         f"; valid: {', '.join(METHODS)}")
    if len(set(names)) != len(names):
        raise UsageError(f"--methods {clip(text)!r}: a method is named twice")
    return names


def simulate_run(run_dir: Path, hw, progress: Callable[[int], None] | None = None) -> dict:
    """Replay ``run_dir/trace.jsonl.gz`` on ``hw`` and write the report beside it."""
    from accelsim.replay import replay
    from accelsim.report import write_report
    from accelsim.trace.io import TraceReader

    with TraceReader(run_dir / "trace.jsonl.gz") as reader:
        return write_report(replay(hw, reader, reader.header, progress=progress), run_dir)


def compare_runs(run_dirs: list[str | Path], out: str | Path, *, figures: bool = True,
                 target_accuracy: float | None = None) -> dict[str, Any]:
    """Write comparison.json, comparison.csv and (optionally) the figures into ``out``
    (``target_accuracy``, a fraction: for the energy-to-accuracy figures)."""
    doc = compare(run_dirs, target_accuracy)
    out = Path(out)
    write_atomic(out / "comparison.json", json.dumps(doc, indent=2) + "\n")
    write_atomic(out / "comparison.csv", comparison_csv(doc))
    if figures:
        from accelsim.study.figures import all_figures

        doc["figures"] = [str(p) for p in all_figures(doc, out / "figures")]
    return doc


def run_study(workload: str, hardware: str, methods: list[str], out: str | Path, *,
              epochs: int | None = None, seed: int | None = None,
              workload_overrides: list[str] | None = None,
              hardware_overrides: list[str] | None = None, figures: bool = True,
              shape_only: bool = False, iterations: int | None = None,
              widths: RecordedWidths | None = None,
              target_accuracy: float | None = None,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or, ``shape_only``, trace from shapes: ``iterations``, by default the ones
    training would run; ``widths`` for rct) each method, replay it on the machine, compare."""
    from accelsim.hardware import load_hardware
    from accelsim.progress import Progress
    from accelsim.train.trainer import train
    from accelsim.train.workload import load_workload

    wl = load_workload(workload, workload_overrides)
    hw = load_hardware(hardware, hardware_overrides)  # fail fast, before any training
    if shape_only:
        trace = _shape_tracer(wl, methods, epochs=epochs, seed=seed, iterations=iterations,
                              widths=widths, log=log)
    elif iterations is not None or widths is not None:
        raise UsageError("--iterations and --widths-from need --shape-only (training runs "
                         "for --epochs and chooses its own widths)")
    out = Path(out)
    for method in methods:
        run_dir = out / method
        if shape_only:
            metrics = trace(method, run_dir)
        else:
            metrics = train(wl, method, run_dir, epochs=epochs, seed=seed)
            log(f"{method}: trained {metrics['iterations']} iterations in "
                f"{metrics['wall_time_s']:.1f} s, test accuracy {metrics['test_accuracy']:.2%}")
        total = metrics["trace"]["gemms"] + metrics["trace"]["transfers"]
        with Progress(total, f"simulate {method}") as bar:
            report = simulate_run(run_dir, hw, bar.update)
        log(f"{method}: simulated on {hw.name}: {report['energy_pj']['total'] / 1e6:,.1f} uJ, "
            f"{report['latency_s'] * 1e3:,.1f} ms")
    return compare_runs([out / m for m in methods], out, figures=figures,
                        target_accuracy=target_accuracy)


def _shape_tracer(wl: Workload, methods: list[str], *, epochs: int | None, seed: int | None,
                  iterations: int | None, widths: RecordedWidths | None,
                  log: Callable[[str], None]) -> Callable[[str, Path], dict[str, Any]]:
    """Check a shape-only study's options before anything runs; return what traces a method
    into its run directory."""
    from accelsim.train.shape_trace import (
        MAX_ITERATIONS,
        check_iterations,
        default_iterations,
        prepare,
        write,
    )

    if epochs is not None and iterations is not None:
        raise UsageError("give --epochs or --iterations, not both (a shape-only study runs "
                         "--iterations, or the iterations of --epochs epochs)")
    if widths is not None and "rct" not in methods:
        raise UsageError("--widths-from sets rct's widths, but rct is not in --methods")
    if seed is not None:
        wl = replace(wl, seed=seed)
    if iterations is None:
        iterations = default_iterations(wl, epochs)
        if iterations > MAX_ITERATIONS:
            raise UsageError(f"{wl.name}: {epochs or wl.epochs} epoch(s) are {iterations:,} "
                             f"iterations, more than a shape-only trace takes "
                             f"({MAX_ITERATIONS:,}); give --iterations")
    count = check_iterations(iterations)
    # every method's network built and its widths checked before any is written
    jobs = {method: prepare(wl, method, iterations=count,
                            widths=widths if method == "rct" else None) for method in methods}

    def trace(method: str, run_dir: Path) -> dict[str, Any]:
        metrics = write(jobs.pop(method), run_dir)
        log(f"{method}: traced {count:,} iterations from shapes in "
            f"{metrics['wall_time_s']:.1f} s (shape-only: nothing trained, no accuracy)")
        return metrics

    return trace
