"""The machinery of experiment files: strict pydantic models, dotted keys and overrides (`-s device.preset=W`),
one-line errors, and a config written back as YAML.

A bad file never produces a traceback: every problem becomes a ConfigError naming the file, the dotted
key, the value and what is allowed. Each experiment owns its Config model (`cosim.experiments`), and
validation there is complete: presets and parameter files are looked up and read, so a config that validates
can be run (a sweep checks all its points before running any). Bounds come from `cosim.limits`.
"""

from __future__ import annotations

import functools
import re
import reprlib
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from cosim import limits, safe_yaml, units
from cosim.errors import ConfigError

KEY_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Strict(BaseModel):
    """The base of every model that reads user input: strict types and bounds (`limits.USER_INPUT`), and
    SPICE-style numbers (`1u`, `47k`, `2.5meg`, `10ns`) wherever a number is expected, with the unit the field's
    name carries (`width_s` takes `1us`, not `1uV`; a field without a unit in its name takes no unit word)."""

    model_config = ConfigDict(**limits.USER_INPUT, validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _spice_numbers(cls, value: Any, info) -> Any:
        if not isinstance(value, (str, list, tuple, dict)):
            return value
        annotation = _numeric_annotation(cls, info.field_name)
        return value if annotation is None else spice_numbers(value, annotation, info.field_name)

    def given(self, names: dict[str, str]) -> dict[str, Any]:
        """The fields set (not None) of `names` (ours → theirs), by the names another settings class uses."""
        return {theirs: getattr(self, ours) for ours, theirs in names.items() if getattr(self, ours) is not None}


# --- SPICE-style numbers in -------------------------------------------------------------------------------------

_UNIONS = (Union, types.UnionType)


def spice_numbers(value: Any, annotation: Any, name: str) -> Any:
    """`value` with every text that `annotation` types as a number read as a SPICE-style number (`units.exact`)
    in the unit `name` carries: floats as the nearest float, integers only when the text is a whole number
    (`1k` epochs is 1000, `1.5` epochs is refused). A text that the annotation also takes as text (`"auto"`,
    a preset name, a path) stays text; lists, tuples and mappings are read element by element (a mapping's
    values in the unit of their key: `random.ranges: {programming.width_s: [1u, 10u]}`). Anything else is left
    to the model's strict validation."""
    if isinstance(value, str):
        kind = _number_kind(annotation, value)
        if kind is None:
            return value
        try:
            number = units.exact(value, units.field_unit(name))
        except ValueError as exc:
            words = [repr(w) for arm in _arms(annotation) if get_origin(arm) is Literal for w in get_args(arm)]
            raise ValueError(f"{exc}{'; or ' + ', '.join(words) if words else ''}") from None
        if kind is float:
            return float(number)
        if number != number.to_integral_value():
            raise ValueError("not a whole number")
        return int(number)
    for arm in _arms(annotation):
        origin, args = get_origin(arm), get_args(arm)
        if isinstance(value, (list, tuple)) and origin in (list, tuple) and args:
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                if len(args) != len(value):
                    return value
                return type(value)(spice_numbers(v, a, name) for v, a in zip(value, args))
            return type(value)(spice_numbers(v, args[0], name) for v in value)
        if isinstance(value, dict) and origin is dict and len(args) == 2:
            return {k: _keyed(v, args[1], k) if isinstance(k, str) else v for k, v in value.items()}
    return value


def _keyed(value: Any, annotation: Any, key: str) -> Any:
    """A mapping's value read by `spice_numbers`; an error names the key (the mapping is quoted whole)."""
    try:
        return spice_numbers(value, annotation, key)
    except ValueError as exc:
        raise ValueError(f"{key} = {shown(value)}: {exc}") from None


@functools.lru_cache(maxsize=None)
def _arms(annotation: Any) -> tuple[Any, ...]:
    """The types an annotation allows, unwrapped from Annotated and unions (Optional included)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _arms(get_args(annotation)[0])
    if origin in _UNIONS:
        return tuple(arm for a in get_args(annotation) for arm in _arms(a))
    return (annotation,)


@functools.lru_cache(maxsize=None)
def _numeric_annotation(model: type[BaseModel], name: str) -> Any:
    """The annotation of a model's field when its value can be or contain a number, else None."""
    annotation = model.model_fields[name].annotation
    return annotation if _holds_numbers(annotation) else None


@functools.lru_cache(maxsize=None)
def _holds_numbers(annotation: Any) -> bool:
    """Whether a value of this annotation can be or contain a number (a nested model reads its own)."""
    for arm in _arms(annotation):
        if arm is float or arm is int:
            return True
        if get_origin(arm) in (list, tuple, dict) and any(_holds_numbers(a) for a in get_args(arm) if a is not Ellipsis):
            return True
    return False


def _number_kind(annotation: Any, text: str) -> type | None:
    """float or int when `annotation` takes a number and does not take `text` as it is (as text, a path or a
    literal); None otherwise. A float arm wins over an int arm (a SPICE number is a real number)."""
    arms = _arms(annotation)
    if any(arm is str or arm is Any or arm is Path or get_origin(arm) is Literal and text in get_args(arm)
           for arm in arms):
        return None
    if float in arms:
        return float
    if int in arms:
        return int
    return None


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
