"""Atomic, checksummed checkpoints and the run cache keyed by a hash of the training configuration.

**Atomic files.** Every file is written to a temporary name in the same folder, flushed and fsync'ed, then
renamed over the target (``os.replace`` is atomic on POSIX), and the folder entry is fsync'ed: a process
killed with SIGKILL at any moment, or a write that fails on a full disk, leaves either the previous file or
the new one, never a torn one, and no temporary file.

**Checkpoints** (:func:`save_checkpoint`, :func:`load_checkpoint`). ``checkpoint.pt`` is a plain
``torch.save`` file (tensors and primitive containers only) and is only ever read with
``torch.load(..., weights_only=True)``: a planted file holding pickled objects runs no code. Beside it,

* ``checkpoint.sha256.json`` — ``{"format": 1, "checkpoints": [{"sha256", "bytes", "step"}, ...]}``, the
  SHA-256 of the file bytes of the last :data:`KEEP` checkpoints written (newest first);
* ``checkpoint.prev.pt`` — the previous verified checkpoint.

One save writes the checksum file (new digest first, the older ones kept), then copies the current
checkpoint to ``checkpoint.prev.pt`` if it verifies, then writes the new ``checkpoint.pt``; at every moment
in between, each file present matches a digest in the checksum file. A file is *usable* when its digest is
listed and it loads weights-only as a trainer checkpoint; a truncated, empty, garbage or bit-flipped file is
not, and the loader falls back to ``checkpoint.prev.pt`` with a warning (:class:`CheckpointError` when
neither is usable). A folder without a checksum file (written before checksums existed) or with an
unreadable one cannot be verified: its checkpoints are accepted when they load, with a warning.

**The run cache.** A run lives in ``<root>/<name>-<hash>/`` where ``hash`` is :func:`config_hash` of the
configuration fields that determine the result (device, checkpoint period and other run-time knobs
excluded), so a second request for the same configuration finds and reuses it. :func:`run_lock` is the one
writer per run folder: an exclusive ``flock`` on ``<folder>/.lock`` (released when the holder exits or dies),
blocking (the cache: the second process waits, then finds the finished run) or not (``icl-verify train``:
the second process is refused with :class:`RunBusy`).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"
PREV_CHECKPOINT = "checkpoint.prev.pt"
CHECKSUMS = "checkpoint.sha256.json"
CONFIG = "config.json"
TRAJECTORY = "trajectory.npz"
SUMMARY = "summary.json"
LOCK = ".lock"
#: Digests kept in the checksum file: the new checkpoint, the current one and the previous one, so that every
#: file present at any moment of a save is covered.
KEEP = 3
CHECKSUM_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint file is damaged (unreadable, truncated, checksum mismatch, not a trainer checkpoint)."""


class RunBusy(RuntimeError):
    """Another process holds the run folder's lock."""


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


def torch_bytes(obj: Any) -> bytes:
    """``torch.save(obj)`` into memory."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save`` made atomic (no checksum; checkpoints go through :func:`save_checkpoint`)."""
    return atomic_write_bytes(path, torch_bytes(obj))


def load_torch(path: str | Path) -> Any:
    """Load a file written by :func:`save_torch` onto the CPU, weights-only (tensors and primitive containers;
    no pickled object is ever executed). Not verified: checkpoints are read with :func:`read_checkpoint`."""
    return torch.load(path, map_location="cpu", weights_only=True)


# ------------------------------------------------------------------------------------------ checkpoints
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_checksums(folder: str | Path) -> list[dict] | None:
    """The entries of ``<folder>/checkpoint.sha256.json`` (newest first); ``None`` when it is missing or
    unreadable (then nothing can be verified; see the module docstring)."""
    path = Path(folder) / CHECKSUMS
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_bytes())
        entries = [e for e in doc["checkpoints"] if isinstance(e, dict) and isinstance(e.get("sha256"), str)]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"{path} is unreadable ({type(exc).__name__}); checkpoints in {path.parent} cannot be "
                      f"verified", stacklevel=2)
        return None
    return entries


def _decode(data: bytes, path: Path) -> dict:
    """Weights-only load of checkpoint bytes, checked to be a trainer checkpoint (:class:`CheckpointError` if not)."""
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, garbage, a pickled object refused by weights_only, ...
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}"
                              f"{': ' + first if first else ''})") from None
    if (not isinstance(state, dict) or not isinstance(state.get("model"), dict)
            or not isinstance(state.get("step"), int) or state["step"] < 0 or not isinstance(state.get("hash"), str)):
        raise CheckpointError(f"{path} is not a trainer checkpoint (no hash, step or model entry)")
    return state


