"""Registries: names → objects that lazily imported modules define, one line per entry (`name: "module"`).

Device families, netlist writers and experiments are each listed this way; a module is imported when its
entry is first asked for, so one entry's dependencies never slow another's start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

from cosim.errors import ConfigError


class Registry:
    """`modules` maps each name to the module whose `attribute` is the entry; `refusal` is the message for an
    unknown name (a format string of `name`), followed by the allowed names."""

    def __init__(self, modules: dict[str, str], attribute: str, refusal: str) -> None:
        self.modules, self.attribute, self.refusal = modules, attribute, refusal

    def names(self) -> list[str]:
        return list(self.modules)

    def get(self, name: str) -> Any:
        if not isinstance(name, str) or name not in self.modules:
            raise ConfigError(f"{self.refusal.format(name=name)}; allowed: {', '.join(self.modules)}")
        return getattr(importlib.import_module(self.modules[name]), self.attribute)
