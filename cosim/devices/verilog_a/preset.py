"""The preset a user writes to bring a Verilog-A device (format: device_models/README.md, "Bring your own
Verilog-A model"): read, checked against the module it names, and compiled, once per version of its files.

Everything is checked before anything is simulated, and every problem is one ConfigError naming the file and
the field: the YAML's keys and types, parameter values inside their declared ranges, variation only of
adjustable parameters, the model file (a `.va` file beside the preset or below its folder, a regular file within
the size limit), every name that will reach a netlist (module, ports, parameters: plain identifiers, as the
netlist IR demands), and what the module declares. The module's header and parameter declarations are read
from the source with a small parser rather than asked of the compiled model: that needs no simulator, gives
the ports by name (ngspice reports parameters, not ports) and names the preset's field that is wrong; the
compiler then sees the whole source, and its first error is the message when it refuses it.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cosim import input_files, safe_yaml
from cosim.config import describe_error, shown
from cosim.errors import ConfigError, NetlistError, SimulationError
from cosim.limits import MAX_REL_STD, MAX_VERILOG_A_BYTES, USER_INPUT
from cosim.netlist import ir

FAMILY = "verilog_a"
# The subcircuit parameter that carries a device's state (its capacitor's initial condition); no model
# parameter may take this name.
STATE_PARAM = "cosim_x0"

_FROZEN = ConfigDict(**USER_INPUT, frozen=True)
Range = Annotated[list[float], Field(min_length=2, max_length=2)]  # [low, high]


class Adjustable(BaseModel):
    """A parameter that overrides and variation may move, within `range`."""

    model_config = _FROZEN

    value: float
    range: Range
    unit: str = Field("", max_length=32)

    @model_validator(mode="after")
    def _inside(self) -> "Adjustable":
        low, high = self.range
        if not low <= high:
            raise ValueError(f"range [{low:g}, {high:g}] is empty")
        if not low <= self.value <= high:
            raise ValueError(f"value {self.value:g} lies outside its range [{low:g}, {high:g}]")
        return self


class Terminals(BaseModel):
    model_config = _FROZEN

    plus: str  # a set pulse (conductance up) drives plus above minus
    minus: str


class State(BaseModel):
    model_config = _FROZEN

    port: str  # the port whose voltage is the state, held by a 1 F capacitor to ground
    range: Range

    @model_validator(mode="after")
    def _ordered(self) -> "State":
        if not self.range[0] < self.range[1]:
            raise ValueError(f"range [{self.range[0]:g}, {self.range[1]:g}] must go from low to high")
        return self


class PresetFile(BaseModel):
    """The YAML as written."""

    model_config = _FROZEN

    family: Literal["verilog_a"]
    model: str
    module: str
    ports: Annotated[list[str], Field(max_length=16)]
    terminals: Terminals
    state: State
    source: str = Field(min_length=1)
    # name: a number (fixed) or {value, range, unit} (adjustable); `_parameters` reads each, naming it
    parameters: dict[str, Any] = Field(default_factory=dict)
    variation: dict[str, Annotated[float, Field(ge=0, le=MAX_REL_STD)]] = Field(default_factory=dict)


@dataclass(frozen=True)
class VAModel:
    """A checked and compiled preset: what the family builds netlists, draws and measurements from."""

    path: Path  # the preset file
    va_path: Path
    va_text: str
    va_sha256: str
    osdi: Path  # compiled for this machine (cached by content)
    module: str
    ports: tuple[str, ...]
    plus: str
    minus: str
    state_port: str
    state_range: tuple[float, float]
    fixed: dict[str, float]
    adjustable: dict[str, Adjustable]
    variation: dict[str, float]
    source: str

    @property
    def names(self) -> tuple[str, ...]:
        """The adjustable parameters, in the preset's order (each device carries its own value of these)."""
        return tuple(self.adjustable)

    @property
    def nominal(self) -> np.ndarray:
        return np.array([spec.value for spec in self.adjustable.values()], dtype=float)

    @property
    def key(self) -> tuple:
        """What identifies the compiled model and its fixed values (measurement caches key on it)."""
        return (self.va_sha256, self.module, self.ports, self.plus, self.minus, self.state_port,
                tuple(sorted(self.fixed.items())), self.names)


