"""accelsim's DRAM traffic per GEMM beside ZigZag's, on accelsim's default machine.

ZigZag (KU Leuven's design-space explorer, PyPI ``zigzag-dse`` 3.9.1) searches the loop order and
memory allocation of each layer (LOMA) for the least energy. Here it is given accelsim's
``edge-16x16`` (``peers/zigzag_edge16_ws.yaml`` and ``peers/zigzag_edge16_ws_mapping.yaml``: a
16x16 weight-stationary array of 8-bit MACs, three 64 KiB SRAMs, one LPDDR4 port, accelsim's
energy figures) and the same plain GEMMs accelsim tiles: A[M,K] and B[K,N] at 8 bits, C[M,N] with
32-bit partial sums and 8-bit final outputs. For each layer the script prints the minimum traffic
(each matrix moved once, C at 8 bits), ZigZag's DRAM bytes (its energy-optimal mapping),
accelsim's (``plan_gemm(hw, op).dram_bytes`` on ``edge-16x16``), their ratio and accelsim's tile
(``tile_rows`` x ``tile_cols`` x ``tile_time``, loop order); then both per operand.

ZigZag runs in a venv of its own (``zigzag-dse==3.9.1`` and ``six``, which 3.9.1 imports without
declaring it), built once by ``peer_venv.ensure_venv`` under ``~/.cache/accelsim/zigzag-venv``
(``$ACCELSIM_ZIGZAG_VENV`` or ``--venv`` elsewhere; ZigZag needs Python >= 3.11,
``--base-python`` picks the interpreter it is built from), where ``zigzag_peer.py`` drives it.

Run::

    python benchmarks/zigzag_agreement.py              # installs ZigZag once, searches: ~10 min
    python benchmarks/zigzag_agreement.py --jobs 2     # two searches at a time
    python benchmarks/zigzag_agreement.py --recorded   # ZigZag's figures from peers/zigzag_results.csv
    python benchmarks/zigzag_agreement.py --record     # search, then rewrite that CSV

``--recorded`` installs and runs nothing but accelsim (for machines without a package index);
accelsim's side is always computed afresh. ``--markdown`` prints the tables as markdown.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer_venv import ensure_venv

from accelsim.hardware import load_hardware
from accelsim.sim.tiling import Plan, plan_gemm
from accelsim.trace.records import Gemm

HERE = Path(__file__).resolve().parent
PEER_SCRIPT = HERE / "zigzag_peer.py"
RECORDED = HERE / "peers" / "zigzag_results.csv"
HW_YAML = HERE / "peers" / "zigzag_edge16_ws.yaml"
MAPPING_YAML = HERE / "peers" / "zigzag_edge16_ws_mapping.yaml"
MACHINE = "edge-16x16"

#: What ZigZag's venv holds: 3.9.1 imports ``six`` (zigzag/parser/upgraded_validator.py) without
#: declaring it, so a clean install cannot ``import zigzag.api`` without it.
ZIGZAG_REQUIREMENTS = ("zigzag-dse==3.9.1", "six")
DEFAULT_VENV = "~/.cache/accelsim/zigzag-venv"
VENV_ENV_VAR = "ACCELSIM_ZIGZAG_VENV"
LPF_LIMIT = 8  # LOMA's loop-prime-factor limit (ZigZag's default, 6, merges more factors)

# id, what it is, phase, M, N, K (C[M,N] = A[M,K].B[K,N]; convolutions as im2col GEMMs:
# forward M = output pixels x batch, N = filters, K = R*S*C; the weight gradient dW = X^T.dY
# has M = R*S*C, N = filters, K = output pixels x batch; the data gradient dX = dY.W^T has
# M = output pixels, N = R*S*C, K = filters).
LAYERS = [
    ("resnet18_conv2x_fwd", "ResNet-18 conv2_x", "fwd", 3136, 64, 576),
    ("resnet18_conv1_fwd", "ResNet-18 conv1", "fwd", 12544, 64, 147),
    ("pointwise_fwd", "1x1 pointwise conv", "fwd", 784, 256, 128),
    ("fc_b32_fwd", "FC 400-120, batch 32", "fwd", 32, 120, 400),
    ("lenet_conv1_b32_fwd", "LeNet-5 conv1, batch 32", "fwd", 25088, 6, 25),
    ("resnet18_conv2x_wgrad", "ResNet-18 conv2_x", "bwd_weight", 576, 64, 3136),
    ("lenet_conv2_b32_wgrad", "LeNet-5 conv2, batch 32", "bwd_weight", 150, 16, 3200),
    ("resnet18_conv2x_dgrad", "ResNet-18 conv2_x", "bwd_data", 3136, 576, 64),
    ("fc_b32_wgrad", "FC 400-120, batch 32", "bwd_weight", 400, 120, 32),
    ("resnet18_layer4_wgrad", "ResNet-18 layer4 3x3", "bwd_weight", 4608, 512, 49),
]
PHASE = {"fwd": "fwd", "bwd_weight": "wgrad", "bwd_data": "dgrad"}
OPERANDS = (("A rd", "dram_read_bytes_A", "a"), ("B rd", "dram_read_bytes_B", "b"),
            ("C rd", "dram_read_bytes_C", "c_rd"), ("C wr", "dram_write_bytes_C", "c_wr"))


class ZigZagPeerError(RuntimeError):
    """ZigZag could not be installed or run, or its output is not what this script expects."""


def ensure_zigzag(venv_dir: str | Path | None = None,
                  base_python: str | Path | None = None) -> Path:
    """The python of ZigZag's venv, built on first use (needs a package index and Python 3.11+)."""
    if base_python is None and sys.version_info < (3, 11):
        raise ZigZagPeerError("zigzag-dse 3.9.1 needs Python >= 3.11; pass --base-python "
                              "(a Python 3.11+ interpreter to build its venv from)")
    return ensure_venv(ZIGZAG_REQUIREMENTS, check_import="import six, zigzag.api",
                       env_var=VENV_ENV_VAR, default=DEFAULT_VENV, venv_dir=venv_dir,
                       base_python=base_python, error=ZigZagPeerError, announce=True)


