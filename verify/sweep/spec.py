"""A sweep file (TOML): the grid of training settings ``icl-verify sweep`` trains.

::

    [sweep]                 # optional
    seed = 0                # the run seed: members are the spawned children of (seed, "sweep")
    seeds = 4               # members (seeds) per setting; may also be a grid axis

    [fixed]                 # TrainConfig fields shared by every setting
    steps = 4000
    lr = 1e-3

    [grid]                  # every combination of these lists
    d = [4, 8]
    L = [20, 40]
    n_head = [1, 2, 4]

Any :class:`numerics.training.TrainConfig` field that defines a result may be fixed or swept (``d, L, sigma2,
n_head, model, optimizer, lr, betas, weight_decay, momentum, batch, steps, log_every, eval_prompts, dtype, cov,
supports, s, n_layer, width, mlp``), and ``seeds``. ``cov`` is a matrix (list of rows) or ``"ar1:RHO"``
(:math:`\\Sigma_{ij}=\\rho^{|i-j|}` at the setting's ``d``); ``supports`` is a list of coordinate lists (0-based) or a
string of 1-based ranges (``"1-4,3-6"``, :func:`numerics.phases.parse_supports`). Every setting is validated
before anything trains (one-line ``ValueError`` naming the setting).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numerics.training import TrainConfig
from numerics.training.config import RUNTIME_FIELDS
from theory.validate import check_int

#: Fields a sweep may not set: the runtime ones (the CLI's), and the stream key, seed and shard (the sweep's).
RESERVED = RUNTIME_FIELDS + ("key", "seed", "ensemble", "first_member")
SETTABLE = tuple(f for f in TrainConfig.__dataclass_fields__ if f not in RESERVED) + ("seeds",)
MAX_SETTINGS = 10_000
#: The stream key of every sweep's trainings (a setting trained by two sweeps is one cached run).
KEY = ("sweep",)


@dataclass(frozen=True)
class Setting:
    """One point of the grid: its swept values (``label``) and the configuration trained there."""

    label: dict[str, Any]
    config: TrainConfig


@dataclass(frozen=True)
class SweepSpec:
    seed: int
    fixed: dict[str, Any]
    grid: dict[str, list]
    settings: tuple[Setting, ...]

    @property
    def axes(self) -> tuple[str, ...]:
        return tuple(self.grid)


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"sweep file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"sweep file {path} is not valid TOML ({str(exc).splitlines()[0]})") from None


def _cov(value, d: int):
    if isinstance(value, str):
        kind, _, rho = value.partition(":")
        if kind.strip() != "ar1" or not rho:
            raise ValueError(f"cov must be a matrix or 'ar1:RHO', got {value!r}")
        from numerics.data import ar1_covariance

        try:
            r = float(rho)
        except ValueError:
            raise ValueError(f"cov 'ar1:RHO' needs a number RHO, got {value!r}") from None
        return tuple(tuple(row) for row in ar1_covariance(d, r).tolist())
    return value


def _supports(value, d: int):
    if isinstance(value, str):
        from numerics.phases import parse_supports

        return parse_supports(value, d=d)
    return value


def _config(values: dict[str, Any], seed: int) -> TrainConfig:
    kw = dict(values)
    seeds = check_int("seeds", kw.pop("seeds", 4), lo=1, hi=10_000)
    d = kw.get("d", TrainConfig.d)
    if "cov" in kw and kw["cov"] is not None:
        kw["cov"] = _cov(kw["cov"], d)
    if "supports" in kw and kw["supports"] is not None:
        kw["supports"] = _supports(kw["supports"], d)
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    return TrainConfig(**kw, seed=seed, key=KEY, ensemble=seeds)


def label_text(label: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in label.items()) or "(the one setting)"


def parse(doc: dict, *, where: str = "sweep file") -> SweepSpec:
    """The grid of ``doc`` (a parsed sweep file): every setting built and validated."""
    if not isinstance(doc, dict):
        raise ValueError(f"{where} must be a TOML table")
    unknown = sorted(set(doc) - {"sweep", "fixed", "grid"})
    if unknown:
        raise ValueError(f"{where}: unknown table [{unknown[0]}]; a sweep file has [sweep], [fixed] and [grid]")
    head, fixed, grid = doc.get("sweep", {}), doc.get("fixed", {}), doc.get("grid", {})
    for name, table in (("sweep", head), ("fixed", fixed), ("grid", grid)):
        if not isinstance(table, dict):
            raise ValueError(f"{where}: [{name}] must be a table")
    bad_head = sorted(set(head) - {"seed", "seeds", "name"})
    if bad_head:
        raise ValueError(f"{where}: [sweep] takes seed, seeds and name, not {bad_head[0]!r}")
    seed = check_int("[sweep] seed", head.get("seed", 0), lo=0, hi=2**63 - 1)
    fixed = dict(fixed)
    if "seeds" in head:
        fixed.setdefault("seeds", head["seeds"])
    for table, name in ((fixed, "fixed"), (grid, "grid")):
        for k in table:
            if k not in SETTABLE:
                raise ValueError(f"{where}: [{name}] {k!r} is not a setting; one of {', '.join(SETTABLE)}")
    both = sorted(set(fixed) & set(grid))
    if both:
        raise ValueError(f"{where}: {both[0]!r} is both fixed and swept")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ValueError(f"{where}: [grid] {k} must be a non-empty list of values, got {v!r}")
    n = 1
    for v in grid.values():
        n *= len(v)
    if n > MAX_SETTINGS:
        raise ValueError(f"{where}: the grid has {n} settings, more than {MAX_SETTINGS}")
    settings = []
    for combo in itertools.product(*grid.values()):
        label = dict(zip(grid, combo))
        try:
            cfg = _config({**fixed, **label}, seed)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: setting {label_text(label)}: {exc}") from None
        settings.append(Setting(label, cfg))
    names = [s.config.hash() for s in settings]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: two settings of the grid are the same training (a repeated value?)")
    return SweepSpec(seed, fixed, dict(grid), tuple(settings))


def load(path: str | Path) -> SweepSpec:
    """:func:`parse` of the TOML file at ``path``."""
    path = Path(path)
    return parse(_load_toml(path), where=f"sweep file {path}")
