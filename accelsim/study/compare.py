"""Comparing training methods: one row of figures per method, savings against each baseline.

A *run directory* holds one method's ``metrics.json`` (from training) and ``report.json`` (from
simulation). ``compare`` reads any number of them and builds ``comparison.json``: per method its
accuracy, energy (total and by component), GEMM energy, parameter-movement energy, parameter
memory, latency and peak on-chip occupancy, and the savings of every method against FP32 and
against QAT, each figure naming its baseline.

A run traced from shapes alone (``accelsim trace``, ``accelsim run --shape-only``: its
``metrics.json`` says ``shape_only``) measured no accuracy: its row has ``accuracy`` null and
``shape_only`` true, the document ``shape_only`` true and a ``note`` saying so, the table and the
CSV show "n/a (shape-only)", and no accuracy saving is computed against or for it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from accelsim.energy.model import COMPONENTS
from accelsim.errors import AccelsimError

BASELINES = ("fp32", "qat", "bnn")
# A baseline is compared against these methods only (FP32 against every other method).
BASELINE_OF = {"fp32": None, "qat": None, "bnn": ("bnn-lowmem",)}
PARAM_TENSORS = ("weights", "master_weights")

# Metrics where less is better, saved as a percentage against each baseline.
SAVED = ("gemm_energy_pj", "param_movement_energy_pj", "energy_total_pj", "latency_s",
         "param_memory_bytes", "training_memory_bytes", "peak_onchip_bytes",
         "energy_to_target_pj")

DEFINITIONS = {
    "accuracy": "final test accuracy of the deployed (quantised) model",
    "gemm_energy_pj": "arithmetic energy of every GEMM (the MAC component)",
    "param_movement_energy_pj": "DRAM and SRAM energy moving weights and master weights",
    "energy_pj": "total energy and its components (MAC, each SRAM, DRAM, static)",
    "param_memory_bytes": "bytes of every parameter copy the method keeps",
    "training_memory_bytes": "modelled peak memory of one training iteration: parameters, "
                             "optimizer state, what is kept for backward, gradients "
                             "(accelsim.train.memory)",
    "latency_s": "simulated time of the whole training run",
    "peak_onchip_bytes": "largest sum of the SRAMs' peak occupancies",
    "energy_to_target_pj": "energy spent until the test accuracy, measured after each epoch, "
                           "first reaches target_accuracy (APT states its savings this way); "
                           "null if it never does. The target is given (--target-accuracy) "
                           "or the lowest final accuracy of the methods compared, which every "
                           "one of them reaches",
    "to_target": "the epoch, iterations, energy and simulated time until target_accuracy",
    "savings": "(baseline - method) / baseline x 100 %: positive means the method spends less",
    "shape_only": "the trace was written from the network's shapes (accelsim trace), without "
                  "data or training: energy, latency and memory hold, no accuracy was measured",
}
SHAPE_ONLY_ACCURACY = "n/a (shape-only)"
SHAPE_ONLY_NOTE = ("no accuracy was measured for {methods}: shape-only traces (written from the "
                   "network's shapes, without data or training)")


class CompareError(AccelsimError):
    """A run directory lacks what a comparison needs."""


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CompareError(f"{path.parent}: no {path.name} (run `accelsim {what}` first)") \
            from None
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path}: not valid JSON ({exc.msg})") from None


def method_row(run_dir: str | Path) -> dict[str, Any]:
    """The comparison figures of one run directory."""
    run = Path(run_dir)
    metrics = _load(run / "metrics.json", "train")
    report = _load(run / "report.json", "simulate")
    shape_only = metrics.get("shape_only") is True
    energy = report["energy_pj"]
    by_tensor = report["energy_pj_by_tensor"]
    buffers = report["buffers"]
    return {
        "method": metrics["method"],
        "workload": metrics["workload"],
        "hardware": report["hardware"],
        "run_dir": str(run),
        "accuracy": None if shape_only else metrics["test_accuracy"],
        "shape_only": shape_only,
        "energy_pj": energy,
        "energy_total_pj": energy["total"],
        "gemm_energy_pj": energy["mac"],
        "param_movement_energy_pj": sum(by_tensor.get(t, 0.0) for t in PARAM_TENSORS),
        "param_memory_bytes": metrics["memory"]["param_memory_bytes"],
        "param_copies_bytes": metrics["memory"]["param_copies_bytes"],
        "training_memory_bytes": metrics["training_memory"]["peak_bytes"],
        "latency_s": report["latency_s"],
        "total_cycles": report["total_cycles"],
        "peak_onchip_bytes": sum(b["peak_bytes"] for b in buffers.values()),
        "peak_occupancy_bytes": {name: b["peak_bytes"] for name, b in buffers.items()},
        "iterations": metrics["iterations"],
        "epochs": metrics.get("epochs"),
        "history": [] if shape_only else metrics.get("history", []),
        "energy_by_iteration": report.get("energy_pj_by_iteration"),
        "cycles_by_iteration": report.get("cycles_by_iteration", []),
    }


def _saving(base: float | None, value: float | None) -> float | None:
    if base is None or value is None or base == 0:
        return None
    return 100.0 * (base - value) / base


def to_target(row: dict[str, Any], target: float) -> dict[str, Any] | None:
    """Energy and time until ``row``'s test accuracy first reaches ``target`` (after an epoch;
    training is only evaluated there), from the report's per-iteration figures; None if it
    never does."""
    history, energy = row["history"], row["energy_by_iteration"]
    if row["accuracy"] is None or not history or energy is None or not row["epochs"]:
        return None
    steps = row["iterations"] // row["epochs"]
    seconds_per_cycle = row["latency_s"] / row["total_cycles"] if row["total_cycles"] else 0.0
    for entry in history:
        if entry["test_accuracy"] >= target:
            n = min(entry["epoch"] * steps, len(energy))
            return {"epoch": entry["epoch"], "iterations": n,
                    "energy_pj": sum(energy[:n]),
                    "latency_s": sum(row["cycles_by_iteration"][:n]) * seconds_per_cycle}
    return None


def compare(run_dirs: list[str | Path], target_accuracy: float | None = None
            ) -> dict[str, Any]:
    """``comparison.json``'s document for these run directories; ``target_accuracy`` (a
    fraction) for the energy-to-accuracy figures (default: the lowest final accuracy)."""
    if not run_dirs:
        raise CompareError("compare needs at least one run directory")
    rows = [method_row(d) for d in run_dirs]
    measured = [row["accuracy"] for row in rows if row["accuracy"] is not None]
    target = target_accuracy if target_accuracy is not None else min(measured, default=None)
    for row in rows:
        history = row.pop("history")
        energy = row.pop("energy_by_iteration")
        cycles = row.pop("cycles_by_iteration")
        reached = None if target is None else to_target(
            {**row, "history": history, "energy_by_iteration": energy,
             "cycles_by_iteration": cycles}, target)
        row["to_target"] = reached
        if energy is None:  # a report written before it kept energy by iteration
            row["to_target_unknown"] = "report.json has no energy_pj_by_iteration: simulate again"
        row["energy_to_target_pj"] = None if reached is None else reached["energy_pj"]
    methods = {}
    for row in rows:
        if row["method"] in methods:
            raise CompareError(f"{row['run_dir']}: method {row['method']!r} appears twice")
        methods[row["method"]] = row
    for rank, base in enumerate(BASELINES):
        if base not in methods:
            continue
        only = BASELINE_OF[base]
        for name, row in methods.items():
            if name == base or name in BASELINES[:rank]:  # FP32 is never compared to QAT
                continue
            if only is not None and name not in only:
                continue
            accuracy, base_accuracy = row["accuracy"], methods[base]["accuracy"]
            row.setdefault("savings", {})[f"vs_{base}"] = {
                "baseline": base,
                **{m: _saving(methods[base][m], row[m]) for m in SAVED},
                "accuracy_points": None if accuracy is None or base_accuracy is None
                else 100.0 * (accuracy - base_accuracy),
            }
    first = rows[0]
    doc = {"workload": first["workload"], "hardware": first["hardware"],
           "definitions": DEFINITIONS, "target_accuracy": target, "methods": methods,
           "shape_only": any(row["shape_only"] for row in rows)}
    if doc["shape_only"]:
        doc["note"] = SHAPE_ONLY_NOTE.format(methods=", ".join(
            name for name, row in methods.items() if row["shape_only"]))
    return doc


def _accuracy(row: dict[str, Any]) -> str:
    """A method's accuracy as the table and the CSV show one that was never measured."""
    return SHAPE_ONLY_ACCURACY if row.get("shape_only") else "n/a"


