"""Replay rate: how many trace ops per second accelsim prices, on a 10,000-op training trace.

A LeNet-5 training trace (synthetic shapes, 29 ops per iteration) of 345 iterations is written
to a temporary file, then timed three ways in one run: reading the file, replaying it on the
default machine (cold cache: every distinct op simulated once), and the whole
``accelsim simulate`` process. Run: ``python benchmarks/replay_rate.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accelsim.hardware import load_hardware
from accelsim.replay import replay
from accelsim.sim.tiling import plan_gemm
from accelsim.trace import Header, read_trace, write_trace
from accelsim.trace.synthetic import lenet5_mnist, training_trace


def main(iterations: int = 345, config: str = "edge-16x16") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.jsonl"
        ops = training_trace(lenet5_mnist(32), iterations)
        write_trace(path, Header("lenet5-mnist", "int8", 0), ops)
        t0 = time.perf_counter()
        _, read = read_trace(path)
        t1 = time.perf_counter()
        hw = load_hardware(config)
        plan_gemm.cache_clear()
        report = replay(hw, read)
        t2 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--hw", config,
                               "--trace", str(path), "--out", str(Path(tmp) / "out")],
                              capture_output=True, text=True, check=True)
        t3 = time.perf_counter()
        del proc
    n = len(read)
    print(f"trace: {n} ops ({report.distinct_ops} distinct), {iterations} iterations, {config}")
    print(f"read:            {t1 - t0:7.3f} s  {n / (t1 - t0):>10,.0f} ops/s")
    print(f"replay (cold):   {t2 - t1:7.3f} s  {n / (t2 - t1):>10,.0f} ops/s")
    print(f"read + replay:   {t2 - t0:7.3f} s  {n / (t2 - t0):>10,.0f} ops/s")
    print(f"whole process:   {t3 - t2:7.3f} s  (accelsim simulate, python start-up included)")


if __name__ == "__main__":
    main()
