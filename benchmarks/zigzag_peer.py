"""Run ZigZag (PyPI ``zigzag-dse`` 3.9.1) on plain GEMMs and print its DRAM traffic as CSV.

This file runs *inside ZigZag's own venv*, never in accelsim's (ZigZag needs Python >= 3.11 and
pulls onnx, sympy, matplotlib, ...): ``benchmarks/zigzag_agreement.py`` builds that venv with
``peer_venv.ensure_venv`` and runs this script there as a subprocess. It imports nothing from
accelsim. By hand::

    ZIGZAG_PY benchmarks/zigzag_peer.py --gemm conv2x_fwd 3136 64 576 --gemm fc 32 120 400

Each GEMM C[M,N] = A[M,K].B[K,N] is one ZigZag ``Gemm`` layer ``O[b][k] += I[b][c] * W[c][k]``
with loop sizes B = M, C = K (the reduction) and K = N (output channels), so ZigZag sees exactly
the matrices accelsim sees: A = I and B = W at 8 bits, C = O with 32-bit partial sums
(``O``) and 8-bit final outputs (``O_final``), both inputs starting in DRAM
(``operand_source``). The machine is ``peers/zigzag_edge16_ws.yaml`` with the weight-stationary
spatial unrolling of ``peers/zigzag_edge16_ws_mapping.yaml``; LOMA (ZigZag's default temporal
mapping engine, uneven mappings, ``--lpf`` loop prime factors) searches the temporal mapping and
the best one for ``--opt`` is kept.

The DRAM traffic is read from the chosen ``CostModelEvaluation``: for each operand, the top
memory level (the DRAM) of ``cme.mapping.unit_mem_data_movement[operand][-1]`` (a
``DataMovePattern``) gives per direction the elements moved (``DataMoveAttr.DATA_ELEM_MOVE_COUNT``)
and their width in bits (``DataMoveAttr.DATA_PRECISION``): ``DataDirection.RD_OUT_TO_LOW`` is
DRAM -> SRAM, ``DataDirection.WR_IN_BY_LOW`` SRAM -> DRAM; bytes = elements x bits / 8.
``cme.memory_word_access[operand][-1]`` (the DRAM accesses ZigZag prices, in 409-bit words
counted in 64-bit granules per transfer period) is kept as a cross-check column.

Output: ``#`` comment lines naming the versions, then CSV with the header ``COLUMNS``, one row per
GEMM in the order given. Per-GEMM search times go to stderr as they finish.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version

HERE = os.path.dirname(os.path.abspath(__file__))
HW_YAML = os.path.join(HERE, "peers", "zigzag_edge16_ws.yaml")
MAPPING_YAML = os.path.join(HERE, "peers", "zigzag_edge16_ws_mapping.yaml")

COLUMNS = [
    "layer", "m", "n", "k", "opt", "lpf_limit",
    "dram_read_bytes_A", "dram_read_bytes_B", "dram_read_bytes_C", "dram_write_bytes_C",
    "dram_total_bytes", "c_write_bits", "dram_word_accesses", "latency_cycles", "energy_pj",
    "search_s", "mapping",
]


def gemm_layer(name: str, m: int, n: int, k: int) -> dict:
    """One GEMM in ZigZag's yaml workload schema (passed as a python list of layers)."""
    return {
        "id": 0,
        "name": name,
        "operator_type": "Gemm",
        "equation": "O[b][k]+=I[b][c]*W[c][k]",
        "dimension_relations": [],
        "loop_dims": ["B", "C", "K"],
        "loop_sizes": [m, k, n],
        "operand_precision": {"I": 8, "W": 8, "O": 32, "O_final": 8},
        "operand_source": {"I": 0, "W": 0},  # both inputs are constants that start in DRAM
    }


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(float(x), 1)


def fmt_mapping(cme) -> str:
    """Temporal loops per operand and memory level, innermost level first (reg | SRAM | DRAM
    for W, SRAM | DRAM for I and O); B = GEMM M, C = GEMM K, K = GEMM N."""
    parts = []
    tm = cme.temporal_mapping.mapping_dic_stationary
    for op in sorted(tm, key=str):
        levels = [" ".join(f"{dim}{_num(size)}" for dim, size in loops) or "-"
                  for loops in tm[op]]
        parts.append(f"{op}: " + " | ".join(levels))
    return "; ".join(parts)


