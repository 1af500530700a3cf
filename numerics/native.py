r"""The attention step as one C function (``numerics/csrc/attention.c``), and the prompt generator's draws
(``numerics/csrc/philox.c``, used by :class:`numerics.rng.Philox`), compiled on first use into one library and called
with ctypes.

Why: on a CPU, the torch kernel of :func:`numerics.attention.loss_and_grads` spends most of a step in ~60 small ops
(batched 4x6 @ 6x40 products, a softmax over 40 entries); the fused C loop keeps a block of 16 prompts in the lanes of
one vector and the whole step in the core's L1 cache (measured with ``icl-verify bench``).

**Numbers.** The C function computes the same loss and gradient in float32 (checked against float64 autograd in
``tests/numerics/test_native.py`` to float32 rounding), but not bit-identically to the torch kernel: summation order
and ``exp`` differ at the last bit. It is built without ``-ffast-math`` and with ``-ffp-contract=off``, so its results
do not depend on the machine's vector width; a run trained with it and a run trained by the torch kernel (no C
compiler, or ``ICL_VERIFY_NATIVE=0``) differ at rounding level, as runs at different thread counts may. Each run
records which kernel it used (``TrainResult.summary()["kernel"]``).

**Build.** ``$CC`` (default ``cc``) compiles the sources with ``-O3 -march=native`` (without ``-march=native`` if that
fails) into ``$ICL_VERIFY_CACHE/native`` (default ``~/.cache/icl-verify/native``); the file name hashes the source, the
flags, the compiler's version and this CPU's instruction-set flags, so a cache shared between different machines holds
one build per kind of CPU. The build is written to a temporary name and renamed: processes building side by side
(Dask workers) never load a partial library. Without a compiler the torch kernel runs, with one warning, and the
generator runs its numpy reference (the same numbers, slower).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

SOURCES = tuple(Path(__file__).with_name("csrc") / name for name in ("attention.c", "philox.c"))
SOURCE = SOURCES[0]   # the attention step
FLAGS = ("-std=c11", "-O3", "-ffp-contract=off", "-fno-math-errno", "-fPIC", "-shared")
#: ``kind`` argument of the C function per model kind
KIND_CODE = {"softmax": 0, "linear": 1, "linear-normalised": 2}

_lock = threading.Lock()
_state: dict = {}


def cache_dir() -> Path:
    root = os.environ.get("ICL_VERIFY_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "icl-verify")
    return Path(root) / "native"


def enabled() -> bool:
    """``False`` when ``ICL_VERIFY_NATIVE`` is ``0``/``false``/``no``/``off`` (the torch kernel then always runs)."""
    return os.environ.get("ICL_VERIFY_NATIVE", "1").strip().lower() not in ("0", "false", "no", "off")


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _compiler_version(cc: str) -> str:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def compile_library(out: str | Path, flags=FLAGS, cc: str | None = None) -> subprocess.CompletedProcess:
    """Compile :data:`SOURCES` into the shared library ``out`` with ``cc`` (default ``$CC`` or ``cc``) and ``flags``."""
    cc = cc or os.environ.get("CC", "cc")
    return subprocess.run([cc, *flags, "-o", str(out), *map(str, SOURCES), "-lm"], capture_output=True, text=True,
                          timeout=300)


def load(path: str | Path):
    """The C function ``attn_loss_grad`` of the library at ``path``, with its argument types (ctypes.CDLL: the call
    releases the GIL)."""
    fn = ctypes.CDLL(str(path)).attn_loss_grad
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_int] * 9 + [ctypes.c_void_p] * 12
    return fn


def load_philox(path: str | Path):
    """The C function ``philox_fill(law, key, block, n, out)`` of the library at ``path`` (see ``philox.c``)."""
    fn = ctypes.CDLL(str(path)).philox_fill
    fn.restype = None
    fn.argtypes = [ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int64, ctypes.c_void_p]
    return fn


def _build():
    """Compile (or find in the cache) and load the library; ``({"fn": attention, "philox": generator} or None,
    what happened)``."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        return None, f"no C compiler ({cc!r} not found)"
    source = b"\0".join(src.read_bytes() for src in SOURCES)
    version = _compiler_version(cc)
    for extra in (("-march=native",), ()):
        flags = FLAGS + extra
        key = hashlib.sha256(b"\0".join([source, " ".join(flags).encode(), version.encode(),
                                         _cpu_flags().encode()])).hexdigest()[:16]
        path = cache_dir() / f"attention-{key}.so"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=path.parent)
            os.close(fd)
            try:
                done = compile_library(tmp, flags, cc)
                if done.returncode != 0:
                    reason = (done.stderr.strip().splitlines() or ["compiler failed"])[-1][:200]
                    continue
                os.replace(tmp, path)
            except (OSError, subprocess.SubprocessError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        try:
            fns = {"fn": load(path), "philox": load_philox(path)}
            return fns, f"{path} ({cc} {' '.join(flags)})"
        except (OSError, AttributeError) as exc:
            reason = f"cannot load {path}: {exc}"
    return None, f"compiling {', '.join(src.name for src in SOURCES)} failed: {reason}"


def _function(name: str):
    if not enabled():
        return None
    with _lock:
        if "what" not in _state:
            fns, what = _build()
            _state.update(fns or {}, what=what)   # the function objects keep their library loaded
            if fns is None:
                warnings.warn(f"native kernels unavailable ({what}); training uses the torch kernel and the "
                              "generator's numpy reference", RuntimeWarning, stacklevel=3)
    return _state.get(name)


def attention_function():
    """The C function ``attn_loss_grad`` (see the source's header for its arguments), or ``None`` when native
    kernels are disabled or cannot be built (then warns once)."""
    return _function("fn")


def philox_function():
    """The C function ``philox_fill`` (see ``numerics/csrc/philox.c``), or ``None`` as :func:`attention_function`."""
    return _function("philox")


def status() -> dict:
    """``{"enabled", "available", "detail"}`` of the native kernels (builds them if needed)."""
    if not enabled():
        return {"enabled": False, "available": False, "detail": "disabled by ICL_VERIFY_NATIVE"}
    fn = attention_function()
    return {"enabled": True, "available": fn is not None, "detail": _state["what"]}
