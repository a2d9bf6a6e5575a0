"""Which domain services this build provides, so a page shows an honest "not available yet" instead of guessing."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any

log = logging.getLogger("charter.web")


@dataclass(frozen=True, slots=True)
class Missing:
    """A domain feature this build does not provide (yet)."""

    domain: str
    what: str
    reason: str

    def __bool__(self) -> bool:
        return False


def module(name: str) -> ModuleType | None:
    """Import `charter.<name>` if it exists; None when the module (or its package) is absent."""
    full = f"charter.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name is not None and full.startswith(exc.name):
            return None
        raise


def function(domain: str, name: str, what: str, *, module_name: str = "service") -> Any:
    """`charter.<domain>.<module_name>.<name>` or a `Missing` naming what the page cannot show."""
    mod = module(f"{domain}.{module_name}")
    if mod is None:
        return Missing(domain, what, f"the {domain} service is not part of this build yet")
    fn = getattr(mod, name, None)
    if fn is None:
        return Missing(domain, what, f"charter.{domain}.{module_name} does not provide {name}() yet")
    return fn
