"""Atomic checkpoints and the run cache keyed by a hash of the training configuration.

Every file is written to a temporary name in the same folder, flushed and fsync'ed, then renamed over
the target (``os.replace`` is atomic on POSIX), and the folder entry is fsync'ed: a process killed with
SIGKILL at any moment leaves either the previous file or the new one, never a torn one.

A run lives in ``<root>/<name>-<hash>/`` where ``hash`` is :func:`config_hash` of the configuration fields
that determine the result (device, checkpoint period and other run-time knobs excluded), so a second
request for the same configuration finds and reuses it; :func:`run_lock` serialises two processes that
ask for the same run at the same time.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
TRAJECTORY = "trajectory.npz"
SUMMARY = "summary.json"


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename, fsync of the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:   # a full disk or an interrupt leaves no debris (and the old file intact)
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save`` made atomic."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_torch(path: str | Path) -> Any:
    """Load a checkpoint written by :func:`save_torch` onto the CPU, weights-only (tensors and primitive
    containers; no pickled objects are ever executed)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def save_json(obj: Any, path: str | Path) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def load_json(path: str | Path) -> Any:
    with open(path) as fh:
        return json.load(fh)


def save_npz(arrays: Mapping[str, np.ndarray], path: str | Path) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def config_hash(identity: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a JSON-able configuration (key order does not matter)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_dir(root: str | Path, name: str, identity: Mapping[str, Any]) -> Path:
    """``<root>/<name>-<hash>``: where the run with this configuration lives (not created)."""
    return Path(root) / f"{name}-{config_hash(identity)}"


@contextlib.contextmanager
def run_lock(folder: str | Path) -> Iterator[None]:
    """An exclusive advisory lock on ``<folder>/.lock`` for the duration of the block (released on exit or death)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
