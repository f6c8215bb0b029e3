"""accelsim's SCALE-Sim-compatible counting against SCALE-Sim itself (slow: installs the peer).

Run with ``python -m pytest -m slow``. SCALE-Sim 3.0.0 lives in its own venv
(``benchmarks/scalesim_peer.py``); its stall-free compute cycles must equal ours on the same
array, dataflow and GEMM.
"""

import sys
from pathlib import Path

import pytest

from accelsim.hardware import load_hardware
from accelsim.sim.engine import simulate_gemm
from accelsim.trace import Gemm

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

pytestmark = pytest.mark.slow

LAYERS = [("a", 100, 37, 55), ("b", 9, 70, 30), ("c", 64, 64, 64), ("d", 33, 5, 129)]


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("array", [(8, 8), (32, 32)])
def test_compute_cycles_equal_scalesim(dataflow, array):
    import scalesim_peer

    rows, cols = array
    peer = scalesim_peer.run_scalesim(rows, cols, dataflow, LAYERS)
    hw = load_hardware("scalesim-like", [f"array.dataflow={dataflow}", f"array.rows={rows}",
                                         f"array.cols={cols}"])
    for (_, m, n, k), row in zip(LAYERS, peer, strict=True):
        op = Gemm(iter=0, layer="l", phase="fwd", m=m, n=n, k=k, a_bits=8, b_bits=8,
                  acc_bits=32)
        assert simulate_gemm(hw, op).compute_cycles == row["compute_cycles"], (m, n, k)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize(("array", "sram_kib"), [((8, 8), (1, 1, 1)), ((32, 32), (4, 4, 4)),
                                                 ((128, 128), (64, 64, 64))],
                         ids=["8x8-1KiB", "32x32-4KiB", "128x128-64KiB"])
def test_compute_cycles_equal_scalesim_with_small_srams(dataflow, array, sram_kib):
    """Small SRAMs force many tiles (and the stock 128x128 machine with 64 KiB SRAMs, which the
    validator once refused for ws, must be accepted); compute cycles stay SCALE-Sim's."""
    import scalesim_peer

    rows, cols = array
    peer = scalesim_peer.run_scalesim(rows, cols, dataflow, LAYERS, sram_kib=sram_kib)
    hw = load_hardware("scalesim-like", [f"array.dataflow={dataflow}", f"array.rows={rows}",
                                         f"array.cols={cols}"]
                       + [f"buffers.{b}.size_kib={kib}" for b, kib in
                          zip(("ifmap", "filter", "ofmap"), sram_kib, strict=True)])
    for (_, m, n, k), row in zip(LAYERS, peer, strict=True):
        op = Gemm(iter=0, layer="l", phase="fwd", m=m, n=n, k=k, a_bits=8, b_bits=8,
                  acc_bits=32, c_bits=8)  # SCALE-Sim's word is one byte for every operand
        assert simulate_gemm(hw, op).compute_cycles == row["compute_cycles"], (m, n, k)
