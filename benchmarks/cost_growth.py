"""Cost growth: wall time and peak memory of ``accelsim simulate`` against trace length, and
of ``accelsim trace`` + ``simulate`` against network size, as whole processes, on log-log axes.

Trace length: a LeNet-5 training trace whose width narrows along the run
(``trace.synthetic.narrowing_trace``: fused epilogues, an unfused batch norm, 40 records an
iteration) is written at 10^3 ... 10^7 records (the iteration's text is rendered once and
repeated with its iteration number, as ``accelsim trace`` writes), then each is replayed by one
``accelsim simulate`` process; peak memory is the child's maximum resident set. Network size:
each workload given is traced from its shapes (``accelsim trace``, 2 iterations) and simulated.

Run: ``python benchmarks/cost_growth.py [--max-exp 7] [--workloads lenet5-digits,...]
[--out DIR]``; prints a table and the fitted log-log slopes, writes ``cost_growth.svg``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accelsim.trace import Header
from accelsim.trace.io import TraceWriter
from accelsim.trace.synthetic import lenet5_mnist, narrowing_trace

PERIOD = 3  # iterations of one width before the synthetic trace narrows (repeated pattern)


def write_long_trace(path: Path, records: int) -> int:
    """A trace of about ``records`` records: the narrowing pattern's iterations, repeated."""
    pattern = narrowing_trace(lenet5_mnist(16), PERIOD)
    tmp = path.with_suffix(".one.jsonl")
    with TraceWriter(tmp, Header("lenet5", "rct", 0)) as writer:
        for op in pattern:
            writer.add(op)
    lines = tmp.read_text().splitlines(keepends=True)
    tmp.unlink()
    header, body = lines[0], lines[1:]
    per_iteration: dict[int, list[str]] = {}
    for line in body:
        it = json.loads(line)["iter"]
        per_iteration.setdefault(it, []).append(line.replace(f'"iter":{it},', '"iter":\0,', 1))
    templates = [tuple("".join(per_iteration[i]).split("\0")) for i in sorted(per_iteration)]
    written = 0
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write(header)
        it = 0
        while written < records:
            parts = templates[it % len(templates)]
            out.write(str(it).join(parts))
            written += len(parts) - 1
            it += 1
    return written


def measured(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one whole process (its own rusage, via wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {err.strip()[-400:]}")
    return wall, usage.ru_maxrss / 1024  # KiB on Linux


def slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log10(x) for x in xs], [math.log10(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((x - mx) ** 2 for x in lx)
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / den if den else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-exp", type=int, default=7)
    ap.add_argument("--workloads", default="lenet5-digits,cnn-digits")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    accelsim = [sys.executable, "-m", "accelsim"]
    lengths: list[tuple[int, float, float]] = []
    networks: list[tuple[str, int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for exp in range(3, args.max_exp + 1):
            path = tmp / f"t{exp}.jsonl.gz"
            n = write_long_trace(path, 10 ** exp)
            wall, peak = measured([*accelsim, "simulate", "--trace", str(path),
                                   "--out", str(tmp / f"s{exp}")])
            lengths.append((n, wall, peak))
            print(f"{n:>12,} records: {wall:8.2f} s  {peak:8.1f} MiB peak", flush=True)
            path.unlink()
        for name in [w for w in args.workloads.split(",") if w]:
            run = tmp / name
            t_wall, t_peak = measured([*accelsim, "trace", "--workload", name, "--method",
                                       "fp32", "--iterations", "2", "--out", str(run)])
            s_wall, s_peak = measured([*accelsim, "simulate", "--trace",
                                       str(run / "trace.jsonl.gz"), "--out", str(run / "sim")])
            macs = json.loads((run / "sim" / "report.json").read_text())["macs"]
            networks.append((name, macs, t_wall + s_wall, max(t_peak, s_peak)))
            print(f"{name:>24}: {macs:,} MACs, trace + simulate {t_wall + s_wall:6.2f} s, "
                  f"{max(t_peak, s_peak):7.1f} MiB peak", flush=True)
    xs = [n for n, _, _ in lengths]
    print(f"trace length: time slope {slope(xs, [w for _, w, _ in lengths]):.2f}, "
          f"memory slope {slope(xs, [p for _, _, p in lengths]):.2f} (log-log)")
    if len(networks) > 1:
        ms = [m for _, m, _, _ in networks]
        print(f"network size: time slope {slope(ms, [w for *_, w, _ in networks]):.2f}, "
              f"memory slope {slope(ms, [p for *_, p in networks]):.2f} (log-log, vs MACs)")
    from accelsim.report.plotting import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    ax.loglog(xs, [w for _, w, _ in lengths], "o-", label="wall time (s)")
    ax.loglog(xs, [p for _, _, p in lengths], "s--", label="peak memory (MiB)")
    ax.set_xlabel("trace records")
    ax.set_title("accelsim simulate vs trace length")
    ax.legend(frameon=False)
    ax = axes[1]
    if networks:
        ms = [m for _, m, _, _ in networks]
        ax.loglog(ms, [w for *_, w, _ in networks], "o-", label="wall time (s)")
        ax.loglog(ms, [p for *_, p in networks], "s--", label="peak memory (MiB)")
        for name, m, w, _ in networks:
            ax.annotate(name, (m, w), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.legend(frameon=False)
    ax.set_xlabel("MACs of the traced iterations")
    ax.set_title("accelsim trace + simulate vs network size")
    written = save_figure(fig, Path(args.out), "cost_growth")
    print("wrote", ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