TABLE_ROWS = [
    ("accuracy", "test accuracy", lambda v: f"{v:.2%}"),
    ("gemm_energy_pj", "GEMM energy (uJ)", lambda v: f"{v / 1e6:,.1f}"),
    ("param_movement_energy_pj", "param movement (uJ)", lambda v: f"{v / 1e6:,.1f}"),
    ("energy_total_pj", "total energy (uJ)", lambda v: f"{v / 1e6:,.1f}"),
    ("latency_s", "latency (ms)", lambda v: f"{v * 1e3:,.1f}"),
    ("param_memory_bytes", "param memory (KiB)", lambda v: f"{v / 1024:,.1f}"),
    ("training_memory_bytes", "training memory (KiB)", lambda v: f"{v / 1024:,.1f}"),
    ("peak_onchip_bytes", "peak on-chip (KiB)", lambda v: f"{v / 1024:,.1f}"),
    ("energy_to_target_pj", "energy to target (uJ)", lambda v: f"{v / 1e6:,.1f}"),
]


def _missing(key: str, row: dict[str, Any]) -> str:
    """What the table shows for a figure a method does not have."""
    if key == "energy_to_target_pj" and row["accuracy"] is not None:
        return "n/a" if row.get("to_target_unknown") else "not reached"
    return _accuracy(row)


