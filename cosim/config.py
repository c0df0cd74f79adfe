"""Experiment files: YAML validated by pydantic models, with dotted overrides (`-s device.preset=W`).

A bad file never produces a traceback: every problem becomes a ConfigError naming the file, the dotted
key, the value and what is allowed. Validation is complete: presets and parameter files are looked up and
read here, so a config that validates can be run (a sweep checks all its points before running any).
Bounds of sizes and physical values come from `cosim.limits`.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator

from cosim import limits, safe_yaml
from cosim.devices.msdc import model as msdc
from cosim.errors import ConfigError
from cosim.hil.ledger import PeripheralCosts
from cosim.limits import (MAX_EPOCHS, MAX_LEARNING_RATE, MAX_REPEATS, MAX_RESISTANCE_OHM, MAX_SAMPLES, MAX_SEED,
                          MAX_TIME_S, MAX_VOLTAGE_V, MIN_RESISTANCE_OHM, MIN_TIME_S)

BACKENDS = ("spice", "batch", "twin")
KEY_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Strict(BaseModel):
    model_config = ConfigDict(**limits.USER_INPUT, validate_assignment=True)


class ExperimentBase(Strict):
    """What every experiment file has: its name (a Literal in each subclass), a seed and a backend."""

    seed: int = Field(0, ge=0, le=MAX_SEED)  # numpy's generators take no negative seeds
    backend: Literal["spice", "batch", "twin"] = "spice"


def check_state(value):
    """An as-fabricated device state: "random" or a number X in [0, 1]."""
    if value != "random" and not 0.0 <= value <= 1.0:
        raise ValueError("must be 'random' or a state X in [0, 1]")
    return value


def check_preset(name: str, allowed: list[str], family: str) -> str:
    """A preset name of a device family (case-insensitive), checked while the config is validated."""
    if name.lower() not in {a.lower() for a in allowed}:
        raise ValueError(f"unknown {family} preset {name!r}; allowed: {', '.join(allowed)}")
    return name


class DeviceConfig(Strict):
    family: Literal["msdc"] = "msdc"
    preset: str = "Cr"
    # a fitted parameter set (cosim fit msdc … writes one) instead of a preset; read and checked with the config
    params_file: Annotated[Path | None, Field(strict=False)] = None
    variation: msdc.Variation = Field(default_factory=msdc.Variation)
    # As-fabricated states: "random" draws X uniformly in [0.3, 0.7] per device (from the seed), which also
    # breaks the symmetry between hidden neurons; a number sets every device to that X.
    initial_state: float | Literal["random"] = "random"

    @field_validator("initial_state")
    @classmethod
    def _state(cls, value):
        return check_state(value)

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        return check_preset(value, msdc.preset_names(), "M-SDC")

    @field_validator("params_file")
    @classmethod
    def _params_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                msdc.load_params_file(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value


class CircuitConfig(Strict):
    layers: Annotated[tuple[Annotated[StrictInt, Field(ge=1, le=limits.MAX_LAYER_SIZE)], ...],
                      Field(strict=False, max_length=limits.MAX_LAYERS)] = (9, 3, 1)
    wire_ohm: float = Field(1.0, ge=0, le=MAX_RESISTANCE_OHM)
    read_V: float = Field(0.1, gt=0, le=0.25)
    # Transimpedance gain; "auto" = 1/g_half, so one unit of weight on a full read voltage moves the neuron
    # input by read_V (signals neither vanish nor saturate through the layers).
    rf_ohm: float | Literal["auto"] = "auto"
    v_scale_V: float = Field(0.1, gt=0, le=MAX_VOLTAGE_V)
    switch_on_ohm: float = Field(10.0, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM)

    @field_validator("rf_ohm")
    @classmethod
    def _rf(cls, value):
        if value != "auto" and not MIN_RESISTANCE_OHM <= value <= MAX_RESISTANCE_OHM:
            raise ValueError(f"must be 'auto' or a resistance in [{MIN_RESISTANCE_OHM:g}, {MAX_RESISTANCE_OHM:g}] ohm")
        return value


class ProgrammingConfig(Strict):
    amplitude_V: float = Field(1.0, gt=0, le=MAX_VOLTAGE_V)
    width_s: float = Field(1e-6, ge=MIN_TIME_S, le=MAX_TIME_S)
    min_width_s: float = Field(1e-7, ge=MIN_TIME_S, le=MAX_TIME_S)
    series_ohm: float = Field(1000.0, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM)
    max_pulses: int = Field(50, ge=1, le=MAX_REPEATS)
    tolerance: float = Field(0.05, gt=0, lt=1)  # of the conductance half-range
    reset_pulse: bool = True
    reset_amplitude_V: float = Field(1.0, gt=0, le=MAX_VOLTAGE_V)
    reset_width_s: float = Field(5e-5, ge=MIN_TIME_S, le=MAX_TIME_S)


class TrainingConfig(Strict):
    mode: Literal["insitu", "exsitu"] = "insitu"
    epochs: int = Field(30, ge=1, le=MAX_EPOCHS)
    learning_rate: float = Field(0.2, gt=0, le=MAX_LEARNING_RATE)
    noise: float = Field(0.1, ge=0, le=1)  # training-noise level (relative std)
    # where the noise goes: "conductance" perturbs every device's conductance for each training pass (the
    # paper's robustness claim is about device variation); "input" perturbs the input voltages
    noise_on: Literal["conductance", "input"] = "conductance"
    target: float = Field(0.8, gt=0, le=1)  # output target ±target·v_out


class EvaluationConfig(Strict):
    input_noise: float = Field(0.25, ge=0, le=1)
    conductance_error: float = Field(0.1, ge=0, le=1)
    repeats: int = Field(5, ge=1, le=MAX_REPEATS)


class DataConfig(Strict):
    n_test: int = Field(100, ge=1, le=MAX_SAMPLES)
    test_flips: int = Field(2, ge=0, le=4)


class OnchipExperiment(ExperimentBase):
    """On-chip training of the M-SDC memristor network (Eslami et al. 2024)."""

    experiment: Literal["eslami2024"] = "eslami2024"
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    circuit: CircuitConfig = Field(default_factory=CircuitConfig)
    programming: ProgrammingConfig = Field(default_factory=ProgrammingConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    peripherals: PeripheralCosts = Field(default_factory=PeripheralCosts)

    @model_validator(mode="after")
    def _layers(self) -> "OnchipExperiment":
        layers = self.circuit.layers
        if len(layers) < 2 or layers[0] != 9:
            raise ValueError("circuit.layers must start with 9 inputs (3×3 images) and list at least one more layer")
        devices = sum(a * b for a, b in zip(layers, layers[1:]))
        if devices > limits.MAX_DEVICES:
            raise ValueError(f"circuit.layers {list(layers)} make {devices} devices; at most {limits.MAX_DEVICES}")
        return self


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


def validate(data: Any, where: str) -> BaseModel:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    from cosim.experiments import run as experiments

    kind = data.get("experiment", experiments.DEFAULT)
    if not isinstance(kind, str):
        raise ConfigError(f"{where}: experiment must be a name; allowed: {', '.join(experiments.available())}")
    try:
        model = experiments.module(kind).Config
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, where)) from None


def read_settings(path: Path) -> dict:
    """The settings of an experiment file as plain data (an empty file is no settings)."""
    data = safe_yaml.read(path)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def load_experiment(path: Path | None, overrides: Iterable[str] = ()) -> BaseModel:
    """Read, override and validate an experiment file (None: the built-in default experiment)."""
    data, where = ({}, "built-in default experiment") if path is None else (read_settings(path), str(path))
    return validate(apply_overrides(data, overrides), where)


def dump(config: BaseModel) -> str:
    """The config as YAML (what a run directory records), reloadable with load_experiment."""
    data = config.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False)
