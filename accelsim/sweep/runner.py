"""Running a sweep: points in parallel, each result written atomically, reruns resume.

Points run on local worker processes (``sweep.pool``: a crashed point is recorded and the sweep
goes on; Ctrl-C or ``kill`` stops every worker) or, given a scheduler address, on a Dask cluster
(``dask.distributed``, the ``cluster`` extra). Each finished point becomes
``DIR/points/<key>.json`` in one atomic write, so stopping a sweep loses only the points in
flight, and rerunning the spec computes only the points without a file. ``results.csv`` is
rebuilt from the point files at the end, in the spec's order.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from accelsim.atomic import write_atomic
from accelsim.energy.model import COMPONENTS
from accelsim.errors import UsageError
from accelsim.sweep.spec import Point


@lru_cache(maxsize=8)
def _trace_runs(trace: str) -> tuple[tuple[tuple, tuple[int, ...], int], ...]:
    """A trace as runs of consecutive iterations doing the same work: (one iteration's ops,
    the iteration numbers, a number naming the work). A training trace of tens of thousands
    of records is a handful of runs (a new one only where a method changes a width), and the
    replay places each run's iterations from memory once the schedule repeats
    (``replay.Replayer``); naming the work once here spares every point hashing it."""
    from accelsim.replay import iterations
    from accelsim.replay.pipeline import work_of
    from accelsim.trace import read_trace

    _, ops = read_trace(trace)
    runs: list[tuple[tuple, list[int], int]] = []
    names: dict[tuple, int] = {}
    previous = None
    for batch in iterations(ops):
        work = work_of(batch)
        if work == previous:
            runs[-1][1].append(batch[0].iter)
        else:
            runs.append((tuple(batch), [batch[0].iter], names.setdefault(work, len(names))))
            previous = work
    return tuple((ops, tuple(iters), name) for ops, iters, name in runs)


@lru_cache(maxsize=16)
def _costs(hardware: Any):
    """A worker's op costs on one machine, shared by every point that uses it (one machine
    with several traces prices their common ops once)."""
    from accelsim.replay import CostCache

    return CostCache(hardware)


def evaluate_point(point: Point) -> dict[str, Any]:
    """``evaluate`` for one point (what a local worker runs)."""
    return evaluate(point.hardware, point.trace)


def evaluate(hardware: Any, trace: str) -> dict[str, Any]:
    """Replay ``trace`` on ``hardware``: the figures of one sweep point, or its error. The
    same schedule and accounting as ``accelsim simulate``, without the occupancy timeline."""
    from accelsim.errors import AccelsimError
    from accelsim.replay import Replayer, schedule_for
    from accelsim.report.summary import Report
    from accelsim.trace.records import Header

    try:
        runs = _trace_runs(trace)
        report = Report(hardware, Header(), timeline=False)
        replayer = Replayer(hardware, report, _costs(hardware), schedule_for(hardware))
        for ops, iters, work in runs:
            replayer.run(ops, iters, work)
        figures = report.to_json()
    except AccelsimError as exc:
        return {"error": str(exc)}
    energy = figures["energy_pj"]
    row: dict[str, Any] = {
        "total_cycles": figures["total_cycles"], "compute_cycles": figures["compute_cycles"],
        "stall_cycles": figures["stall_cycles"], "latency_s": figures["latency_s"],
        "utilization": figures["utilization"], "energy_pj": energy["total"],
        **{f"energy_{c}_pj": energy[c] for c in COMPONENTS},
        **{f"peak_{b}_bytes": v["peak_bytes"] for b, v in figures["buffers"].items()},
        "dram_read_bytes": figures["dram"]["read_bytes"],
        "dram_write_bytes": figures["dram"]["write_bytes"],
    }
    return row


@dataclass
class SweepRun:
    total: int
    computed: int
    skipped: int
    rows: list[dict[str, Any]]


def _local(points: Iterator[Point], workers: int | None) -> Iterator[tuple[Point, dict]]:
    import signal

    from accelsim.sweep.pool import WorkerPool

    pool = WorkerPool(evaluate_point, workers or os.cpu_count() or 1)
    try:
        for point, ok, value in pool.run(points):
            yield point, value if ok else {"error": f"point failed: {value}"}
    except BaseException:
        # Ctrl-C or kill: stop the workers within a second; a second Ctrl-C is immediate.
        previous = signal.getsignal(signal.SIGINT)

        def at_once(*_: object) -> None:
            pool.kill()
            os._exit(130)

        signal.signal(signal.SIGINT, at_once)
        try:
            pool.close()
        finally:
            signal.signal(signal.SIGINT, previous)
        raise
    pool.close()


def _dask(points: Iterator[Point], scheduler: str) -> Iterator[tuple[Point, dict]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed: pip install "
                         "'accelsim[cluster]'") from None
    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                         f"({exc})") from None
    with client:
        futures = {client.submit(evaluate, p.hardware, p.trace, key=f"accelsim-{p.key}",
                                 pure=False): p for p in points}
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as exc:  # a worker lost, or an exception in it
                row = {"error": f"point failed: {type(exc).__name__}: {str(exc)[:300]}"}
            yield futures[future], row


def run_sweep(points: Iterable[Point], out: str | Path, *, scheduler: str | None = None,
              workers: int | None = None,
              progress: Callable[[int], None] | None = None) -> SweepRun:
    """Compute the points that have no result yet; return every point's row.

    ``points`` is consumed once, lazily; only the keys are kept to rebuild the rows in order.
    """
    out = Path(out)
    done_dir = out / "points"  # made with the first result (write_atomic makes parents)
    keys: list[str] = []
    finished = computed = 0

    def todo() -> Iterator[Point]:
        nonlocal finished
        for point in points:
            keys.append(point.key)
            if (done_dir / f"{point.key}.json").exists():
                finished += 1
                if progress:
                    progress(finished)
                continue
            yield point

    results = _dask(todo(), scheduler) if scheduler else _local(todo(), workers)
    for point, row in results:
        record = {"key": point.key, "overrides": point.overrides, "trace": point.trace, **row}
        write_atomic(done_dir / f"{point.key}.json", json.dumps(record) + "\n")
        finished += 1
        computed += 1
        if progress:
            progress(finished)
    rows = [json.loads((done_dir / f"{key}.json").read_text()) for key in keys]
    return SweepRun(len(keys), computed, len(keys) - computed, rows)


def results_csv(rows: list[dict[str, Any]]) -> str:
    """One row per point: its overrides (a column per key path), the trace, the figures."""
    override_keys: list[str] = []
    for row in rows:
        override_keys += [k for k in row["overrides"] if k not in override_keys]
    good = [row for row in rows if "error" not in row]
    figures = [k for k in good[0] if k not in ("key", "overrides", "trace")] if good else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["key", *override_keys, "trace", *figures, "error"])
    for row in rows:
        writer.writerow([row["key"], *[_cell(row["overrides"].get(k, ""))
                                       for k in override_keys],
                         row["trace"], *[row.get(f, "") for f in figures],
                         row.get("error", "")])
    return buf.getvalue()


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def pareto(rows: list[dict[str, Any]]) -> list[int]:
    """Indices of the points no other point beats in both energy and latency."""
    front = []
    rows = [r if "error" not in r else {"energy_pj": float("inf"), "latency_s": float("inf")}
            for r in rows]
    for i, a in enumerate(rows):
        if a["energy_pj"] == float("inf"):
            continue
        dominated = any(b["energy_pj"] <= a["energy_pj"] and b["latency_s"] <= a["latency_s"]
                        and (b["energy_pj"], b["latency_s"]) != (a["energy_pj"], a["latency_s"])
                        for b in rows)
        if not dominated:
            front.append(i)
    return front


def pareto_plot(rows: list[dict[str, Any]], out: Path, title: str) -> list[Path]:
    from accelsim.report.plotting import energy_unit, pyplot, save_figure

    plt = pyplot()
    front = pareto(rows)
    front_rows = [rows[i] for i in front]
    rows = [r for r in rows if "error" not in r]
    unit, scale = energy_unit(max((r["energy_pj"] for r in rows), default=0.0))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([r["latency_s"] * 1e3 for r in rows], [r["energy_pj"] / scale for r in rows],
               s=14, color="#56B4E9", label="points")
    best = sorted(front_rows, key=lambda r: r["latency_s"])
    ax.plot([r["latency_s"] * 1e3 for r in best], [r["energy_pj"] / scale for r in best],
            color="#D55E00", marker="o", markersize=4, label="Pareto front")
    ax.set_xlabel("latency of the whole trace (ms)")
    ax.set_ylabel(f"energy of the whole trace ({unit})")
    ax.set_title(title)
    ax.legend(frameon=False)
    return save_figure(fig, out, "pareto")
