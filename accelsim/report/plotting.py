"""What every accelsim figure shares: matplotlib set up headless and reproducible, a palette,
energy in readable units, stacked bars, and saving as PNG and SVG.

matplotlib is imported only when a figure is drawn (the Agg backend: no screen needed). SVGs
are byte-identical across runs (a fixed hash salt for element ids, no creation date), so
figures can be committed and diffed. Colours follow the Okabe-Ito palette, which stays
distinct in greyscale and for colour-blind readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000")
ENERGY_UNITS = (("pJ", 1.0), ("nJ", 1e3), ("µJ", 1e6), ("mJ", 1e9), ("J", 1e12))


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend with accelsim's style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": 100,
                         "axes.spines.top": False, "axes.spines.right": False,
                         "svg.hashsalt": "accelsim", "svg.fonttype": "path"})
    return plt


def save_figure(fig: Any, out: Path, name: str) -> list[Path]:
    """``out/name.png`` and ``out/name.svg``; the figure is closed afterwards."""
    plt = pyplot()
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return paths


def energy_unit(largest_pj: float) -> tuple[str, float]:
    """The unit that shows ``largest_pj`` as a number between 1 and 1000 (pJ to J)."""
    name, scale = ENERGY_UNITS[0]
    for name_, scale_ in ENERGY_UNITS:
        if largest_pj >= scale_:
            name, scale = name_, scale_
    return name, scale


def stacked_bars(ax: Any, labels: Sequence[str], series: Mapping[str, Sequence[float]], *,
                 horizontal: bool = False, legend: bool = True) -> float:
    """Bars over ``labels``, one stacked segment per series (legend outside, on the right);
    returns the longest bar. Horizontal bars keep long or many labels readable."""
    import numpy as np

    base = np.zeros(len(labels))
    for (name, values), colour in zip(series.items(), OKABE_ITO, strict=False):
        if horizontal:
            ax.barh(labels, values, left=base, label=name, color=colour, edgecolor="white")
        else:
            ax.bar(labels, values, bottom=base, label=name, color=colour, edgecolor="white")
        base += np.asarray(values, dtype=float)
    top = float(base.max()) if len(base) else 0.0
    (ax.set_xlim if horizontal else ax.set_ylim)(0, max(top, 1e-12) * 1.08)
    if legend:
        ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return top
