"""C2 display: head-importance heat map (rise in excess risk when one head is masked) per member, layer x head."""
from __future__ import annotations

import numpy as np

from ... import style


def display(data: dict, p, figures) -> list[str]:
    rise = np.asarray(data["rise"])
    E, nL, H = rise.shape
    fig, axes = style.figure(ncols=E, width=2.2 + 0.5 * H, height=0.8 + 0.6 * nL)
    for e in range(E):
        ax = axes[0, e]
        im = ax.imshow(rise[e], cmap="viridis", aspect="auto")
        for layer in range(nL):
            for h in range(H):
                ax.text(h, layer, f"{rise[e, layer, h]:.2f}", ha="center", va="center", fontsize=6, color="w")
        ax.set(xticks=range(H), yticks=range(nL), xticklabels=[str(h + 1) for h in range(H)],
               yticklabels=[str(l + 1) for l in range(nL)], xlabel="head", ylabel="layer",
               title=f"C2: rise in excess risk, member {e}")
        fig.colorbar(im, ax=ax, fraction=0.05)
    return [style.save(fig, figures("c2_head_importance.png"))]
