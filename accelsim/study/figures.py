"""The study's figures, as PNG and SVG, made to be read at a glance.

Every energy axis is in the unit that suits its largest value (pJ to J) and says that it is
the whole training run and how many iterations it took; layers are listed on the vertical axis
so their names never overlap; occupancy panels share one time axis; widths are whole bits.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.energy.model import COMPONENTS
from accelsim.report.plotting import OKABE_ITO, energy_unit, pyplot, save_figure, stacked_bars
from accelsim.trace.records import PHASES


def _reports(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m: json.loads((Path(row["run_dir"]) / "report.json").read_text())
            for m, row in doc["methods"].items()}


def _run_length(doc: dict[str, Any]) -> str:
    """'675 iterations' (or per method, when they differ), saying when the traces were
    written from shapes alone (no training: no accuracy anywhere in the figures)."""
    counts = {m: row.get("iterations") for m, row in doc["methods"].items()}
    if len(set(counts.values())) == 1:
        length = f"{next(iter(counts.values())):,} iterations"
    else:
        length = ", ".join(f"{m} {n:,}" for m, n in counts.items()) + " iterations"
    return length + (", shape-only traces: nothing trained, no accuracy measured"
                     if doc.get("shape_only") else "")


def energy_breakdown(doc: dict[str, Any], out: Path) -> list[Path]:
    """Stacked energy by component per method, and data-movement energy by tensor."""
    plt = pyplot()
    methods = list(doc["methods"])
    reports = _reports(doc)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"wspace": 0.6})
    totals = [doc["methods"][m]["energy_pj"]["total"] for m in methods]
    unit, scale = energy_unit(max(totals, default=0.0))
    stacked_bars(left, methods, {comp: [doc["methods"][m]["energy_pj"][comp] / scale
                                        for m in methods] for comp in COMPONENTS})
    left.set_ylabel(f"energy ({unit})")
    left.set_title("Energy by component")
    tensors: list[str] = []
    for m in methods:
        tensors += [t for t in reports[m]["energy_pj_by_tensor"] if t not in tensors]
    moved = [sum(reports[m]["energy_pj_by_tensor"].values()) for m in methods]
    unit, scale = energy_unit(max(moved, default=0.0))
    stacked_bars(right, methods, {t: [reports[m]["energy_pj_by_tensor"].get(t, 0.0) / scale
                                      for m in methods] for t in tensors})
    right.set_ylabel(f"energy ({unit})")
    right.set_title("Data movement by tensor")
    fig.suptitle(f"{doc['workload']} on {doc['hardware']}: the whole training run "
                 f"({_run_length(doc)})")
    return save_figure(fig, out, "energy_breakdown")


def bitwidth_heatmap(metrics: dict[str, Any], out: Path, name: str = "rct_bitwidths"
                     ) -> list[Path]:
    """Each layer's width over the training iterations (RCT's adaptation at a glance), one
    colour per whole bit."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    plt = pyplot()
    history = metrics["bitwidth_history"]
    layers = list(history[0]["bits"])
    total = max(metrics["iterations"], 1)
    grid = np.zeros((len(layers), total))
    for n, entry in enumerate(history):
        end = history[n + 1]["iteration"] if n + 1 < len(history) else total
        for row, layer in enumerate(layers):
            grid[row, entry["iteration"]:end] = entry["bits"][layer]
    low, high = int(grid.min()), int(grid.max())
    widths = list(range(low, high + 1))
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, len(widths)))
    norm = BoundaryNorm([w - 0.5 for w in widths] + [high + 0.5], len(widths))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(layers) + 1.6))
    image = ax.imshow(grid, aspect="auto", cmap=ListedColormap(colours), norm=norm,
                      interpolation="nearest", extent=(0, total, len(layers) - 0.5, -0.5))
    ax.set_yticks(range(len(layers)), layers)
    ax.set_xlabel("training iteration")
    source = ""
    if metrics.get("shape_only"):  # nothing trained: the widths were given, not chosen
        source = ", shape-only: widths from " + (
            "a recorded run" if metrics.get("widths_from") else "the configuration")
    ax.set_title(f"{metrics['method'].upper()} per-layer bitwidth, {metrics['workload']} "
                 f"({total:,} iterations{source})")
    bar = fig.colorbar(image, ax=ax, label="bits", ticks=widths)
    bar.ax.set_yticklabels([str(w) for w in widths])
    return save_figure(fig, out, name)


