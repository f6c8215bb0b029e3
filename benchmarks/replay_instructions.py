"""Replay cost in instructions: the cold replay of ``replay_rate.py``'s 10,000-op LeNet-5 trace,
counted by valgrind (callgrind) rather than timed, today against a git revision.

This machine's speed drifts by half within minutes, so wall times need many alternating runs and
still wobble by a fifth. Instruction counts do not drift: the same code, inputs and hash seed
give the same count to within a fraction of a percent whatever else the machine does. Each
count is a new process under callgrind that imports the package and reads the trace, once
without the replay and once with it; the difference is the replay's (every distinct op priced
once, then placed, counted and sampled). Both trees are byte-compiled first.

Run: ``python benchmarks/replay_instructions.py [--baseline REV]`` (default ``810e224``, main when
issue 14 was filed). About a minute per tree. Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from replay_rate import compiled_env, lenet5_trace
from sweep_rate import FILED, extract

# argv: trace path, machine, "1" to replay (anything else: only import and read)
CHILD = """
import sys
from accelsim.hardware import load_hardware
from accelsim.replay import replay
from accelsim.trace import read_trace
_, ops = read_trace(sys.argv[1])
hw = load_hardware(sys.argv[2])
if sys.argv[3] == "1":
    print(replay(hw, ops).to_json()["total_cycles"])
"""


def instructions(env: dict[str, str], trace: Path, config: str, run: bool) -> tuple[int, str]:
    """Instructions callgrind counts for one child process, and what it printed (the
    replay's total cycles)."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, "-c", CHILD, str(trace), config, "1" if run else "0"],
                         check=True, capture_output=True, text=True, env=env,
                         cwd=trace.parent)  # not the repository: "-c" imports from cwd
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{out.stderr[-2000:]}")
    return int(found.group(1)), out.stdout.strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=FILED, metavar="REV")
    parser.add_argument("--iterations", type=int, default=345)
    parser.add_argument("--config", default="edge-16x16")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt install valgrind)")
    import accelsim

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trace = lenet5_trace(tmp, args.iterations)
        today = Path(accelsim.__file__).resolve().parents[1]
        counts, cycles = {}, {}
        for name, tree in ((args.baseline, extract(args.baseline, tmp / "baseline")),
                           ("today", today)):
            env = compiled_env(tree, PYTHONHASHSEED="0")
            with_replay, cycles[name] = instructions(env, trace, args.config, True)
            counts[name] = with_replay - instructions(env, trace, args.config, False)[0]
            print(f"{name:>9}: {counts[name] / 1e6:8.1f} M instructions for the cold replay "
                  f"({cycles[name]} cycles)")
        print(f"today takes {counts['today'] / counts[args.baseline]:.3f} of {args.baseline}'s "
              f"instructions ({counts[args.baseline] / counts['today']:.2f}x fewer); same total "
              f"cycles: {cycles['today'] == cycles[args.baseline]}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
