r"""Head allocation of a multi-task model (SPEC 3.7): ``"split-up"``, ``"superposition"`` or ``"other"``.

One classifier for the mean-field flow's end states and for trained models (numpy only). Input, per model: the
per-head, per-coordinate KQ diagonal ``omega (H, d)`` (trained: the diagonal of :math:`\mathrm{KQ}^{(h)}_{1:d,1:d}`) and
the per-head, per-task OV entries ``mu (H, N)`` (trained: :math:`\mathrm{OV}^{(h)}_{d+k,k}`), and the supports.

Definitions (thresholds are conventions; :data:`THRESHOLDS` holds the defaults, and the claim H10 reports the
verdicts over a range of them):

* head :math:`h`'s **link** to task :math:`k`: :math:`g_{hk}=|\mu_{hk}|\,\operatorname{rms}(\omega_{h,S_k})` (its share of
  the task's preconditioner :math:`\Gamma_k=\sum_h\mu_{hk}\omega_h` on the task's coordinates); head :math:`h`
  **serves** task :math:`k` when :math:`g_{hk}\ge\tau_{\rm serve}\max_{h'}g_{h'k}`;
* task :math:`k` is **zero-sum** when :math:`|\sum_h\mu_{hk}|/\sum_h|\mu_{hk}|\le\tau_{\rm zs}` and its serving heads carry
  both signs of :math:`\mu_{hk}` (a :math:`\pm` group);
* a serving head of task :math:`k` is **supported** on :math:`S_k` when
  :math:`\operatorname{rms}(\omega_{h,\bar S_k})\le\tau_{\rm supp}\operatorname{rms}(\omega_{h,S_k})` (true when
  :math:`S_k` is every coordinate).

**split-up**: every task zero-sum with at least two serving heads, every serving head serves exactly one task and
is supported on it. **superposition**: every task zero-sum, some head serves two or more tasks. **other**: the rest
(a task not zero-sum or unserved, or one-task heads whose KQ leaks off the support). Everything is a function of
the multiset of heads, so the verdict does not depend on head order (nor, therefore, on exchanging the two heads of
an exact :math:`\pm` pair, which is what flipping the pair's sign does), nor on relabelling tasks with their supports.
"""
from __future__ import annotations

import numpy as np

PHASES = ("split-up", "superposition", "other")
#: Default thresholds (conventions): serving share, zero-sum ratio, off-support KQ ratio.
THRESHOLDS = {"serve": 0.1, "zero_sum": 0.1, "support": 0.25}


