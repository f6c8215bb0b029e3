"""Writing a report directory: ``report.json``, ``layers.csv`` and ``occupancy.csv``.

Each file is written atomically (``accelsim.atomic``): an interrupted run never leaves a
half-written file where a reader expects a whole one.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from accelsim.atomic import write_atomic
from accelsim.energy.model import COMPONENTS
from accelsim.report.summary import Report


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def layers_csv(report: Report) -> str:
    header = ["layer", "cycles", "macs", "energy_pj", *[f"{c}_pj" for c in COMPONENTS]]
    rows = []
    t = report.totals
    for layer, parts in t.layer_energy.items():
        rows.append([layer, t.layer_cycles[layer], t.layer_macs[layer],
                     f"{sum(parts.values()):.6g}", *[f"{parts[c]:.6g}" for c in COMPONENTS]])
    return _csv(header, rows)


def occupancy_csv(report: Report) -> str:
    names = list(report.totals.peak)
    rows = [[f"{t:g}", *levels] for t, *levels in report.timeline]
    return _csv(["cycle", *[f"{n}_bytes" for n in names]], rows)


def write_report(report: Report, out_dir: str | Path) -> dict[str, Any]:
    """Write the report files into ``out_dir``; returns the JSON document."""
    out = Path(out_dir)
    doc = report.to_json()
    write_atomic(out / "report.json", json.dumps(doc, indent=2, sort_keys=False) + "\n")
    write_atomic(out / "layers.csv", layers_csv(report))
    write_atomic(out / "occupancy.csv", occupancy_csv(report))
    return doc
