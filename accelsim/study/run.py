"""The study: train each method, replay its trace on a machine, compare, and draw the figures.

``run_study`` is what ``accelsim run`` does; ``compare_runs`` is ``accelsim compare``: the same
table, files and figures from run directories that already hold ``metrics.json`` and
``report.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accelsim.atomic import write_atomic
from accelsim.errors import UsageError, clip
from accelsim.study.compare import compare, comparison_csv

DEFAULT_METHODS = ("fp32", "qat", "rct")


def parse_methods(text: str) -> list[str]:
    """``fp32,qat,rct`` -> a checked list of method names."""
    from accelsim.train.workload import METHODS, canonical_method

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
    from accelsim.trace import read_trace

    header, ops = read_trace(run_dir / "trace.jsonl.gz")
    return write_report(replay(hw, ops, header, progress=progress), run_dir)


def compare_runs(run_dirs: list[str | Path], out: str | Path, *, figures: bool = True
                 ) -> dict[str, Any]:
    """Write comparison.json, comparison.csv and (optionally) the figures into ``out``."""
    doc = compare(run_dirs)
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
              log: Callable[[str], None] = print) -> dict[str, Any]:
    from accelsim.hardware import load_hardware
    from accelsim.progress import Progress
    from accelsim.train.trainer import train
    from accelsim.train.workload import load_workload

    wl = load_workload(workload, workload_overrides)
    hw = load_hardware(hardware, hardware_overrides)  # fail fast, before any training
    out = Path(out)
    for method in methods:
        run_dir = out / method
        metrics = train(wl, method, run_dir, epochs=epochs, seed=seed)
        log(f"{method}: trained {metrics['iterations']} iterations in "
            f"{metrics['wall_time_s']:.1f} s, test accuracy {metrics['test_accuracy']:.2%}")
        total = metrics["trace"]["gemms"] + metrics["trace"]["transfers"]
        with Progress(total, f"simulate {method}") as bar:
            report = simulate_run(run_dir, hw, bar.update)
        log(f"{method}: simulated on {hw.name}: {report['energy_pj']['total'] / 1e6:,.1f} uJ, "
            f"{report['latency_s'] * 1e3:,.1f} ms")
    return compare_runs([out / m for m in methods], out, figures=figures)
