"""Saving a claim's computed data beside its result: JSON for the structure, NPZ for the arrays, never pickle.

``save_data(path_stem, data)`` writes ``<stem>.json`` (numbers, text, lists, dicts; arrays replaced by
``{"__array__": key}``) and, when there are arrays, ``<stem>.npz`` (``allow_pickle=False`` on load). Both are
written atomically; ``load_data`` inverts ``save_data`` exactly (float64 arrays bit for bit).
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from numerics.checkpoint import atomic_write_bytes

FORMAT = 1


def _encode(obj, arrays: dict[str, np.ndarray], path: str):
    if isinstance(obj, np.ndarray) or (hasattr(obj, "detach") and hasattr(obj, "cpu")):
        arr = obj if isinstance(obj, np.ndarray) else obj.detach().cpu().numpy()
        if arr.dtype == object:
            raise ValueError(f"{path}: object arrays cannot be stored (no pickle)")
        key = f"a{len(arrays)}"
        arrays[key] = arr
        return {"__array__": key}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise ValueError(f"{path}: dict keys must be text, got {k!r}")
        return {k: _encode(v, arrays, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else {"__float__": repr(x)}
    if obj is None or isinstance(obj, str):
        return obj
    raise ValueError(f"{path}: cannot store a {type(obj).__name__} (numbers, text, lists, dicts and arrays only)")


def _decode(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


def _with(stem: Path, suffix: str) -> Path:
    """``stem`` plus ``suffix`` (``H5.data`` -> ``H5.data.json``; ``Path.with_suffix`` would drop ``.data``)."""
    return stem.with_name(stem.name + suffix)


def save_data(stem: str | Path, data: dict[str, Any]) -> list[Path]:
    """Write ``data`` to ``<stem>.json`` (+ ``<stem>.npz`` when it holds arrays); returns the paths written."""
    if not isinstance(data, dict):
        raise ValueError(f"claim data must be a dict, got {type(data).__name__}")
    stem = Path(stem)
    arrays: dict[str, np.ndarray] = {}
    body = {"format": FORMAT, "data": _encode(data, arrays, "data")}
    written = []
    if arrays:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        written.append(atomic_write_bytes(_with(stem, ".npz"), buf.getvalue()))
        body["npz"] = _with(stem, ".npz").name
    written.append(atomic_write_bytes(_with(stem, ".json"), json.dumps(body, indent=1).encode()))
    return written


def load_data(stem: str | Path) -> dict[str, Any]:
    """Read what :func:`save_data` wrote; a missing or damaged file is a one-line ``ValueError`` naming it."""
    stem = Path(stem)
    path = _with(stem, ".json")
    try:
        body = json.loads(path.read_text())
        if not isinstance(body, dict) or body.get("format") != FORMAT or "data" not in body:
            raise ValueError("not a claim-data file")
        arrays = {}
        if body.get("npz"):
            with np.load(_with(stem, ".npz"), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        return _decode(body["data"], arrays)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read saved claim data {path}: {exc}") from None
