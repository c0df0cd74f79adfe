"""The device families by name: one line per family (its folder's `family.py` defines FAMILY).

Modules are imported when a family is first asked for, so one family's dependencies never slow another's
start-up.
"""

from __future__ import annotations

import importlib

from cosim.devices.base import CrossbarFamily, DeviceFamily
from cosim.errors import ConfigError

FAMILIES = {
    "msdc": "cosim.devices.msdc.family",
    "sot_mtj": "cosim.devices.sot_mtj.family",
    "dw_synapse": "cosim.devices.dw_synapse.family",
}


def names() -> list[str]:
    return list(FAMILIES)


def family(name: str) -> DeviceFamily:
    """The family called `name`; ConfigError listing the families for an unknown one."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise ConfigError(f"unknown device family {name!r}; allowed: {', '.join(FAMILIES)}")
    return importlib.import_module(FAMILIES[name]).FAMILY


def crossbar_family(name: str) -> CrossbarFamily:
    """A family whose devices can sit at the cross points of a crossbar board."""
    found = family(name)
    if not isinstance(found, CrossbarFamily):
        allowed = [n for n in FAMILIES if isinstance(family(n), CrossbarFamily)]
        raise ConfigError(f"device family {name!r} cannot sit in a crossbar; allowed: {', '.join(allowed)}")
    return found


def check_backend(name: str, backend: str) -> None:
    """Refuse the twin backend for a family without a numpy twin (ConfigError, one line)."""
    if backend == "twin" and not family(name).twin:
        raise ConfigError(f"device family {name!r} has no numpy twin; use backend spice or batch")
