"""One plotting style for every figure (STYLE.md 7).

Theory is drawn as solid lines, simulations (Monte Carlo, ODE, trained models) as markers with error
bars, trivial baselines and published reference points as dashed grey or open grey markers. Figures are
``matplotlib.figure.Figure`` objects made without pyplot, so importing this module never changes a Jupyter
user's backend and nothing here calls ``plt.show()``; figures are saved atomically.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from numerics.checkpoint import atomic_write_bytes

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
RC = {
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 9,
}


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.2):
    """A new figure with the house style; returns ``(fig, axes)``."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width * ncols, height * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        for key, value in RC.items():
            if key.startswith("axes.grid") and value:
                ax.grid(True, alpha=RC["grid.alpha"])
    return fig, axes


def theory_line(ax, x, y, label: str, color: str, **kw):
    return ax.plot(x, y, "-", color=color, lw=1.6, label=label, **kw)


def sim_points(ax, x, y, err, label: str, color: str, marker: str = "o", **kw):
    return ax.errorbar(x, y, yerr=err, fmt=marker, color=color, ms=4, capsize=2, lw=1, label=label, **kw)


def baseline(ax, x, y, label: str, **kw):
    return ax.plot(x, y, "--", color="0.5", lw=1.2, label=label, **kw)


def reference_points(ax, x, y, label: str = "published reference", **kw):
    return ax.plot(x, y, "s", mfc="none", mec="0.35", ms=6, label=label, **kw)


def save(fig, path: Path) -> str:
    """Save ``fig`` to ``path`` atomically (the one atomic-write helper) and return the path as text."""
    path = Path(path)
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.tight_layout()
        fig.savefig(buf, format=path.suffix.lstrip(".") or "png")
    atomic_write_bytes(path, buf.getvalue())
    return str(path)
