"""Behaviour unchanged, byte for byte: a refactor must leave every output of the main commands
identical.

``record`` runs them and stores a SHA-256 of each output in ``benchmarks/golden/behaviour.json``;
``check`` runs them again and compares. The commands: the default ``accelsim run`` (traces,
report.json of each method, comparison.json), ``accelsim simulate --timeline`` on its RCT trace
(report, layers.csv, occupancy.csv, the Chrome trace), and the 200-point example sweep
(results.csv, with the trace column reduced to the file name, since the folder differs). Each
runs in a fresh temporary folder, as whole processes.

Run: ``python benchmarks/behaviour_unchanged.py record|check`` (about two minutes). Hashes
depend on the BLAS and numpy build (training is reproducible per machine, not across
machines): record on the machine that checks. ``check --reuse-run DIR`` takes the training runs
(traces and metrics) from an earlier ``accelsim run --out DIR`` and re-runs only the simulator
side (simulate, compare, the sweep): for checking a simulator change while the training code is
being changed too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "benchmarks" / "golden" / "behaviour.json"
METHODS = ("fp32", "qat", "rct")


def _accelsim(cwd: Path, *argv: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "accelsim", *argv], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"accelsim {' '.join(argv)} failed:\n{proc.stderr}")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _results_without_folders(path: Path) -> bytes:
    rows = list(csv.reader(io.StringIO(path.read_text())))
    column = rows[0].index("trace")
    for row in rows[1:]:
        row[column] = Path(row[column]).name
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def outputs(reuse: Path | None = None) -> dict[str, str]:
    """Run the commands; the digest of every output, by a name that is stable across runs."""
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as name:
        work = Path(name)
        if reuse is None:
            _accelsim(work, "run", "--out", "study", "--no-figures")
        else:
            for method in METHODS:
                (work / "study" / method).mkdir(parents=True)
                for file in ("trace.jsonl.gz", "metrics.json"):
                    shutil.copy(reuse / method / file, work / "study" / method / file)
                _accelsim(work, "simulate", "--trace", f"study/{method}/trace.jsonl.gz",
                          "--out", f"study/{method}")
            _accelsim(work, "compare", *[f"study/{m}" for m in METHODS], "--out", "study",
                      "--no-figures")
        for method in METHODS:
            for file in ("trace.jsonl.gz", "report.json", "layers.csv", "occupancy.csv"):
                digests[f"run/{method}/{file}"] = _digest((work / "study" / method / file)
                                                          .read_bytes())
        digests["run/comparison.json"] = _digest((work / "study" / "comparison.json")
                                                 .read_bytes())
        _accelsim(work, "simulate", "--hw", "edge-16x16", "--trace",
                  "study/rct/trace.jsonl.gz", "--out", "sim", "--timeline", "timeline.json")
        for file in ("report.json", "layers.csv", "occupancy.csv"):
            digests[f"simulate/{file}"] = _digest((work / "sim" / file).read_bytes())
        digests["simulate/timeline.json"] = _digest((work / "timeline.json").read_bytes())
        for file in ("sweep-lenet5.yaml", "lenet5-mnist-int8.jsonl"):
            shutil.copy(ROOT / "examples" / file, work / file)
        _accelsim(work, "sweep", "sweep-lenet5.yaml", "--out", "sweep", "--no-plot")
        digests["sweep/results.csv"] = _digest(_results_without_folders(work / "sweep" /
                                                                         "results.csv"))
    return digests


def main(argv: list[str]) -> int:
    reuse = None
    if len(argv) == 3 and argv[:2] == ["check", "--reuse-run"]:
        reuse, argv = Path(argv[2]).resolve(), ["check"]
    if argv not in (["record"], ["check"]):
        print(__doc__)
        return 2
    now = outputs(reuse)
    if argv == ["record"]:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n")
        print(f"recorded {len(now)} outputs in {GOLDEN.relative_to(ROOT)}")
        return 0
    golden = json.loads(GOLDEN.read_text())
    changed = [name for name in sorted(golden) if now.get(name) != golden[name]]
    for name in sorted(golden):
        print(f"{'same   ' if name not in changed else 'CHANGED'}  {name}")
    print(f"{len(golden) - len(changed)} of {len(golden)} outputs identical")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
