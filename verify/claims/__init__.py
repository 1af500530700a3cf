"""Claim packages; importing this package registers every claim (one sub-package per claim id)."""
import importlib
import pkgutil

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg and not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_mod}")
