r"""How much memory a training run needs, estimated from its configuration before anything is allocated.

:func:`estimate` counts, in bytes (``b`` = 4 for float32, 8 for float64; ``D = d + N``, ``P = E H (3 D^2 + N D)``
parameters, ``n_log`` = ``len(log_steps(steps, log_every))``):

* **model** — parameters, gradients and optimiser state (Adam: two moments; SGD: one momentum buffer)
  ``4 P b``, plus the float64 initialisation of one member and the stacked copy ``H (3D^2 + ND)·8 + P b``;
* **step** — one step's prompts and activations (:meth:`~numerics.attention.EnsembleAttention.loss_and_grad`):
  ``E B (3 L D + 6 H L + 5 H D + d N + 2 D) b`` (tokens and their copy; scores, weights and their gradients;
  per-head queries, attended tokens and their gradients; task vectors);
* **log** — the trajectory: ``n_log`` rows of ``8 (2 + 3E + 6 E H N)`` bytes of data and ten numpy headers
  (112 bytes each), held five times at a checkpoint (the lists, the stacked copy, ``torch.save``'s buffer,
  the bytes written and the previous checkpoint read back);
* **eval** — one Monte Carlo chunk of :func:`~numerics.training.evaluate` (``k`` prompts,
  ``k = max(64, min(8192, 2^24 / (L E (3H + D))))``): ``k L (3 D·8 + E (D + 3H) b)``;
* **checkpoint** — ``torch.save`` of parameters and optimiser state in memory, the bytes read back: ``3·3 P b``.

The total is multiplied by :data:`SAFETY` = 2 (allocator slack, temporaries the count leaves out); measured
peaks of the resident set stay below the estimate (``tests/numerics/test_hardening.py``). On CUDA the
model, step and eval parts live on the device and are checked against its free memory.

:func:`available_memory` reads Linux's ``MemAvailable`` (``/proc/meminfo``), a cgroup v2 limit
(``memory.max - memory.current``) and ``RLIMIT_AS`` minus the process's ``VmSize``, the smallest of those
that exist; elsewhere nothing is known and :func:`check_memory` checks nothing.
"""
from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path

