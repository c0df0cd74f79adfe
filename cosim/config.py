"""Experiment files: YAML validated by pydantic models, with dotted overrides (`-s device.preset=W`).

A bad file never produces a traceback: every problem becomes a ConfigError naming the file, the dotted
key, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cosim.devices.msdc import Variation
from cosim.errors import ConfigError
from cosim.hil.ledger import PeripheralCosts

BACKENDS = ("spice", "batch", "twin")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)


class ExperimentBase(Strict):
    """What every experiment file has: its name (a Literal in each subclass), a seed and a backend."""

    seed: int = Field(0, ge=0)  # numpy's generators take no negative seeds
    backend: Literal["spice", "batch", "twin"] = "spice"


class DeviceConfig(Strict):
    family: Literal["msdc"] = "msdc"
    preset: str = "Cr"
    params_file: Path | None = None  # a fitted parameter set (cosim fit msdc … writes one) instead of a preset
    variation: Variation = Field(default_factory=Variation)
    # As-fabricated states: "random" draws X uniformly in [0.3, 0.7] per device (from the seed), which also
    # breaks the symmetry between hidden neurons; a number sets every device to that X.
    initial_state: float | Literal["random"] = "random"

    @model_validator(mode="after")
    def _state(self) -> "DeviceConfig":
        if self.initial_state != "random" and not 0.0 <= self.initial_state <= 1.0:
            raise ValueError("initial_state must be 'random' or a number in [0, 1]")
        return self


class CircuitConfig(Strict):
    layers: tuple[int, ...] = (9, 3, 1)
    wire_ohm: float = Field(1.0, ge=0)
    read_V: float = Field(0.1, gt=0, le=0.25)
    # Transimpedance gain; "auto" = 1/g_half, so one unit of weight on a full read voltage moves the neuron
    # input by read_V (signals neither vanish nor saturate through the layers).
    rf_ohm: float | Literal["auto"] = "auto"
    v_scale_V: float = Field(0.1, gt=0)
    switch_on_ohm: float = Field(10.0, gt=0)


    @model_validator(mode="after")
    def _rf(self) -> "CircuitConfig":
        if self.rf_ohm != "auto" and not self.rf_ohm > 0:
            raise ValueError("rf_ohm must be 'auto' or a resistance > 0")
        return self


class ProgrammingConfig(Strict):
    amplitude_V: float = Field(1.0, gt=0)
    width_s: float = Field(1e-6, gt=0)
    min_width_s: float = Field(1e-7, gt=0)
    series_ohm: float = Field(1000.0, gt=0)
    max_pulses: int = Field(50, ge=1)
    tolerance: float = Field(0.05, gt=0, lt=1)  # of the conductance half-range
    reset_pulse: bool = True
    reset_amplitude_V: float = Field(1.0, gt=0)
    reset_width_s: float = Field(5e-5, gt=0)


class TrainingConfig(Strict):
    mode: Literal["insitu", "exsitu"] = "insitu"
    epochs: int = Field(30, ge=1)
    learning_rate: float = Field(0.2, gt=0)
    noise: float = Field(0.1, ge=0, le=1)  # training-noise level (relative std)
    # where the noise goes: "conductance" perturbs every device's conductance for each training pass (the
    # paper's robustness claim is about device variation); "input" perturbs the input voltages
    noise_on: Literal["conductance", "input"] = "conductance"
    target: float = Field(0.8, gt=0, le=1)  # output target ±target·v_out


class EvaluationConfig(Strict):
    input_noise: float = Field(0.25, ge=0, le=1)
    conductance_error: float = Field(0.1, ge=0, le=1)
    repeats: int = Field(5, ge=1)


class DataConfig(Strict):
    n_test: int = Field(100, ge=1)
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
        if len(self.circuit.layers) < 2 or self.circuit.layers[0] != 9 or min(self.circuit.layers) < 1:
            raise ValueError("circuit.layers must start with 9 inputs (3×3 images) and list positive sizes")
        return self


def parse_value(text: str) -> Any:
    """A command-line override value: YAML scalars (numbers, booleans, lists) or plain text."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict, overrides: list[str], where: str = "-s") -> dict:
    """Set dotted keys (`training.noise=0.05`) in a nested mapping; unknown keys are caught by validation."""
    out = dict(data)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where} {item!r}: expected KEY=VALUE with a dotted key, e.g. device.preset=W")
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{where} {item!r}: {part!r} is a value, not a section")
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = parse_value(value)
    return out


def _describe(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key {key!r}"
    message = err["msg"].removeprefix("Value error, ")
    if isinstance(value, dict) and err["type"] == "value_error":  # a check across keys: its message names them
        return f"{where}: {message}" if not err["loc"] else f"{where}: {key}: {message}"
    shown = repr(value) if not isinstance(value, dict) else "a mapping"
    return f"{where}: {key} = {shown}: {message}"


def validate(data: Any, where: str) -> BaseModel:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    from cosim import experiments

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
        raise ConfigError(_describe(exc, where)) from None


def read_yaml(path: Path) -> Any:
    """A YAML file's content; a missing, unreadable or malformed file is a ConfigError naming it (and the line)."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: malformed YAML{line}: {getattr(exc, 'problem', exc)}") from None


def load_experiment(path: Path | None, overrides: list[str] = ()) -> BaseModel:
    """Read, override and validate an experiment file (None: the built-in default experiment)."""
    if path is None:
        data, where = {}, "built-in default experiment"
    else:
        path = Path(path)
        where = str(path)
        data = read_yaml(path)
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return validate(apply_overrides(data, list(overrides)), where)


def dump(config: BaseModel) -> str:
    """The config as YAML (what a run directory records), reloadable with load_experiment."""
    data = config.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False)

