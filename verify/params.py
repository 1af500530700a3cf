"""Typed claim parameters: frozen dataclasses that validate themselves, and ``--set`` overrides applied to them.

A claim declares ``class HxParams(Params)`` with typed fields and a ``check()`` for ranges; its profiles are
instances (``smoke``, ``quick``, ``paper``). Construction coerces every field to its annotated type and refuses
what does not fit (a bool for an int, ``5.7`` for an int, ``'5'`` for a number, NaN), so a bad ``--set`` value
fails in :func:`apply_overrides` before any claim starts. Nested parameter objects (the setting
:class:`theory.problem.Problem`, the training protocol :class:`TrainingProtocol`) are reached by a dotted path
(``problem.L``) or, when the name is unique, by the bare field name (``L``).
"""
from __future__ import annotations

import collections.abc
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Mapping

from theory.validate import check_float, check_int

#: Most draws / steps / seeds a parameter may ask for (keeps a typo from allocating the machine away).
MAX_COUNT = 10**9


class ParamError(ValueError):
    """A parameter value outside its type or range (a usage error: exit 2 on the command line)."""


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(name: str, value, tp):
    """``value`` converted to the annotated type ``tp``, or a one-line :class:`ParamError`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for alt in (a for a in args if a is not type(None)):
            try:
                return coerce(name, value, alt)
            except ParamError as exc:
                errors.append(str(exc))
        raise ParamError(errors[0] if len(errors) == 1 else f"{name}: {value!r} fits none of "
                         + ", ".join(_type_name(a) for a in args))
    if origin is typing.Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise ParamError(f"{name} must be one of {', '.join(map(repr, args))}, got {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ParamError(f"{name} must be True or False, got {value!r}")
    if tp is int:
        try:
            return check_int(name, value)
        except ValueError as exc:
            raise ParamError(str(exc)) from None
    if tp is float:
        try:
            return check_float(name, value)
        except ValueError as exc:
            raise ParamError(str(exc)) from None
    if tp is str:
        if isinstance(value, str):
            return value
        raise ParamError(f"{name} must be text, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            raise ParamError(f"{name} must be a sequence, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            if not value:
                raise ParamError(f"{name} must not be empty")
            return tuple(coerce(f"{name}[{i}]", v, args[0]) for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ParamError(f"{name} must have {len(args)} entries, got {len(value)}")
        return tuple(coerce(f"{name}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args))) if args \
            else tuple(value)
    if origin in (dict, collections.abc.Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ParamError(f"{name} must be a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return types.MappingProxyType({coerce(f"{name} key", k, kt): coerce(f"{name}[{k!r}]", v, vt)
                                       for k, v in value.items()})
    if isinstance(tp, type) and is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            try:
                return tp(**value)
            except (TypeError, ValueError) as exc:
                raise ParamError(f"{name}: {exc}") from None
        raise ParamError(f"{name} must be a {tp.__name__}, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ParamError(f"{name} must be a {tp.__name__}, got {value!r}")
    return value


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@dataclass(frozen=True)
class Params:
    """Base of every claim's parameters. Subclasses add typed fields and override :meth:`check`."""

    def __post_init__(self):
        hints = _hints(type(self))
        for f in fields(self):
            object.__setattr__(self, f.name, coerce(f.name, getattr(self, f.name), hints[f.name]))
        try:
            self.check()
        except ValueError as exc:
            raise ParamError(str(exc)) from None

    def check(self) -> None:
        """Range checks across fields (raise ``ValueError`` naming the field and the allowed range)."""

    # -- helpers for subclasses' check()
    def positive(self, *names: str, hi: int = MAX_COUNT) -> None:
        for n in names:
            check_int(n, getattr(self, n), lo=1, hi=hi)

    def require_kind(self, claim_id: str, kind: str = "isotropic") -> None:
        """The claim's ``problem`` is the data model ``kind`` (SPEC 1.1 by default)."""
        if self.problem.kind != kind:
            raise ValueError(f"{claim_id} needs the {kind} data model, got {self.problem.kind}")

    def in_range(self, lo: float, hi: float, *names: str, lo_open: bool = True, hi_open: bool = False) -> None:
        """Each named field lies in the interval from ``lo`` to ``hi`` (open or closed at each end)."""
        for n in names:
            v = getattr(self, n)
            if (v <= lo if lo_open else v < lo) or (v >= hi if hi_open else v > hi):
                raise ValueError(f"{n} must be in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}, "
                                 f"got {v}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe nested dict of the parameters."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    def flat(self) -> dict[str, Any]:
        """``{"problem.d": 5, ..., "n_prompts": 20000}``: every leaf with its dotted path (for ``list -v``)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if is_dataclass(v) and not isinstance(v, type):
                for k, leaf in _flat_dataclass(v).items():
                    out[f"{f.name}.{k}"] = leaf
            else:
                out[f.name] = _jsonable(v)
        return out

    def replace(self, **changes) -> "Params":
        return dataclasses.replace(self, **changes)


def _flat_dataclass(obj) -> dict[str, Any]:
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v) and not isinstance(v, type):
            out.update({f"{f.name}.{k}": leaf for k, leaf in _flat_dataclass(v).items()})
        else:
            out[f.name] = _jsonable(v)
    return out


def _jsonable(v):
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: _jsonable(getattr(v, f.name)) for f in fields(v)}
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    return v


def paths(params: Params) -> list[str]:
    """Every dotted leaf path of ``params`` (``problem.d``, ``training.steps``, ``n_prompts``, ...)."""
    return list(params.flat())


def resolve(params: Params, key: str) -> str | None:
    """The dotted path ``key`` names in ``params``: itself if it is a path, else the unique leaf of that name.

    Returns None when ``params`` has no such parameter; raises :class:`ParamError` when a bare name is ambiguous.
    """
    all_paths = paths(params)
    if key in all_paths:
        return key
    # a nested object as a whole (e.g. ``problem``): the top-level field itself
    if key in {f.name for f in fields(params)}:
        return key
    hits = [p for p in all_paths if p.rsplit(".", 1)[-1] == key]
    if len(hits) > 1:
        raise ParamError(f"--set {key} is ambiguous: use one of {', '.join(hits)}")
    return hits[0] if hits else None


def _set_path(obj, path: list[str], value, full: str):
    name = path[0]
    hints = _hints(type(obj))
    if name not in hints:
        raise ParamError(f"unknown parameter {full!r}")
    if len(path) == 1:
        new_value = coerce(full, value, hints[name])
    else:
        new_value = _set_path(getattr(obj, name), path[1:], value, full)
    try:
        return dataclasses.replace(obj, **{name: new_value})
    except ParamError:
        raise
    except (ValueError, TypeError) as exc:
        raise ParamError(f"{full}: {exc}") from None


def apply_overrides(params: Params, overrides: Mapping[str, Any]) -> Params:
    """``params`` with every ``key=value`` of ``overrides`` applied (keys resolved by :func:`resolve`)."""
    for key, value in overrides.items():
        path = resolve(params, key)
        if path is None:
            raise ParamError(f"unknown parameter {key!r}; allowed: {', '.join(paths(params))}")
        params = _set_path(params, path.split("."), value, path)
    return params


@dataclass(frozen=True)
class TrainingProtocol:
    """The online-training protocol shared by the trained-model claims (H1, H2, H4's overlay, H8, H11).

    SPEC 4: Adam, lr 1e-3, batch 256, fresh prompts every step. ``seeds`` maps a model key (``"1"``, ``"2"``,
    ``"4"``, ``"8"`` heads, or ``"linear"``) to its ensemble size.
    """

    steps: int
    batch: int = 256
    lr: float = 1e-3
    log_every: int = 250
    eval_prompts: int = 16_384
    seeds: Mapping[str, int] = dataclasses.field(default_factory=dict)
    checkpoint_every: int = 5_000

    def __post_init__(self):
        hints = _hints(type(self))
        for f in fields(self):
            object.__setattr__(self, f.name, coerce(f"training.{f.name}", getattr(self, f.name), hints[f.name]))
        try:
            check_int("training.steps", self.steps, lo=1, hi=MAX_COUNT)
            check_int("training.batch", self.batch, lo=1, hi=2**20)
            check_float("training.lr", self.lr, lo=0.0, lo_open=True, hi=10.0)
            check_int("training.log_every", self.log_every, lo=1, hi=MAX_COUNT)
            check_int("training.eval_prompts", self.eval_prompts, lo=2, hi=MAX_COUNT)
            check_int("training.checkpoint_every", self.checkpoint_every, lo=1, hi=MAX_COUNT)
            for k, n in self.seeds.items():
                check_int(f"training.seeds[{k!r}]", n, lo=1, hi=10_000)
        except ValueError as exc:
            raise ParamError(str(exc)) from None

    def n_seeds(self, key) -> int:
        """Ensemble size for model key ``key`` (``n_head`` or ``"linear"``)."""
        try:
            return int(self.seeds[str(key)])
        except KeyError:
            raise ParamError(f"training.seeds has no entry for {str(key)!r}; has {', '.join(self.seeds)}") from None
