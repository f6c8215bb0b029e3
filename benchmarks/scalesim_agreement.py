"""accelsim against SCALE-Sim on the same machine: compute cycles and speed, in one run.

For each dataflow, the same GEMM layers go through SCALE-Sim 3.0.0 (installed in its own venv by
``scalesim_peer.ensure_scalesim``; stall-free CALC bandwidth, 32x32 array, 64 KiB SRAMs) and
through accelsim on ``configs/scalesim-like.yaml`` (SCALE-Sim's counting). Printed per layer:
both compute cycles (SCALE-Sim's total minus its stalls), whether they agree, and the time each
took; then the speed ratio for the whole set, timed two ways for accelsim: in-process (cold
caches) and as a whole ``accelsim simulate`` process on a trace of the same layers.

Run: ``python benchmarks/scalesim_agreement.py [--quick]`` (``--quick``: small layers only), or
``--network`` for the whole of ResNet-18 in each simulator as one process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scalesim_peer import run_scalesim

from accelsim.hardware import load_hardware
from accelsim.sim.engine import simulate_gemm
from accelsim.sim.tiling import plan_gemm
from accelsim.trace import Gemm, Header, write_trace

SMALL = [("gemm_100x37x55", 100, 37, 55), ("gemm_64x64x64", 64, 64, 64),
         ("gemm_200x70x300", 200, 70, 300)]
# ResNet-18 layers as GEMMs (M = output pixels, N = filters, K = R*S*C; 224x224 input).
RESNET18 = [("resnet18_conv1", 12544, 64, 147), ("resnet18_conv2_x", 3136, 64, 576)]


# All 21 layers of ResNet-18 on 224x224 as GEMMs, as in SCALE-Sim's Resnet18.csv:
# conv1, four 3x3 convolutions per stage, the 1x1 stride-2 shortcuts, the classifier.
RESNET18_NETWORK = (
    [("conv1", 12544, 64, 147)]
    + [(f"layer1_conv{i}", 3136, 64, 576) for i in range(4)]
    + [("layer2_conv0", 784, 128, 576), ("layer2_down", 784, 128, 64)]
    + [(f"layer2_conv{i}", 784, 128, 1152) for i in range(1, 4)]
    + [("layer3_conv0", 196, 256, 1152), ("layer3_down", 196, 256, 128)]
    + [(f"layer3_conv{i}", 196, 256, 2304) for i in range(1, 4)]
    + [("layer4_conv0", 49, 512, 2304), ("layer4_down", 49, 512, 256)]
    + [(f"layer4_conv{i}", 49, 512, 4608) for i in range(1, 4)]
    + [("fc", 1, 1000, 512)])


def gemm(m: int, n: int, k: int, layer: str = "l") -> Gemm:
    return Gemm(iter=0, layer=layer, phase="fwd", m=m, n=n, k=k, a_bits=8, b_bits=8,
                acc_bits=32, c_bits=8)


def accelsim_process_seconds(layers, dataflow: str, repeats: int = 1) -> float:
    """Wall time of a whole ``accelsim simulate`` process on these layers (the median of
    ``repeats`` processes), the package byte-compiled first, as an installed one is (so no run
    pays for compiling its modules, even where ``PYTHONDONTWRITEBYTECODE`` is set)."""
    import accelsim

    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(accelsim.__file__).parent)], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "t.jsonl"
        write_trace(trace, Header("scalesim-agreement"), [gemm(m, n, k, name)
                                                          for name, m, n, k in layers])
        times = []
        for n in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "accelsim", "simulate", "--hw",
                            "scalesim-like", "--set", f"array.dataflow={dataflow}", "--trace",
                            str(trace), "--out", str(Path(tmp) / f"out{n}")], check=True,
                           capture_output=True)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)


def whole_network(dataflow: str = "ws") -> int:
    """All of ResNet-18 in both simulators, each as one whole process."""
    layers = RESNET18_NETWORK
    peer = run_scalesim(32, 32, dataflow, layers)
    seconds = accelsim_process_seconds(layers, dataflow, repeats=11)
    hw = load_hardware("scalesim-like", [f"array.dataflow={dataflow}"])
    mismatches = sum(simulate_gemm(hw, gemm(m, n, k)).compute_cycles != row["compute_cycles"]
                     for (_, m, n, k), row in zip(layers, peer, strict=True))
    print(f"ResNet-18, {len(layers)} layers, 32x32 {dataflow}:")
    print(f"  SCALE-Sim: {peer[0]['wall_s']:8.1f} s, peak RSS {peer[0]['peak_rss_mib']:,.0f} MiB")
    print(f"  accelsim:  {seconds:8.3f} s (whole process, median of 11 right after)  -> "
          f"{peer[0]['wall_s'] / seconds:,.0f}x faster")
    print(f"  compute-cycle mismatches: {mismatches} of {len(layers)}")
    return 1 if mismatches else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small layers only")
    parser.add_argument("--dataflows", default="os,ws,is")
    parser.add_argument("--network", action="store_true",
                        help="all of ResNet-18 in each simulator (SCALE-Sim takes minutes)")
    args = parser.parse_args(argv)
    if args.network:
        return whole_network()
    layers = SMALL if args.quick else SMALL + RESNET18
    mismatches = 0
    print(f"{'layer':<20}{'df':>4}{'scalesim':>12}{'accelsim':>12}  agree"
          f"{'scalesim s':>12}{'accelsim ms':>13}{'speed-up':>11}")
    totals = {"scalesim": 0.0, "accelsim": 0.0, "process": 0.0}
    for dataflow in args.dataflows.split(","):
        hw = load_hardware("scalesim-like", [f"array.dataflow={dataflow}"])
        peer = run_scalesim(32, 32, dataflow, layers)
        totals["scalesim"] += peer[0]["wall_s"]
        for (name, m, n, k), row in zip(layers, peer, strict=True):
            plan_gemm.cache_clear()
            t0 = time.perf_counter()
            ours = simulate_gemm(hw, gemm(m, n, k)).compute_cycles
            dt = time.perf_counter() - t0
            totals["accelsim"] += dt
            agree = ours == row["compute_cycles"]
            mismatches += not agree
            print(f"{name:<20}{dataflow:>4}{row['compute_cycles']:>12,}{ours:>12,}  "
                  f"{'yes' if agree else 'NO '}  {row['layer_s']:>10.2f}{dt * 1e3:>13.2f}"
                  f"{row['layer_s'] / dt:>10,.0f}x")
        totals["process"] += accelsim_process_seconds(layers, dataflow)
    print(f"\nSCALE-Sim wall time (whole processes):  {totals['scalesim']:9.2f} s")
    print(f"accelsim in-process (cold caches):      {totals['accelsim']:9.4f} s  "
          f"-> {totals['scalesim'] / totals['accelsim']:,.0f}x faster")
    print(f"accelsim whole processes:               {totals['process']:9.2f} s  "
          f"-> {totals['scalesim'] / totals['process']:,.0f}x faster")
    print(f"compute-cycle mismatches: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
