"""Independent random streams: every stream is a ``numpy.random.SeedSequence`` keyed by (run seed, *purpose).

``stream(seed, "H6", "risk-vs-L")`` and ``stream(seed, "H5", "prompts")`` are independent by construction
(different spawn keys), and so are ``stream(0, ...)`` and ``stream(1, ...)`` (different entropy): a rerun with
another ``--seed`` is an independent replicate, and no two claims share a stream by accident. Ensemble members
are spawned children of their ensemble's stream. String parts of a key are hashed with SHA-256 (stable across
processes and Python versions; ``hash()`` is salted).
"""
from __future__ import annotations

import hashlib

import numpy as np

from theory.validate import check_int

#: Largest run seed accepted (SeedSequence takes any non-negative int; 2**63 - 1 keeps it one torch seed).
MAX_SEED = 2**63 - 1


def _part(p) -> int:
    if isinstance(p, (bool, np.bool_)):
        raise ValueError(f"seed key parts must be str or int, got {p!r}")
    if isinstance(p, (int, np.integer)):
        return check_int("seed key part", p, lo=0, hi=2**32 - 1)
    if isinstance(p, str):
        return int.from_bytes(hashlib.sha256(p.encode()).digest()[:4], "little")
    raise ValueError(f"seed key parts must be str or int, got {type(p).__name__}")


def stream(seed: int, *key: str | int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of run seed ``seed`` for the purpose ``key`` (e.g. ``("H5", "prompts")``)."""
    seed = check_int("seed", seed, lo=0, hi=MAX_SEED)
    return np.random.SeedSequence(entropy=seed, spawn_key=tuple(_part(p) for p in key))


def as_int(ss: np.random.SeedSequence) -> int:
    """A 63-bit integer seed drawn from ``ss`` (for ``torch.Generator.manual_seed``)."""
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def seed_int(seed: int, *key: str | int) -> int:
    """``as_int(stream(seed, *key))``: one integer seed for one purpose."""
    return as_int(stream(seed, *key))


def member_seeds(seed: int, *key: str | int, n: int) -> tuple[int, ...]:
    """Integer seeds of ``n`` ensemble members: the spawned children of ``stream(seed, *key)``.

    Member ``i`` is the same for every ``n > i`` (children are keyed by their index), so a larger ensemble
    extends a smaller one.
    """
    n = check_int("n", n, lo=1, hi=10**6)
    parent = stream(seed, *key)
    return tuple(as_int(np.random.SeedSequence(entropy=parent.entropy, spawn_key=parent.spawn_key + (i,)))
                 for i in range(n))


def numpy_generator(seed: int, *key: str | int) -> np.random.Generator:
    """A numpy ``Generator`` on the stream ``(seed, *key)``."""
    return np.random.default_rng(stream(seed, *key))


def check_key(key) -> tuple[str | int, ...]:
    """A stream key as a non-empty tuple of str/int parts (a bare str is one part); ``ValueError`` otherwise."""
    key = (key,) if isinstance(key, (str, int, np.integer)) and not isinstance(key, bool) else tuple(key)
    if not key:
        raise ValueError("key must name a purpose (a non-empty tuple of str/int parts), got ()")
    for p in key:
        _part(p)
    return key