def _check(omega, mu, supports):
    omega = np.asarray(omega, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if omega.ndim != 2 or mu.ndim != 2 or omega.shape[0] != mu.shape[0] or omega.shape[0] < 1:
        raise ValueError(f"omega must be (H, d) and mu (H, N) with the same H >= 1, got {omega.shape} and {mu.shape}")
    if not (np.all(np.isfinite(omega)) and np.all(np.isfinite(mu))):
        raise ValueError("omega and mu must be finite")
    d, N = omega.shape[1], mu.shape[1]
    try:
        sup = [sorted(int(i) for i in s) for s in supports]
    except TypeError:
        raise ValueError(f"supports must be a sequence of coordinate sets, got {supports!r}") from None
    if len(sup) != N:
        raise ValueError(f"supports must hold one set per task (N = {N}), got {len(sup)}")
    m = np.zeros((N, d), dtype=bool)
    for k, s in enumerate(sup):
        if not s or min(s) < 0 or max(s) >= d or len(set(s)) != len(s):
            raise ValueError(f"supports: task {k + 1} must be distinct coordinates in [0, {d - 1}], got {s}")
        m[k, s] = True
    return omega, mu, m


def _rms(a, mask):
    n = mask.sum()
    return np.sqrt((a[..., mask] ** 2).sum(-1) / n) if n else np.zeros(a.shape[:-1])


def head_task_table(omega, mu, supports, *, serve: float = THRESHOLDS["serve"],
                    support: float = THRESHOLDS["support"]) -> dict:
    """The classifier's intermediate numbers: ``link (H, N)``, ``serves (H, N)`` bool, ``zero_sum (N,)``,
    ``both_signs (N,)``, ``supported (H, N)`` bool, ``off_ratio (H, N)``."""
    omega, mu, m = _check(omega, mu, supports)
    H, N = mu.shape
    on = np.stack([_rms(omega, m[k]) for k in range(N)], 1)                 # (H, N)
    off = np.stack([_rms(omega, ~m[k]) for k in range(N)], 1)
    link = np.abs(mu) * on
    top = link.max(0)
    serves = (link >= serve * top) & (top > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        zs = np.abs(mu.sum(0)) / np.abs(mu).sum(0)
        off_ratio = np.where(on > 0, off / on, np.inf)
    zs = np.where(np.isfinite(zs), zs, 1.0)
    both = np.array([(mu[serves[:, k], k] > 0).any() and (mu[serves[:, k], k] < 0).any() for k in range(N)])
    return {"link": link, "serves": serves, "zero_sum": zs, "both_signs": both, "off_ratio": off_ratio,
            "supported": off_ratio <= support}


def classify(omega, mu, supports, *, serve: float = THRESHOLDS["serve"], zero_sum: float = THRESHOLDS["zero_sum"],
             support: float = THRESHOLDS["support"]) -> str:
    """``"split-up"``, ``"superposition"`` or ``"other"`` for one model (module docstring)."""
    for name, val in (("serve", serve), ("zero_sum", zero_sum), ("support", support)):
        if not (isinstance(val, (int, float)) and np.isfinite(val) and 0 <= val):
            raise ValueError(f"{name} threshold must be a finite number >= 0, got {val!r}")
    t = head_task_table(omega, mu, supports, serve=serve, support=support)
    serves = t["serves"]
    tasks_ok = bool(np.all(t["zero_sum"] <= zero_sum) and np.all(t["both_signs"]))
    if not tasks_ok:
        return "other"
    per_head = serves.sum(1)
    if np.any(per_head >= 2):
        return "superposition"
    if np.all(serves.sum(0) >= 2) and np.all(t["supported"][serves]):
        return "split-up"
    return "other"


def classify_many(omega, mu, supports, **thresholds) -> list[str]:
    """:func:`classify` of each model of ``omega (E, H, d)``, ``mu (E, H, N)``."""
    omega, mu = np.asarray(omega, dtype=float), np.asarray(mu, dtype=float)
    if omega.ndim != 3 or mu.ndim != 3 or omega.shape[0] != mu.shape[0]:
        raise ValueError(f"omega must be (E, H, d) and mu (E, H, N), got {omega.shape} and {mu.shape}")
    return [classify(omega[e], mu[e], supports, **thresholds) for e in range(omega.shape[0])]


def fractions(phases) -> dict[str, float]:
    """Share of each of :data:`PHASES` in a list of verdicts."""
    n = len(phases)
    if n == 0:
        raise ValueError("phases must not be empty")
    return {p: sum(x == p for x in phases) / n for p in PHASES}


def from_circuits(kq, ov, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-head, per-coordinate ``omega (E, H, d)`` (diagonal of the KQ x-block) and per-head, per-task
    ``mu (E, H, N)`` (:math:`\\mathrm{OV}_{d+k,k}`) from circuits ``kq (E, H, D, D)``, ``ov (E, H, D, N)``."""
    kq, ov = np.asarray(kq, dtype=float), np.asarray(ov, dtype=float)
    if kq.ndim != 4 or ov.ndim != 4 or kq.shape[:2] != ov.shape[:2] or kq.shape[-1] != ov.shape[2]:
        raise ValueError(f"kq must be (E, H, D, D) and ov (E, H, D, N), got {kq.shape} and {ov.shape}")
    N = ov.shape[-1]
    if not 1 <= d <= kq.shape[-1] - N:
        raise ValueError(f"d must be in [1, {kq.shape[-1] - N}], got {d}")
    omega = np.diagonal(kq[..., :d, :d], axis1=-2, axis2=-1).copy()
    idx = np.arange(N)
    return omega, ov[..., d + idx, idx].copy()


def parse_supports(text: str, *, d: int) -> tuple[tuple[int, ...], ...]:
    """Supports from 1-based inclusive ranges, one task per comma: ``"1-4,3-6"`` -> ``((0,1,2,3), (2,3,4,5))``; a
    task may join ranges or single coordinates with ``+`` (``"5-6+1-2"``). ``ValueError`` (one line) for an empty
    list, an empty or reversed range, a coordinate outside ``[1, d]`` or a repeated coordinate."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"supports must name at least one task (N >= 1) as ranges like 1-4,3-6, got {text!r}")
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    tasks = []
    for k, task in enumerate(text.split(","), start=1):
        coords: list[int] = []
        for part in task.split("+"):
            part = part.strip()
            lo, sep, hi = part.partition("-")
            try:
                a = int(lo)
                b = int(hi) if sep else a
            except ValueError:
                raise ValueError(f"supports: task {k} must be 1-based ranges like 1-4, got {task.strip()!r}") from None
            if b < a:
                raise ValueError(f"supports: task {k} has an empty range {part!r}")
            if a < 1 or b > d:
                raise ValueError(f"supports: task {k} range {part!r} is outside 1..{d} (d = {d})")
            coords.extend(range(a - 1, b))
        if len(set(coords)) != len(coords):
            raise ValueError(f"supports: task {k} repeats a coordinate: {task.strip()!r}")
        tasks.append(tuple(sorted(coords)))
    return tuple(tasks)


def format_supports(supports) -> str:
    """Inverse of :func:`parse_supports` (1-based ranges; ``+`` between runs of one task)."""
    out = []
    for s in supports:
        s = sorted(int(i) for i in s)
        runs, start = [], s[0]
        for a, b in zip(s, s[1:] + [None]):
            if b is None or b != a + 1:
                runs.append(f"{start + 1}-{a + 1}" if a != start else f"{a + 1}")
                start = b
        out.append("+".join(runs))
    return ",".join(out)