SAFETY = 2.0
GiB = 2**30


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per part of a run (see the module docstring); ``device`` parts are on the GPU for CUDA runs."""

    model: int
    step: int
    log: int
    eval: int
    checkpoint: int
    on_cuda: bool = False

    @property
    def device_bytes(self) -> int:
        return int(SAFETY * (self.model + self.step + self.eval))

    @property
    def host_bytes(self) -> int:
        return int(SAFETY * (self.log + self.checkpoint))

    @property
    def total(self) -> int:
        return self.device_bytes + self.host_bytes

    def describe(self) -> str:
        """The parts, e.g. ``model 0.1 GiB, step 12 GiB, ...; x2 safety``."""
        parts = ", ".join(f"{name} {_gib(getattr(self, name))}" for name in ("model", "step", "log", "eval",
                                                                              "checkpoint"))
        return f"{parts}; x{SAFETY:g} safety"


def _gib(n: float) -> str:
    return f"{n / GiB:.3g} GiB"


def n_log_rows(steps: int, log_every: int) -> int:
    """``len(log_steps(steps, log_every))`` without building the list (an upper bound within 2)."""
    early = sum(1 for k in range(64) if 2 ** (k / 2) < min(log_every, steps))
    return early + steps // log_every + 2


def estimate(cfg) -> MemoryEstimate:
    """The memory a run of ``cfg`` (a :class:`~numerics.training.TrainConfig`) needs (module docstring)."""
    E, H, B, L, d, N = cfg.ensemble, cfg.n_head, cfg.batch, cfg.L, cfg.d, cfg.n_out
    D, b = d + N, (8 if cfg.dtype == "float64" else 4)
    if getattr(cfg, "is_transformer", False):
        return _estimate_transformer(cfg, b)
    per_member = H * (3 * D * D + N * D)
    P = E * per_member
    model = 4 * P * b + per_member * 8 + P * b
    step = E * B * (3 * L * D + 6 * H * L + 5 * H * D + d * N + 2 * D) * b
    rows = n_log_rows(cfg.steps, cfg.log_every)
    log = 5 * rows * (8 * (2 + 3 * E + 6 * E * H * N) + 10 * 112)
    k = max(64, min(8192, 2**24 // (L * E * (3 * H + D))))
    ev = k * L * (3 * D * 8 + E * (D + 3 * H) * b)
    checkpoint = 9 * P * b
    return MemoryEstimate(model, step, log, ev, checkpoint, on_cuda=str(cfg.device).startswith("cuda"))


def _read_kib(path: str, field: str) -> int | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_memory() -> tuple[int, str] | None:
    """``(bytes, where from)`` this process can still allocate on the host, or ``None`` when unknown."""
    found: list[tuple[int, str]] = []
    avail = _read_kib("/proc/meminfo", "MemAvailable")
    if avail is not None:
        found.append((avail, "MemAvailable in /proc/meminfo"))
    try:
        cg_max = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cg_max != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            found.append((max(0, int(cg_max) - used), "cgroup memory.max"))
    except (OSError, ValueError):
        pass
    try:
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ValueError, OSError):
        soft = resource.RLIM_INFINITY
    if soft != resource.RLIM_INFINITY:
        vm = _read_kib("/proc/self/status", "VmSize") or 0
        found.append((max(0, soft - vm), "address-space limit (ulimit -v)"))
    return min(found) if found else None


def _cuda_free(device: str) -> int | None:
    try:
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    except Exception:  # no CUDA, or the query is unsupported: no check
        return None


def check_memory(cfg, *, available: tuple[int, str] | None | bool = True) -> MemoryEstimate:
    """Raise a one-line ``ValueError`` when the run cannot fit in the memory available (the estimate in it).

    ``available``: ``True`` reads it (:func:`available_memory`); a ``(bytes, source)`` pair is used as given
    (tests); ``None`` skips the host check.
    """
    est = estimate(cfg)
    if available is True:
        available = available_memory()
    hint = "reduce the batch, L, d, heads or ensemble size (or log less often)"
    if est.on_cuda:
        free = _cuda_free(cfg.device)
        if free is not None and est.device_bytes > free:
            raise ValueError(f"not enough memory: this run needs about {_gib(est.device_bytes)} on {cfg.device} "
                             f"({est.describe()}) but {_gib(free)} is free there; {hint}")
        need = est.host_bytes
    else:
        need = est.total
    if available is not None and need > available[0]:
        raise ValueError(f"not enough memory: this run needs about {_gib(need)} ({est.describe()}) but only "
                         f"{_gib(available[0])} is available ({available[1]}); {hint}")
    return est


def _estimate_transformer(cfg, b: int) -> MemoryEstimate:
    """SPEC 7.3's transformer (:class:`numerics.transformer.EnsembleTransformer`), counted like :func:`estimate`:
    ``P = E (W D + n_layer (4 H k W + 2 W M + M + 5 W) + 2 W + N W)`` parameters (``k = W // H``, ``M`` = mlp);
    one step keeps, per layer and token, the stream, its norm, q/k/v/attended values, the MLP's two activations
    and the scores and weights ``(H, n)`` for autograd, about ``E B (n+1) n_layer (6 W + 4 H k + 2 M + 3 H n) b``
    (x2 for the gradients); evaluation chunks are ``k_eval = max(64, min(8192, 2^24 / (n E (3H + D))))`` prompts
    holding one layer's activations at a time (no gradients)."""
    E, H, B, n, d, N = cfg.ensemble, cfg.n_head, cfg.batch, cfg.L, cfg.d, cfg.n_out
    W, M, nL, D = cfg.width, cfg.mlp, cfg.n_layer, d + N
    k = max(1, W // H)
    per_member = W * D + nL * (4 * H * k * W + 2 * W * M + M + 5 * W) + 2 * W + N * W
    P = E * per_member
    model = 4 * P * b + per_member * 8 + P * b
    act = (n + 1) * (6 * W + 4 * H * k + 2 * M + 3 * H * n)  # one layer, one prompt
    step = 2 * E * B * nL * act * b
    rows = n_log_rows(cfg.steps, cfg.log_every)
    log = 5 * rows * (8 * (2 + 3 * E) + 10 * 112)
    k_eval = max(64, min(8192, 2**24 // (n * E * (3 * H + D))))
    ev = k_eval * (n * 3 * D * 8 + E * act * b)
    checkpoint = 9 * P * b
    return MemoryEstimate(model, step, log, ev, checkpoint, on_cuda=str(cfg.device).startswith("cuda"))
