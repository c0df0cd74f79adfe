"""The machinery of experiment files: strict pydantic models, dotted keys and overrides (`-s device.preset=W`),
one-line errors, and a config written back as YAML.

A bad file never produces a traceback: every problem becomes a ConfigError naming the file, the dotted
key, the value and what is allowed. Each experiment owns its Config model (`cosim.experiments`), and
validation there is complete: presets and parameter files are looked up and read, so a config that validates
can be run (a sweep checks all its points before running any). Bounds come from `cosim.limits`.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from cosim import limits, safe_yaml
from cosim.errors import ConfigError

KEY_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Strict(BaseModel):
    model_config = ConfigDict(**limits.USER_INPUT, validate_assignment=True)


@contextmanager
def as_value_error() -> Iterator[None]:
    """Inside a pydantic validator: a ConfigError becomes the ValueError pydantic reports with the config key."""
    try:
        yield
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


# --- values in messages, dotted keys, overrides ----------------------------------------------------------------

_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = limits.MAX_SHOWN_CHARS
_SHORT_REPR.maxlist = _SHORT_REPR.maxtuple = 8


def shown(value: Any) -> str:
    """A refused value as an error message quotes it: short, whatever its size."""
    return "a mapping" if isinstance(value, dict) else _SHORT_REPR.repr(value)


def is_dotted_key(key: Any) -> bool:
    """A dotted config key: names of letters, digits and _ joined by dots (nothing else can select a setting)."""
    return isinstance(key, str) and all(KEY_PART.fullmatch(part) for part in key.split("."))


def check_key(key: str, where: str) -> str:
    if not is_dotted_key(key):
        raise ConfigError(f"{where}: {shown(key)} is not a dotted key (names of letters, digits and _ joined by "
                          "dots, e.g. training.noise)")
    return key


def set_value(data: dict, key: str, value: Any, where: str) -> dict:
    """A copy of `data` with the dotted `key` set to `value` (a typed value: it is never parsed again)."""
    out = dict(data)
    node = out
    parts = check_key(key, where).split(".")
    for part in parts[:-1]:
        child = node.get(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: {part!r} is a value, not a section")
        node[part] = child = dict(child)
        node = child
    node[parts[-1]] = value
    return out


def parse_override(item: str, where: str = "-s") -> tuple[str, Any]:
    """A command-line `KEY=VALUE`: the key, and the value read as YAML (numbers, booleans, lists), or as plain
    text when it is not valid YAML."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{where} {item!r}: expected KEY=VALUE with a dotted key, e.g. device.preset=W")
    try:
        value = safe_yaml.parse(text, f"{where} {item!r}")
    except ConfigError:
        value = text
    return key.strip(), value


def apply_overrides(data: dict, overrides: Iterable[str], where: str = "-s") -> dict:
    """Set dotted keys from `KEY=VALUE` texts (`training.noise=0.05`); unknown keys are caught by validation."""
    for item in overrides:
        key, value = parse_override(item, where)
        data = set_value(data, key, value, f"{where} {item!r}")
    return data


# --- validation --------------------------------------------------------------------------------------------------

_BRANCH_TAGS = ("float", "int", "str", "bool", "none")
_BOUNDS = {"greater_than": "greater than", "greater_than_equal": "greater than or equal to", "less_than": "less than",
           "less_than_equal": "less than or equal to"}
_BRANCH_PREFIXES = ("literal[", "function-", "is-instance[", "lax-or-strict[", "tuple[", "list[", "dict[", "nullable[")


def describe_error(exc: ValidationError, where: str, allowed_keys: str = "") -> str:
    """The first problem pydantic found as one line: file, dotted key, value (shortened) and the rule."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not (isinstance(p, str) and (p in _BRANCH_TAGS or p.startswith(_BRANCH_PREFIXES)))]
    key = ".".join(loc)
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key {key!r}" + (f"; allowed: {allowed_keys}" if allowed_keys else "")
    if err["type"] == "missing":
        return f"{where}: missing key {key!r}"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] in _BOUNDS:  # pydantic writes 1e-12 as 0.000000000001
        (bound,) = err["ctx"].values()
        message = f"Input should be {_BOUNDS[err['type']]} {bound if isinstance(bound, int) else format(bound, 'g')}"
    if not loc:  # a check across keys: its message names them
        return f"{where}: {message}"
    if err["type"] == "value_error" and (isinstance(value, dict) or
                                         isinstance(value, (str, Path)) and str(value) in message):
        return f"{where}: {key}: {message}"
    return f"{where}: {key} = {shown(value)}: {message}"


def read_settings(path: Path) -> dict:
    """The settings of an experiment file as plain data (an empty file is no settings)."""
    data = safe_yaml.read(path)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def dump(config: BaseModel) -> str:
    """The config as YAML (what a run directory records), reloadable with load_experiment."""
    data = config.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False)