def _occupancy_rows(run: Path, end: float | None) -> list[dict[str, str]]:
    with open(run / "occupancy.csv") as f:
        return [r for r in csv.DictReader(f) if end is None or float(r["cycle"]) <= end]


def occupancy(doc: dict[str, Any], out: Path) -> list[Path]:
    """Each SRAM's occupancy during the first training iteration of each method, every panel
    on the same time axis (so a slower method's iteration is visibly longer)."""
    plt = pyplot()
    methods = list(doc["methods"])
    reports = _reports(doc)
    fig, axes = plt.subplots(len(methods), 1, figsize=(10, 2.0 * len(methods) + 0.6),
                             squeeze=False, sharex=True)
    for ax, m in zip(axes[:, 0], methods, strict=True):
        report = reports[m]
        end = report["cycles_by_iteration"][0] if report["cycles_by_iteration"] else None
        rows = _occupancy_rows(Path(doc["methods"][m]["run_dir"]), end)
        ax.set_ylabel(f"{m}\nKiB")
        if not rows:
            continue
        t = np.array([float(r["cycle"]) for r in rows]) / 1e3
        for col, colour in zip([c for c in rows[0] if c != "cycle"], OKABE_ITO, strict=False):
            ax.step(t, [int(r[col]) / 1024 for r in rows], where="post", label=col[:-6],
                    color=colour, linewidth=1)
        capacity = max(b["capacity_bytes"] for b in report["buffers"].values()) / 1024
        ax.axhline(capacity, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(0, capacity * 1.1)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, frameon=False, fontsize=9, loc="upper right",
                   ncol=len(labels), bbox_to_anchor=(1.0, 1.0))
    axes[-1, 0].set_xlabel("thousand cycles into the first training iteration")
    fig.suptitle(f"On-chip buffer occupancy on {doc['hardware']} (dotted: capacity)", x=0.4)
    fig.tight_layout()
    return save_figure(fig, out, "occupancy")


def energy_by_layer_phase(doc: dict[str, Any], out: Path) -> list[Path]:
    """Energy per layer, stacked by phase, one panel per method on one scale; layers on the
    vertical axis, in network order, those that spent nothing left out."""
    plt = pyplot()
    methods = list(doc["methods"])
    reports = _reports(doc)
    layers: list[str] = []
    for m in methods:
        layers += [name for name, parts in reports[m]["energy_pj_by_layer"].items()
                   if parts["total"] > 0 and name not in layers]
    tallest = max((reports[m]["energy_pj_by_layer"].get(layer, {}).get("total", 0.0)
                   for m in methods for layer in layers), default=0.0)
    unit, scale = energy_unit(tallest)
    fig, axes = plt.subplots(1, len(methods), figsize=(3.6 * len(methods) + 1.2,
                                                        0.32 * len(layers) + 1.8),
                             sharey=True, squeeze=False)
    longest = 0.0
    for ax, m in zip(axes[0], methods, strict=True):
        cells = reports[m].get("energy_pj_by_layer_phase", {})
        series = {phase: [cells.get(layer, {}).get(phase, 0.0) / scale for layer in layers]
                  for phase in PHASES}
        longest = max(longest, stacked_bars(ax, layers, series, horizontal=True,
                                            legend=ax is axes[0, -1]))
        ax.set_title(m)
        ax.set_xlabel(f"energy ({unit})")
    axes[0, 0].invert_yaxis()  # the network's first layer on top
    axes[0, 0].set_xlim(0, longest * 1.08)  # the panels share one scale
    for ax in axes[0]:
        ax.set_xlim(0, longest * 1.08)
    fig.suptitle(f"Energy by layer and phase, the whole training run ({_run_length(doc)})")
    return save_figure(fig, out, "energy_by_layer_phase")


def all_figures(doc: dict[str, Any], out: Path) -> list[Path]:
    paths = energy_breakdown(doc, out) + occupancy(doc, out) + energy_by_layer_phase(doc, out)
    for m, row in doc["methods"].items():
        metrics = json.loads((Path(row["run_dir"]) / "metrics.json").read_text())
        if len(metrics["bitwidth_history"]) > 1 or m == "rct":
            paths += bitwidth_heatmap(metrics, out, f"{m}_bitwidths")
    return paths
