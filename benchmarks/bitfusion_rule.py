"""Bit Fusion's precision scaling: accelsim's fused PEs beside Bit Fusion's own simulator.

Bit Fusion (Sharma et al., ISCA 2018) fuses narrow multiplies of the reduction dimension K in one
PE: its simulator charges a GEMM M x ceil(K / (rows x pf)) x ceil(N / cols) compute cycles,
pf = (16 / max(a, 2)) x (16 / max(b, 2)), and nothing for fill or drain. accelsim packs the same
pf pairs of K per PE step (``array.precision_scaling: bit_fusion``, native 16 bits, bricks of
2), so its folds follow the rule; its cycles add the fill and drain it models. Figures of the
peer were recorded once with its commit (``peers/bitfusion_results.csv``): it is Python 2 and on
no package index. Its simulator takes the rule for fully connected layers and a network's first
convolution (im2col); for an inner convolution it steps the kernel taps in time and packs only
input channels across the rows (its ``accelerator.py`` 88-91), which is why its 3x3 layer stops
speeding up at 4x: accelsim, like the rule, packs the whole K = ic x kh x kw.

Run: ``python benchmarks/bitfusion_rule.py``.
"""

from __future__ import annotations

import csv
import sys
from math import ceil
from pathlib import Path

from accelsim.hardware import load_hardware
from accelsim.sim.mapping import beat_for, folds, gemm_cycles

HERE = Path(__file__).resolve().parent


def peer_rows() -> list[dict[str, str]]:
    with open(HERE / "peers" / "bitfusion_results.csv") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def rule(m: int, n: int, k: int, a: int, b: int, rows: int, cols: int) -> int:
    pf = int(16 / max(a, 2)) * int(16 / max(b, 2))
    return m * ceil(k / (rows * pf)) * ceil(n / cols)


def main() -> int:
    print(f"{'layer':20s} {'a/b':>5s} {'Bit Fusion':>11s} {'rule':>11s} {'accelsim ws':>12s} "
          f"{'folds':>6s} {'speed-up BF':>11s} {'accelsim':>9s}")
    base: dict[str, tuple[int, int]] = {}
    worst = 0.0
    for row in peer_rows():
        m, n, k = int(row["m"]), int(row["n"]), int(row["k"])
        a, b = int(row["a_bits"]), int(row["b_bits"])
        hw = load_hardware("edge-16x16", ["array.dataflow=ws"])
        ours = gemm_cycles(hw.array, m, n, k, a, b)
        peer = int(row["cycles"])
        expected = rule(m, n, k, a, b, 16, 16)
        if (a, b) == (16, 16):
            base[row["layer"]] = (peer, ours)
        bp, bo = base[row["layer"]]
        print(f"{row['layer']:20s} {a:>2d}/{b:<2d} {peer:>11,} {expected:>11,} {ours:>12,} "
              f"{folds(hw.array, m, n, k, a, b):>6,} {bp / peer:>10.1f}x {bo / ours:>8.1f}x")
        # fold count = the rule's K x N folds exactly; cycles = rule + fill and drain
        assert folds(hw.array, m, n, k, a, b) * m == expected
        worst = max(worst, ours / expected)
        assert beat_for(hw.array, a, b).pack == int(16 / max(a, 2)) * int(16 / max(b, 2))
    print(f"accelsim / rule, worst case: {worst:.3f} (fill and drain: 2r + c - 2 per fold)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