def evaluate(name: str, m: int, n: int, k: int, opt: str, hw: str, mapping: str,
             lpf: int) -> dict:
    """ZigZag's best mapping for ``opt`` of one GEMM, and its DRAM traffic per operand."""
    from zigzag.api import get_hardware_performance_zigzag
    from zigzag.hardware.architecture.memory_port import DataDirection
    from zigzag.mapping.data_movement import DataMoveAttr

    logging.disable(logging.WARNING)  # ZigZag logs every stage at INFO and warns of the mapping
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as dump:
        _, _, cmes = get_hardware_performance_zigzag(
            [gemm_layer(name, m, n, k)], hw, mapping, opt=opt, dump_folder=dump,
            lpf_limit=lpf, loma_show_progress_bar=False)
    seconds = time.perf_counter() - t0
    cme = cmes[0][1][0][0]  # the single layer's best CostModelEvaluation

    def top(op_name: str) -> tuple[float, float, int, int]:
        op = next(o for o in cme.mapping.unit_mem_data_movement if str(o) == op_name)
        dm = cme.mapping.unit_mem_data_movement[op][-1]
        count = dm.get_attribute(DataMoveAttr.DATA_ELEM_MOVE_COUNT)
        bits = dm.get_attribute(DataMoveAttr.DATA_PRECISION)
        rd = count.get(DataDirection.RD_OUT_TO_LOW) * bits.get(DataDirection.RD_OUT_TO_LOW)
        wr = count.get(DataDirection.WR_IN_BY_LOW) * bits.get(DataDirection.WR_IN_BY_LOW)
        words = cme.memory_word_access[op][-1]
        return rd / 8, wr / 8, bits.get(DataDirection.WR_IN_BY_LOW), sum(
            words.get(d) for d in DataDirection)

    a_rd, _, _, a_words = top("I")
    b_rd, _, _, b_words = top("W")
    c_rd, c_wr, c_bits, c_words = top("O")
    return {
        "layer": name, "m": m, "n": n, "k": k, "opt": opt, "lpf_limit": lpf,
        "dram_read_bytes_A": _num(a_rd), "dram_read_bytes_B": _num(b_rd),
        "dram_read_bytes_C": _num(c_rd), "dram_write_bytes_C": _num(c_wr),
        "dram_total_bytes": _num(a_rd + b_rd + c_rd + c_wr), "c_write_bits": c_bits,
        "dram_word_accesses": _num(a_words + b_words + c_words),
        "latency_cycles": _num(cme.latency_total2), "energy_pj": round(cme.energy_total, 1),
        "search_s": round(seconds, 1), "mapping": fmt_mapping(cme),
    }


def _evaluate(args: tuple) -> dict:
    row = evaluate(*args)
    print(f"zigzag: {row['layer']} ({row['m']}, {row['n']}, {row['k']}) opt={row['opt']}: "
          f"{row['search_s']:.1f} s", file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gemm", nargs=4, action="append", required=True,
                    metavar=("NAME", "M", "N", "K"), help="a GEMM to evaluate (repeatable)")
    ap.add_argument("--hw", default=HW_YAML, help="ZigZag accelerator yaml")
    ap.add_argument("--mapping", default=MAPPING_YAML, help="ZigZag mapping yaml")
    ap.add_argument("--opt", choices=["energy", "latency", "EDP"], default="energy")
    ap.add_argument("--lpf", type=int, default=8,
                    help="LOMA loop-prime-factor limit (ZigZag's default is 6)")
    ap.add_argument("--jobs", type=int, default=1, help="GEMMs searched in parallel")
    args = ap.parse_args(argv)

    work = [(name, int(m), int(n), int(k), args.opt, args.hw, args.mapping, args.lpf)
            for name, m, n, k in args.gemm]
    print(f"# zigzag-dse {version('zigzag-dse')}, python {platform.python_version()}, "
          f"numpy {version('numpy')}, accelerator {os.path.basename(args.hw)}, mapping "
          f"{os.path.basename(args.mapping)}, opt {args.opt}, lpf_limit {args.lpf}")
    sys.stdout.flush()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(_evaluate, work))
    else:
        rows = [_evaluate(w) for w in work]
    out = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    out.writeheader()
    out.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