# --- reading -------------------------------------------------------------------------------------------------------


def load(path: Path) -> VAModel:
    """The preset at `path`, checked and compiled (once per version of the preset and its model file)."""
    path = Path(path)
    if path.suffix.lower() == ".va":
        raise ConfigError(f"{path}: a Verilog-A file; give the preset (YAML) that describes it "
                          "(device_models/README.md, 'Bring your own Verilog-A model')")
    version = _version(path)
    va = _model_path(path, _preset_file(*version).model)
    return _compiled(version, _version(va))


def _version(path: Path) -> tuple[str, int, int]:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return str(path), 0, -1  # the reader names the problem
    return str(path), info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=32)
def _preset_file(path: str, mtime_ns: int, size: int) -> PresetFile:
    data = safe_yaml.read(Path(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (family, model, module, ports, terminals, state, source, "
                          "parameters, variation)")
    try:
        preset = PresetFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, path, ", ".join(PresetFile.model_fields))) from None
    preset = preset.model_copy(update={"parameters": _parameters(preset.parameters, path)})
    _check_names(preset, path)
    return preset


def _parameters(raw: dict[str, Any], where: str) -> dict[str, float | Adjustable]:
    """Each parameter: a bare number is fixed; {value, range, unit} is adjustable, its value inside its range."""
    out: dict[str, float | Adjustable] = {}
    for name, value in raw.items():
        if isinstance(value, dict):
            try:
                out[name] = Adjustable.model_validate(value)
            except ValidationError as exc:
                raise ConfigError(describe_error(exc, f"{where}: parameters.{name}", "value, range, unit")) from None
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[name] = float(value)
        else:
            raise ConfigError(f"{where}: parameters.{name} = {shown(value)}: expected a finite number (fixed) or "
                              "{value, range, unit} (adjustable)")
    return out


def _check_names(preset: PresetFile, where: str) -> None:
    """Every name that reaches a netlist is a plain identifier; ports and parameters are told apart."""
    def name(value: str, field: str) -> str:
        try:
            return ir.check_name(value)
        except NetlistError as exc:
            raise ConfigError(f"{where}: {field}: {exc}") from None

    name(preset.module, "module")
    for port in preset.ports:
        name(port, "ports")
    if len({p.lower() for p in preset.ports}) != len(preset.ports):
        raise ConfigError(f"{where}: ports: {', '.join(preset.ports)} repeat a name (netlists ignore case)")
    roles = {"terminals.plus": preset.terminals.plus, "terminals.minus": preset.terminals.minus,
             "state.port": preset.state.port}
    for field, port in roles.items():
        if port not in preset.ports:
            raise ConfigError(f"{where}: {field}: {port!r} is not one of the ports {', '.join(preset.ports)}")
    if len(set(roles.values())) != 3 or len(preset.ports) != 3:
        raise ConfigError(f"{where}: ports: a two-terminal device with one state has three ports (plus, minus, state), "
                          f"each in one role; got {', '.join(preset.ports)} with plus {preset.terminals.plus!r}, minus "
                          f"{preset.terminals.minus!r}, state {preset.state.port!r}")
    seen: dict[str, str] = {}
    for parameter in preset.parameters:
        name(parameter, "parameters")
        if parameter.lower() == STATE_PARAM:
            raise ConfigError(f"{where}: parameters.{parameter}: the name is taken by the device's state")
        if parameter.lower() in seen:
            raise ConfigError(f"{where}: parameters: {seen[parameter.lower()]!r} and {parameter!r} differ only in "
                              "case, which netlists ignore")
        seen[parameter.lower()] = parameter
    for parameter in preset.variation:
        spec = preset.parameters.get(parameter)
        if spec is None:
            raise ConfigError(f"{where}: variation.{parameter}: not one of the preset's parameters")
        if not isinstance(spec, Adjustable):
            raise ConfigError(f"{where}: variation.{parameter}: a fixed parameter cannot vary; give it "
                              "{value, range} to make it adjustable")