def parse_peer_csv(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """``#`` comment lines (without the ``#``) and rows (numbers as int or float) of a CSV in
    ``zigzag_peer.py``'s format; lines before the header that are not comments are ignored."""
    lines = text.splitlines()
    comments = [ln[1:].strip() for ln in lines if ln.startswith("#")]
    try:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("layer,"))
    except StopIteration:
        raise ZigZagPeerError("no CSV header ('layer,...') in ZigZag's output") from None
    rows = []
    for row in csv.DictReader(ln for ln in lines[start:] if not ln.startswith("#")):
        rows.append({k: v if k in ("layer", "opt", "mapping") else
                     float(v) if "." in v else int(v) for k, v in row.items()})
    return comments, rows


def run_zigzag(layers: list[tuple], python: str | Path, *, jobs: int = 1,
               lpf: int = LPF_LIMIT) -> tuple[list[str], list[dict[str, Any]]]:
    """ZigZag's energy-optimal mapping of each layer, run by ``python`` (its venv's)."""
    cmd = [str(python), str(PEER_SCRIPT), "--hw", str(HW_YAML), "--mapping", str(MAPPING_YAML),
           "--opt", "energy", "--lpf", str(lpf), "--jobs", str(jobs)]
    for name, _, _, m, n, k in layers:
        cmd += ["--gemm", name, str(m), str(n), str(k)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # progress on stderr
    if proc.returncode != 0:
        raise ZigZagPeerError(f"{PEER_SCRIPT.name} failed (exit {proc.returncode}); "
                              f"command: {' '.join(cmd)}")
    return parse_peer_csv(proc.stdout)


def read_recorded(path: Path = RECORDED) -> tuple[list[str], list[dict[str, Any]]]:
    return parse_peer_csv(path.read_text())


def write_recorded(peer_meta: list[str], rows: list[dict[str, Any]], jobs: int,
                   path: Path = RECORDED) -> None:
    """Record a live run, with a header saying how it was made."""
    header = f"""\
ZigZag's DRAM traffic for the GEMMs of benchmarks/zigzag_agreement.py, which reads it with
--recorded (accelsim's side is always recomputed). Lines starting with '#' are comments; the
rest is CSV with the header below them.
Recorded on {date.today().isoformat()} by `python benchmarks/zigzag_agreement.py --record --jobs {jobs}` on a 2-core
x86-64 machine (search_s: wall seconds of each layer's search, {jobs} at a time).

Peer: {'; '.join(peer_meta)}.
Venv: pip install {' '.join(ZIGZAG_REQUIREMENTS)} (3.9.1 imports six without declaring it);
driver: benchmarks/zigzag_peer.py (calls zigzag.api.get_hardware_performance_zigzag).

Machine: benchmarks/peers/zigzag_edge16_ws.yaml, accelsim's edge-16x16 for ZigZag: 16x16 8-bit
MACs; spatial mapping benchmarks/peers/zigzag_edge16_ws_mapping.yaml, weight stationary, rows
D1 <- C (GEMM K) 16, cols D2 <- K (GEMM N) 16; an 8-bit weight register per PE; three 64 KiB
SRAMs (ifmap I1, filter I2, ofmap O), force_double_buffering; one DRAM read/write port of
409 bits/cycle for all three operands; energies from accelsim's (MAC 0.3 pJ, SRAM 20.354 pJ per
64 bits, DRAM 8.558 pJ/bit read and 5.121 pJ/bit written).
Workload: one Gemm layer per GEMM, O[b][k] += I[b][c] * W[c][k] with B = M, C = K, K = N;
precision I 8, W 8, O 32 (partial sums), O_final 8; operand_source I and W from DRAM.
Search: LOMA (uneven), lpf_limit {rows[0]['lpf_limit']}, opt=energy: the mapping of least energy is kept.

Traffic: for each operand, the DRAM level of the chosen CostModelEvaluation,
cme.mapping.unit_mem_data_movement[operand][-1] (a DataMovePattern):
DataMoveAttr.DATA_ELEM_MOVE_COUNT x DataMoveAttr.DATA_PRECISION / 8 per direction,
DataDirection.RD_OUT_TO_LOW = DRAM reads, DataDirection.WR_IN_BY_LOW = DRAM writes
(A = I, B = W, C = O; dram_read_bytes_C = partial sums read back; c_write_bits = width of the C
writes). dram_word_accesses = sum of cme.memory_word_access[operand][-1] (409-bit words);
latency_cycles = cme.latency_total2; energy_pj = cme.energy_total; mapping =
cme.temporal_mapping.mapping_dic_stationary, temporal loops per operand and memory level,
innermost first (B = GEMM M, C = GEMM K, K = GEMM N).
"""
    out = io.StringIO()
    for line in header.splitlines():
        out.write(f"# {line}".rstrip() + "\n")
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(out.getvalue())


def accelsim_plan(m: int, n: int, k: int, phase: str) -> tuple[Plan, dict[str, int]]:
    """accelsim's plan on edge-16x16 (8-bit operands, 32-bit accumulators, 8-bit outputs) and
    its DRAM bytes per operand, summed from its tiles."""
    hw = load_hardware(MACHINE)
    op = Gemm(iter=0, layer="zigzag", phase=phase, m=m, n=n, k=k, a_bits=8, b_bits=8,
              acc_bits=32, c_bits=8)
    plan = plan_gemm(hw, op)
    parts = {"a": 0, "b": 0, "c_rd": 0, "c_wr": 0}
    for tile in plan.tiles:
        for step in tile.steps:
            if step.load is not None:
                parts["c_rd" if step.operand == "c" else step.operand] += step.load.bytes
            if step.write is not None:
                parts["c_wr"] += step.write.bytes
    return plan, parts


def minimum_bytes(m: int, n: int, k: int) -> int:
    """Each matrix moved once at 8 bits: A and B read, C written (final outputs only)."""
    return m * k + k * n + m * n


def table(head: list[str], rows: list[list[str]], markdown: bool, left: set[int]) -> str:
    """Columns in ``left`` are text (left-aligned), the others numbers."""
    if markdown:
        sep = ["---" if i in left else "---:" for i in range(len(head))]
        return "\n".join("| " + " | ".join(r) + " |" for r in [head, sep, *rows])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i in left else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def report(peer: dict[str, dict[str, Any]], layers: list[tuple], markdown: bool) -> str:
    main_rows, part_rows = [], []
    tally = {"equal": 0, "fewer": 0, "more": 0, "acc_min": 0, "zz_min": 0}
    for name, what, phase, m, n, k in layers:
        z = peer[name]
        if (z["m"], z["n"], z["k"]) != (m, n, k):
            raise ZigZagPeerError(f"{name}: ZigZag's figures are for ({z['m']}, {z['n']}, "
                                  f"{z['k']}), not ({m}, {n}, {k})")
        plan, parts = accelsim_plan(m, n, k, phase)
        ours, theirs, least = plan.dram_bytes, z["dram_total_bytes"], minimum_bytes(m, n, k)
        if sum(parts.values()) != ours:
            raise ZigZagPeerError(f"{name}: accelsim's tiles move {sum(parts.values()):,} "
                                  f"bytes, its plan says {ours:,}")
        tally["equal" if ours == theirs else "fewer" if ours < theirs else "more"] += 1
        tally["acc_min"] += ours == least
        tally["zz_min"] += theirs == least
        main_rows.append([
            f"{what} {PHASE[phase]} ({m}, {n}, {k})", f"{least:,}", f"{theirs:,}",
            f"{ours:,}", f"{ours / theirs:.3f}",
            f"{plan.tile_rows} x {plan.tile_cols} x {plan.tile_time}",
            "rows" if plan.rows_outer else "cols"])
        cells = [f"{what} {PHASE[phase]}"]
        for _, key, part in OPERANDS:
            cells.append(f"{z[key]:,} / {parts[part]:,}")
        cells += ["".join(o.upper() for o, r in plan.resident.items() if r) or "-",
                  f"{z['search_s']:.1f}"]
        part_rows.append(cells)
    out = [
        f"DRAM bytes per GEMM on {MACHINE} (A, B 8 bit; C 32-bit partial sums, 8-bit outputs):",
        "",
        table(["layer (M, N, K)", "minimum", "ZigZag", "accelsim", "accelsim/ZigZag",
               "accelsim tile (rows x cols x time)", "outer"], main_rows, markdown, {0, 5, 6}),
        "",
        f"accelsim equals ZigZag on {tally['equal']} of {len(layers)} layers, moves fewer bytes "
        f"on {tally['fewer']} and more on {tally['more']}; at the minimum: accelsim "
        f"{tally['acc_min']}, ZigZag {tally['zz_min']}.",
        "",
        "Per operand, ZigZag / accelsim bytes (C rd = partial sums read back; C wr = partial "
        "sums and outputs written):",
        "",
        table(["layer"] + [label for label, _, _ in OPERANDS]
              + ["accelsim resident", "ZigZag search s"], part_rows, markdown, {0, 5}),
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recorded", action="store_true",
                    help=f"ZigZag's figures from {RECORDED.relative_to(HERE.parent)}: "
                         "install and run nothing but accelsim")
    ap.add_argument("--record", action="store_true",
                    help=f"after a live run, rewrite {RECORDED.relative_to(HERE.parent)}")
    ap.add_argument("--layer", action="append", help="only these layers (by id; repeatable)")
    ap.add_argument("--jobs", type=int, default=1, help="ZigZag searches run at a time")
    ap.add_argument("--venv", help=f"ZigZag's venv (default ${VENV_ENV_VAR} or {DEFAULT_VENV})")
    ap.add_argument("--base-python", help="Python 3.11+ to build ZigZag's venv from")
    ap.add_argument("--zigzag-python",
                    help="an interpreter that already has zigzag-dse 3.9.1 and six (no venv)")
    ap.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    args = ap.parse_args(argv)

    layers = [layer for layer in LAYERS if not args.layer or layer[0] in args.layer]
    if args.layer and len(layers) != len(set(args.layer)):
        ap.error(f"unknown layer; known: {', '.join(layer[0] for layer in LAYERS)}")
    if args.record and (args.recorded or len(layers) != len(LAYERS)):
        ap.error("--record needs a live run of every layer (no --recorded, no --layer)")
    try:
        if args.recorded:
            meta, rows = read_recorded()
            source = f"recorded ({RECORDED.relative_to(HERE.parent)})"
        else:
            python = args.zigzag_python or ensure_zigzag(args.venv, args.base_python)
            t0 = time.perf_counter()
            meta, rows = run_zigzag(layers, python, jobs=args.jobs)
            source = f"searched now, {time.perf_counter() - t0:.0f} s"
            if args.record:
                write_recorded(meta, rows, args.jobs)
        peer = {row["layer"]: row for row in rows}
        missing = [layer[0] for layer in layers if layer[0] not in peer]
        if missing:
            raise ZigZagPeerError(f"no ZigZag figures for {', '.join(missing)}")
        peer_line = next((c for c in meta if c.startswith("Peer:")), None)
        print(f"ZigZag: {source}; " + (peer_line or (meta[0] if meta else "")).removeprefix(
            "Peer: "))
        print(report(peer, layers, args.markdown))
    except ZigZagPeerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