def read_checkpoint(path: str | Path, *, checksums: list[dict] | None | bool = True) -> dict:
    """One checkpoint file, verified against its folder's checksum file, loaded weights-only onto the CPU.

    ``checksums``: the entries to verify against (``True``: read them from the file's folder; ``None``: none
    exist, accept a file that loads, with a warning). Raises :class:`CheckpointError` naming the file and what
    is wrong (missing, unreadable, checksum mismatch, not a trainer checkpoint).
    """
    path = Path(path)
    if checksums is True:
        checksums = read_checksums(path.parent)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise CheckpointError(f"{path} is empty")
    if checksums is None:
        warnings.warn(f"{path} has no checksum ({CHECKSUMS} missing or unreadable): it cannot be verified",
                      stacklevel=2)
    elif sha256(data) not in {e["sha256"] for e in checksums}:
        raise CheckpointError(f"{path} does not match its checksum in {CHECKSUMS} (damaged or replaced)")
    return _decode(data, path)


def save_checkpoint(state: Mapping[str, Any], folder: str | Path) -> Path:
    """Write ``state`` as ``<folder>/checkpoint.pt``, keeping the previous verified one as ``checkpoint.prev.pt``.

    Order (see the module docstring): checksum file, copy of the current checkpoint, new checkpoint; each
    write atomic, so a crash or a full disk at any point leaves every present file verifiable.
    """
    folder = Path(folder)
    data = torch_bytes(dict(state))
    entry = {"sha256": sha256(data), "bytes": len(data), "step": int(state.get("step", -1))}
    known = read_checksums(folder) or []
    cur, old = folder / CHECKPOINT, None
    if cur.exists():
        try:
            old = cur.read_bytes()
        except OSError:
            old = None
        if old is not None and sha256(old) not in {e["sha256"] for e in known}:
            old = None  # a damaged or unverifiable checkpoint is not kept as the fallback
    entries = [entry] + [e for e in known if e["sha256"] != entry["sha256"]]
    atomic_write_bytes(folder / CHECKSUMS, (json.dumps({"format": CHECKSUM_FORMAT, "checkpoints": entries[:KEEP]},
                                                       indent=1) + "\n").encode())
    if old is not None and old != data:
        atomic_write_bytes(folder / PREV_CHECKPOINT, old)
    return atomic_write_bytes(cur, data)


def load_checkpoint(folder: str | Path, *, use=None) -> tuple[dict, Path] | None:
    """The newest usable checkpoint of ``folder`` as ``(state, path)``; ``None`` when there is none at all.

    Tries ``checkpoint.pt``, then ``checkpoint.prev.pt``. ``use(state)`` (optional) applies a state and may
    raise :class:`CheckpointError` to reject it (e.g. it does not fit the model); other exceptions propagate.
    Falling back to the previous checkpoint because the newest is damaged is warned about; when files exist
    but none is usable, :class:`CheckpointError` names every file and what is wrong with it.
    """
    folder = Path(folder)
    paths = [p for p in (folder / CHECKPOINT, folder / PREV_CHECKPOINT) if p.exists()]
    if not paths:
        return None
    checksums = read_checksums(folder)
    problems: list[str] = []
    for path in paths:
        try:
            state = read_checkpoint(path, checksums=checksums)
            if use is not None:
                use(state)
        except CheckpointError as exc:
            problems.append(str(exc) if str(path) in str(exc) else f"{path}: {exc}")
            continue
        if problems:
            warnings.warn(f"{'; '.join(problems)}; using the previous checkpoint {path} (step {state['step']})",
                          stacklevel=2)
        return state, path
    raise CheckpointError("; ".join(problems))


# --------------------------------------------------------------------------------------- other files
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
    """The arrays of an ``.npz`` file (never pickled objects: ``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# ----------------------------------------------------------------------------------------- run cache
def config_hash(identity: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a JSON-able configuration (key order does not matter)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_dir(root: str | Path, name: str, identity: Mapping[str, Any]) -> Path:
    """``<root>/<name>-<hash>``: where the run with this configuration lives (not created)."""
    return Path(root) / f"{name}-{config_hash(identity)}"


_held: dict[str, tuple[int, int]] = {}   # lock path -> (owning thread, depth): re-entrant within one thread
_held_guard = threading.Lock()


@contextlib.contextmanager
def run_lock(folder: str | Path, *, blocking: bool = True) -> Iterator[None]:
    """An exclusive advisory lock on ``<folder>/.lock`` for the duration of the block (released on exit or death).

    Re-entrant within one thread (``cached_train`` holds it while ``train`` takes it again). ``blocking=False``
    raises :class:`RunBusy` at once when another process (or thread) holds it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key, me = os.path.realpath(folder / LOCK), threading.get_ident()
    with _held_guard:
        owner, depth = _held.get(key, (None, 0))
        if owner == me:
            _held[key] = (me, depth + 1)
    if owner == me:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] = (me, _held[key][1] - 1)
        return
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            raise RunBusy(f"{folder} is in use by another process (lock {folder / LOCK} is held)") from None
        with _held_guard:
            _held[key] = (me, 1)
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
