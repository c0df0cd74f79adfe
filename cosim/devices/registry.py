"""The device families by name: one line per family (its folder's `family.py` defines FAMILY)."""

from __future__ import annotations

from cosim.devices.base import CrossbarFamily
from cosim.errors import ConfigError
from cosim.registry import Registry

FAMILIES = Registry({
    "msdc": "cosim.devices.msdc.family",
    "sot_mtj": "cosim.devices.sot_mtj.family",
    "dw_synapse": "cosim.devices.dw_synapse.family",
    "verilog_a": "cosim.devices.verilog_a.family",
}, "FAMILY", "unknown device family {name!r}")
names = FAMILIES.names
family = FAMILIES.get  # the family called `name`: a DeviceFamily (ConfigError listing the families if unknown)


def crossbar_family(name: str) -> CrossbarFamily:
    """A family whose devices can sit at the cross points of a crossbar board."""
    found = family(name)
    if not isinstance(found, CrossbarFamily):
        allowed = [n for n in names() if isinstance(family(n), CrossbarFamily)]
        raise ConfigError(f"device family {name!r} cannot sit in a crossbar; allowed: {', '.join(allowed)}")
    return found


def check_backend(name: str, backend: str) -> None:
    """Refuse the twin backend for a family without a numpy twin (ConfigError, one line)."""
    if backend == "twin" and not family(name).twin:
        raise ConfigError(f"device family {name!r} has no numpy twin; use backend spice or batch")
