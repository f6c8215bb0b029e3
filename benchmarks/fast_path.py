"""The GEMM fast path against the event model on SimPy, on a 200-point LeNet-5 sweep.

Every distinct GEMM of a LeNet-5 RCT training trace is priced on each of the 200 machines of
``examples/sweep-lenet5.yaml``, once by the event model on SimPy (``engine.simulate_gemm``) and
once by the fast path (``fast.simulate_gemm``, what ``ops.simulate`` uses), taking turns point
by point, each from a cold plan cache as a sweep worker pricing a new machine; the two costs
are checked equal on the way.
``--replay`` also times whole sweep points (``sweep.runner.evaluate``: the replay with every
op) with either GEMM pricer, and ``--baseline REV`` the event model of git revision REV (its
planner and DRAM channel included) on the same points, in a subprocess.

Run: ``python benchmarks/fast_path.py [TRACE] [--every N] [--replay] [--baseline REV]``.
Without TRACE it uses /tmp/run11/rct/trace.jsonl.gz if present, else trains RCT on
lenet5-digits first (about 10 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sweep-lenet5.yaml"
DEFAULT_TRACE = Path("/tmp/run11/rct/trace.jsonl.gz")


def training_trace(tmp: Path) -> Path:
    from accelsim.train.trainer import train
    from accelsim.train.workload import load_workload

    train(load_workload("lenet5-digits"), "rct", tmp / "rct", show_progress=False)
    return tmp / "rct" / "trace.jsonl.gz"


def sweep_points(trace: Path, tmp: Path, every: int) -> list[Any]:
    from accelsim.sweep.spec import expand, load_spec

    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["traces"] = [str(trace)]
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return expand(load_spec(tmp / "spec.yaml"))[::every]


def distinct_gemms(trace: Path) -> list[Any]:
    from accelsim.trace import read_trace

    _, ops = read_trace(trace)
    seen: dict[tuple, Any] = {}
    for op in ops:
        if op.op == "gemm":
            seen.setdefault(op.signature(), op)
    return list(seen.values())


def observed(cost: Any) -> str:
    """What the replay, the reports and the timeline read of a cost, as text."""
    profile = {f.name: getattr(cost.profile, f.name) for f in dataclasses.fields(cost.profile)}
    return repr((cost.cycles, cost.compute_cycles, list(cost.stall_cycles.items()),
                 cost.busy_pe_cycles, list(cost.sram_bits.items()), list(cost.dram.items()),
                 cost.occupancy, cost.plan, cost.spans, profile))


def price_all(pricers: dict[str, Any], points: list[Any], gemms: list[Any]
              ) -> dict[str, tuple[float, list[str]]]:
    """Per pricer, seconds to price every GEMM on every point and a digest of each cost. The
    pricers take turns point by point (so both see the same machine load), each from a cold
    plan cache, as a sweep worker pricing a new machine."""
    from accelsim.errors import AccelsimError
    from accelsim.sim.tiling import plan_gemm

    out: dict[str, tuple[float, list[str]]] = {name: (0.0, []) for name in pricers}
    for point in points:
        for name, price in pricers.items():
            plan_gemm.cache_clear()
            spent, digests = out[name]
            for op in gemms:
                start = time.perf_counter()
                try:
                    cost: Any = price(point.hardware, op)
                except AccelsimError as exc:
                    cost = exc
                spent += time.perf_counter() - start
                text = f"error: {cost}" if isinstance(cost, Exception) else observed(cost)
                digests.append(hashlib.sha1(text.encode()).hexdigest())
            out[name] = (spent, digests)
    return out


def replay_all(price: Any, points: list[Any]) -> float:
    """Seconds to evaluate whole sweep points with ``price`` as the GEMM pricer."""
    from accelsim.sim import ops
    from accelsim.sim.tiling import plan_gemm
    from accelsim.sweep import runner

    saved = ops.SIMULATORS["gemm"]
    ops.SIMULATORS["gemm"] = price
    runner._costs.cache_clear()
    plan_gemm.cache_clear()
    try:
        start = time.perf_counter()
        for point in points:
            runner.evaluate(point.hardware, point.trace)
        return time.perf_counter() - start
    finally:
        ops.SIMULATORS["gemm"] = saved
        runner._costs.cache_clear()


BASELINE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from accelsim.errors import AccelsimError
from accelsim.sim.engine import simulate_gemm
from accelsim.sweep.spec import expand, load_spec
from accelsim.trace import read_trace
points = expand(load_spec(sys.argv[2]))[::int(sys.argv[3])]
_, ops = read_trace(sys.argv[4])
gemms = list({op.signature(): op for op in ops if op.op == "gemm"}.values())
start = time.perf_counter()
for point in points:
    for op in gemms:
        try:
            simulate_gemm(point.hardware, op)
        except AccelsimError:
            pass
print(json.dumps(time.perf_counter() - start))
"""


def baseline(rev: str, tmp: Path, every: int, trace: Path) -> float:
    """Seconds the event model of git revision ``rev`` takes on the same work."""
    tree = tmp / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "accelsim", "configs"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    done = subprocess.run([sys.executable, "-c", BASELINE, str(tree), str(tmp / "spec.yaml"),
                           str(every), str(trace)], check=True, capture_output=True, text=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> int:
    from accelsim.sim import engine, fast

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", nargs="?")
    parser.add_argument("--every", type=int, default=1, help="every Nth sweep point only")
    parser.add_argument("--replay", action="store_true", help="time whole sweep points too")
    parser.add_argument("--baseline", metavar="REV", help="time REV's event model too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.trace:
            trace = Path(args.trace).resolve()
        elif DEFAULT_TRACE.is_file():
            trace = DEFAULT_TRACE
        else:
            trace = training_trace(tmp)
        points = sweep_points(trace, tmp, args.every)
        gemms = distinct_gemms(trace)
        n = len(points) * len(gemms)
        print(f"{len(points)} sweep points x {len(gemms)} distinct GEMMs of {trace} "
              f"= {n:,} GEMM costs")
        fast.simulate_gemm(points[0].hardware, gemms[0])  # imports, warm-up
        engine.simulate_gemm(points[0].hardware, gemms[0])
        priced = price_all({"event": engine.simulate_gemm, "fast": fast.simulate_gemm},
                           points, gemms)
        (event_s, event_costs), (fast_s, fast_costs) = priced["event"], priced["fast"]
        same = event_costs == fast_costs
        print(f"event model (SimPy): {event_s:7.2f} s = {event_s / n * 1e3:6.3f} ms a GEMM, "
              f"{event_s / len(points):6.3f} s a sweep point")
        print(f"fast path:           {fast_s:7.2f} s = {fast_s / n * 1e3:6.3f} ms a GEMM, "
              f"{fast_s / len(points):6.3f} s a sweep point  ({event_s / fast_s:.2f}x), "
              f"costs {'identical' if same else 'DIFFERENT'}")
        if args.baseline:
            base_s = baseline(args.baseline, tmp, args.every, trace)
            print(f"event model at {args.baseline}: {base_s:7.2f} s = "
                  f"{base_s / n * 1e3:6.3f} ms a GEMM, {base_s / len(points):6.3f} s a sweep "
                  f"point; fast path {base_s / fast_s:.2f}x faster")
        if args.replay:
            event_r = replay_all(engine.simulate_gemm, points)
            fast_r = replay_all(fast.simulate_gemm, points)
            print(f"whole sweep points (replay included): event model "
                  f"{event_r / len(points):6.3f} s, fast path {fast_r / len(points):6.3f} s a "
                  f"point ({event_r / fast_r:.2f}x)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