def table(doc: dict[str, Any]) -> str:
    """The comparison as a text table: methods as columns, then each saving with its baseline."""
    methods = doc["methods"]
    savings = [(name, key) for name, row in methods.items() for key in row.get("savings", {})]
    header = ["", *methods, *[f"{n} {k.replace('_', ' ')}" for n, k in savings]]
    lines = [header]
    for key, label, fmt in TABLE_ROWS:
        if key == "energy_to_target_pj":
            if doc.get("target_accuracy") is None:
                continue
            label = f"energy to {doc['target_accuracy']:.2%} (uJ)"
        cells = [label, *[_missing(key, row) if row[key] is None else fmt(row[key])
                          for row in methods.values()]]
        for name, base in savings:
            s = methods[name]["savings"][base]
            value = s["accuracy_points"] if key == "accuracy" else s[key]
            unit = " pts" if key == "accuracy" else "%"
            cells.append("n/a" if value is None else f"{value:+.1f}{unit}" if key == "accuracy"
                         else f"{value:.1f}{unit}")
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    out = [f"{doc['workload']} on {doc['hardware']} (savings: positive = less than the "
           "baseline)"]
    if doc.get("note"):
        out.append(doc["note"])
    for row in lines:
        out.append("  ".join(c.rjust(w) if i else c.ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(out)


def comparison_csv(doc: dict[str, Any]) -> str:
    """One row per method: the figures, then each saving column named by its baseline."""
    keys = ["accuracy", "gemm_energy_pj", "param_movement_energy_pj", "energy_total_pj",
            *[f"energy_{c}_pj" for c in COMPONENTS],
            "latency_s", "param_memory_bytes", "training_memory_bytes", "peak_onchip_bytes",
            "energy_to_target_pj"]
    saving_cols = [f"saving_{m}_vs_{b}_pct" for b in BASELINES for m in SAVED]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", *keys, *saving_cols, "shape_only"])
    for name, row in doc["methods"].items():
        values = [row[k] if k in row else row["energy_pj"][k[len("energy_"):-len("_pj")]]
                  for k in keys]
        if values[0] is None:
            values[0] = _accuracy(row)
        values = ["" if v is None else v for v in values]
        savings = []
        for b in BASELINES:
            s = row.get("savings", {}).get(f"vs_{b}")
            savings += [("" if s is None or s[m] is None else f"{s[m]:.4f}") for m in SAVED]
        writer.writerow([name, *values, *savings, "true" if row.get("shape_only") else "false"])
    return buf.getvalue()
