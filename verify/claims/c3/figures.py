"""C3 display: excess risk of the full, pruned (layer 1 all + best later head) and single-head models per member."""
from __future__ import annotations

import numpy as np

from ... import style


def display(data: dict, p, figures) -> list[str]:
    E = len(data["full"])
    keys = (("full", "full model"), ("pruned", "layer-1 heads + best later head"), ("single", "best head per layer"))
    fig, axes = style.figure(width=1.2 + 1.4 * E)
    ax = axes[0, 0]
    w = 0.8 / len(keys)
    for i, (k, label) in enumerate(keys):
        x = np.arange(E) + (i - 1) * w
        ax.bar(x, data[k], w, yerr=data[k + "_se"], color=style.COLORS[i], label=label, capsize=2)
    ax.set(xticks=range(E), xticklabels=[f"member {e}" for e in range(E)],
           ylabel="excess risk $\\mathbb{E}(\\hat y-\\beta^\\top x_q)^2$", title="C3: pruning (trained model)")
    ax.legend(fontsize=7)
    return [style.save(fig, figures("c3_pruning.png"))]