def _model_path(preset_path: Path, model: str) -> Path:
    """The model file: a relative path below the preset's folder, with characters a netlist path may hold."""
    where = f"{preset_path}: model"
    try:
        ir.check_path(model, "model file name")
    except NetlistError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    relative = PurePosixPath(model)
    if relative.is_absolute() or ".." in relative.parts or relative.suffix != ".va" or not relative.stem:
        raise ConfigError(f"{where}: {model!r} must be a .va file beside the preset or below its folder (a relative "
                          "path without '..')")
    folder = preset_path.parent
    path = folder / relative
    try:
        inside = path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        inside = False
    if path.exists() and not inside:
        raise ConfigError(f"{where}: {model!r} leads out of the preset's folder (a symlink)")
    return path


@functools.lru_cache(maxsize=32)
def _compiled(version: tuple[str, int, int], va_version: tuple[str, int, int]) -> VAModel:
    preset_path, va = version[0], va_version[0]
    preset = _preset_file(*version)
    try:
        text = input_files.read_text(Path(va), MAX_VERILOG_A_BYTES, "Verilog-A model")
    except ConfigError as exc:
        raise ConfigError(f"{preset_path}: model: {exc}") from None
    ports, declared = declarations(text, preset.module, f"{preset_path}: module")
    if ports != preset.ports:
        raise ConfigError(f"{preset_path}: ports: [{', '.join(preset.ports)}] differ from module {preset.module}'s "
                          f"ports [{', '.join(ports)}] (list them all, in the module's order)")
    for parameter in preset.parameters:
        if parameter not in declared:
            raise ConfigError(f"{preset_path}: parameters.{parameter}: not a parameter of module {preset.module} "
                              f"(declared: {', '.join(declared) or 'none'})")
    from cosim.spice.osdi import compile_va

    try:
        osdi = compile_va(Path(va))
    except SimulationError as exc:
        raise ConfigError(f"{preset_path}: model: {exc}") from None
    fixed = {k: float(v) for k, v in preset.parameters.items() if not isinstance(v, Adjustable)}
    adjustable = {k: v for k, v in preset.parameters.items() if isinstance(v, Adjustable)}
    return VAModel(
        path=Path(preset_path), va_path=Path(va), va_text=text,
        va_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), osdi=osdi, module=preset.module,
        ports=tuple(preset.ports), plus=preset.terminals.plus, minus=preset.terminals.minus,
        state_port=preset.state.port,
        state_range=(float(preset.state.range[0]), float(preset.state.range[1])), fixed=fixed, adjustable=adjustable,
        variation=dict(preset.variation), source=preset.source)


# --- the module's declarations -------------------------------------------------------------------------------------

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/|\(\*.*?\*\)", re.S)  # comments and (* attributes *)
_MODULE = re.compile(r"\b(?:macro)?module\s+([A-Za-z_][A-Za-z0-9_$]*)\s*(?:\(([^)]*)\))?\s*;")
_PARAMETER = re.compile(r"\bparameter\b(.*?);", re.S)
_TYPE = re.compile(r"^\s*(?:real|integer|string)?\s*(?:\[[^\]]*\])?\s*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def declarations(text: str, module: str, where: str) -> tuple[list[str], list[str]]:
    """The ports (in order) and parameters that `module` declares in Verilog-A source `text`."""
    code = _COMMENTS.sub(" ", text)
    modules = list(_MODULE.finditer(code))
    found = next((m for m in modules if m.group(1) == module), None)
    if found is None:
        names = ", ".join(m.group(1) for m in modules) or "none"
        raise ConfigError(f"{where}: {module!r} is not declared in the model file (modules there: {names})")
    end = code.find("endmodule", found.end())
    body = code[found.end(): end if end >= 0 else len(code)]
    ports = [_IDENT.findall(piece)[-1] for piece in (found.group(2) or "").split(",") if _IDENT.findall(piece)]
    parameters = []
    for declaration in _PARAMETER.finditer(body):
        for piece in _top_level_split(_TYPE.sub("", declaration.group(1), count=1)):
            match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_$]*)\s*=", piece)
            if match:
                parameters.append(match.group(1))
    return ports, parameters


def _top_level_split(text: str) -> list[str]:
    """`text` split at commas outside brackets (`a = max(1, 2), b = 3` is two declarations)."""
    pieces, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append(text[start:k])
            start = k + 1
    return pieces + [text[start:]]
