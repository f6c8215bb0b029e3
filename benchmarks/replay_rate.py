"""Replay rate: how many trace ops per second accelsim prices, on a 10,000-op training trace,
today against a git revision, in the same run.

A LeNet-5 training trace (synthetic shapes, 29 ops per iteration) of 345 iterations is written
to a temporary file. Each measurement is a new Python process (so the replay is cold: every
distinct op simulated once, nothing remembered from before) that reads the trace, then times
the replay on the default machine; today's code and the baseline's take turns, ``--runs``
processes each, and the medians are compared (this machine's speed drifts by half over minutes,
so single runs mislead). Both packages are byte-compiled first, as an installed one is. Last, one
whole ``accelsim simulate`` process of today's, Python's start-up included.

Run: ``python benchmarks/replay_rate.py [--baseline REV] [--runs N]`` (default: ``810e224``,
main when issue 14 was filed, and 9 runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweep_rate import FILED, extract

# what each measuring process runs: argv = trace path, machine
CHILD = """
import sys, time
from accelsim.hardware import load_hardware
from accelsim.replay import replay
from accelsim.trace import read_trace
_, ops = read_trace(sys.argv[1])
hw = load_hardware(sys.argv[2])
t0 = time.perf_counter()
report = replay(hw, ops)
took = time.perf_counter() - t0
print(took, len(ops), report.distinct_ops, report.to_json()["total_cycles"])
"""


def cold_replay(env: dict[str, str], trace: Path, config: str) -> tuple[float, int, int, float]:
    """(seconds, ops, distinct ops, total cycles) of one cold replay in a new process."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(trace), config], check=True,
                         capture_output=True, text=True, env=env,
                         cwd=trace.parent).stdout.split()  # not here: "-c" imports from cwd
    return float(out[0]), int(out[1]), int(out[2]), float(out[3])


def lenet5_trace(folder: Path, iterations: int) -> Path:
    """The synthetic LeNet-5 training trace the replay benchmarks replay (29 ops an iteration,
    345 iterations make the 10,000-op trace), written into ``folder``."""
    from accelsim.trace import Header, write_trace
    from accelsim.trace.synthetic import lenet5_mnist, training_trace

    trace = folder / "trace.jsonl"
    write_trace(trace, Header("lenet5-mnist", "int8", 0),
                training_trace(lenet5_mnist(32), iterations))
    return trace


def compiled_env(tree: Path, **extra: str) -> dict[str, str]:
    """An environment importing ``tree``'s accelsim, byte-compiled first as an installed
    package is (so neither side pays for compiling its modules)."""
    env = {**os.environ, "PYTHONPATH": str(tree), **extra}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "accelsim")],
                   check=True, env=env, capture_output=True)
    return env


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=FILED, metavar="REV")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--iterations", type=int, default=345)
    parser.add_argument("--config", default="edge-16x16")
    args = parser.parse_args(argv)
    import accelsim

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trace = lenet5_trace(tmp, args.iterations)
        today = Path(accelsim.__file__).resolve().parents[1]
        trees = {"today": today, args.baseline: extract(args.baseline, tmp / "baseline")}
        envs = {name: compiled_env(tree) for name, tree in trees.items()}
        times: dict[str, list[float]] = {name: [] for name in envs}
        seen = {}
        for _ in range(args.runs):
            for name, env in envs.items():
                took, n, distinct, cycles = cold_replay(env, trace, args.config)
                times[name].append(took)
                seen[name] = (n, distinct, cycles)
        n, distinct, _ = seen["today"]
        print(f"trace: {n} ops ({distinct} distinct), {args.iterations} iterations, "
              f"{args.config}; cold replay in a new process, {args.runs} runs each, taking turns")
        for name in (args.baseline, "today"):
            t = statistics.median(times[name])
            print(f"{name:>9}: median {t:6.3f} s  {n / t:>9,.0f} ops/s   "
                  f"(best {min(times[name]):.3f} s, worst {max(times[name]):.3f} s)")
        base, now = statistics.median(times[args.baseline]), statistics.median(times["today"])
        print(f"today is {base / now:.1f}x faster than {args.baseline}; "
              f"same total cycles: {seen['today'][2] == seen[args.baseline][2]}")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--hw", args.config,
                        "--trace", str(trace), "--out", str(tmp / "out")],
                       capture_output=True, text=True, check=True, env=envs["today"])
        print(f"whole process: {time.perf_counter() - t0:.3f} s  (today's accelsim simulate, "
              "Python start-up included)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
