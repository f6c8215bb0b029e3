"""Sweep throughput: the 200-point sweep of ``examples/sweep-lenet5.yaml`` over a LeNet-5 RCT
training trace, as whole ``accelsim sweep`` commands, today's code against a git revision's in
the same run.

Both run the same spec on the same trace on local worker processes, taking turns (``--rounds``
times each), each from a cold start (a new output folder, new workers); both are byte-compiled
first (into a private cache, as an installed package is), so neither pays for compiling its
modules. ``--baseline REV`` names the revision (default: ``810e224``, main when issue 14 was
filed); ``--dask`` also runs today's sweep on a 2-worker Dask LocalCluster and checks its
results equal the local ones.

Run: ``python benchmarks/sweep_rate.py [TRACE] [--baseline REV] [--rounds N] [--dask]``.
Without TRACE it trains RCT on lenet5-digits first (about 30 s) to get a real training trace.
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sweep-lenet5.yaml"
FILED = "810e224"  # main when issue 14 (speed at scale) was filed


def training_trace(tmp: Path) -> Path:
    subprocess.run([sys.executable, "-m", "accelsim", "train", "--workload", "lenet5-digits",
                    "--method", "rct", "--out", str(tmp / "rct")], check=True,
                   capture_output=True)
    return tmp / "rct" / "trace.jsonl.gz"


def extract(rev: str, into: Path) -> Path:
    """The package of git revision ``rev``, unpacked into ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "accelsim", "configs"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def sweep_seconds(env: dict[str, str], spec: Path, out: Path) -> float:
    """Wall time of one whole ``accelsim sweep`` command."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "accelsim", "sweep", str(spec), "--out", str(out)],
                   check=True, capture_output=True, env=env, cwd=out.parent)
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", nargs="?")
    parser.add_argument("--baseline", default=FILED, metavar="REV")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dask", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trace = Path(args.trace).resolve() if args.trace else training_trace(tmp)
        spec_data = yaml.safe_load(EXAMPLE.read_text())
        spec_data["traces"] = [str(trace)]
        spec = tmp / "spec.yaml"
        spec.write_text(yaml.safe_dump(spec_data))
        import accelsim

        today = Path(accelsim.__file__).resolve().parents[1]
        old = extract(args.baseline, tmp / "baseline")
        envs = {}
        for name, tree in (("today", today), (args.baseline, old)):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "accelsim")],
                           check=True, env=env, capture_output=True)
            envs[name] = env
        times: dict[str, list[float]] = {name: [] for name in envs}
        for r in range(args.rounds):
            for name, env in envs.items():
                times[name].append(sweep_seconds(env, spec, tmp / f"out-{name}-{r}"))
        points = len(list((tmp / "out-today-0" / "points").iterdir()))
        print(f"{points} points over {trace.name}, {args.rounds} rounds each, taking turns")
        base = statistics.median(times[args.baseline])
        now = statistics.median(times["today"])
        for name in (args.baseline, "today"):
            t = statistics.median(times[name])
            print(f"{name:>9}: {t:6.1f} s  ({points / t:5.1f} points/s)  "
                  f"runs: {', '.join(f'{x:.1f}' for x in times[name])}")
        print(f"today is {base / now:.1f}x faster than {args.baseline}")
        if args.dask:
            same = dask_check(spec, tmp, envs["today"])
            return 0 if same else 1
    return 0


def dask_check(spec: Path, tmp: Path, env: dict[str, str]) -> bool:
    """Today's sweep on a 2-worker Dask LocalCluster: its time, and results equal to local."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        out = tmp / "out-dask"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "accelsim", "sweep", str(spec), "--out", str(out),
                        "--scheduler", cluster.scheduler_address], check=True,
                       capture_output=True, env=env)
        took = time.perf_counter() - t0
    same = (out / "results.csv").read_text() == (tmp / "out-today-0" / "results.csv").read_text()
    print(f"Dask LocalCluster(2): {took:6.1f} s, results {'identical' if same else 'DIFFERENT'}")
    return same


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
