"""Parameter sweeps: a base experiment plus axes over dotted config keys → points → one run directory per
point → `results.parquet`.

    base: eslami2024.yaml          # an experiment file (relative to the spec, or one that ships in sweeps/)
    set: {training.epochs: 10}     # fixed overrides for every point
    grid: {device.preset: [W, Cr, C], programming.reset_pulse: [true, false]}   # cartesian product
    zip: {training.noise: [0.0, 0.1], training.learning_rate: [0.2, 0.1]}       # paired lists
    random: {n: 4, seed: 0, ranges: {training.noise: [0.0, 0.2]}, log: []}      # seeded uniform samples
    seeds: 3                       # repeats: 3 → seeds 0, 1, 2; or an explicit list

Every point is validated as a full experiment before anything runs. A point's identity is the hash of its
resolved config, so a resumed sweep recognises finished points, and a point whose config did not change is
never recomputed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import ConfigDict, Field, StrictFloat, StrictInt, ValidationError, field_validator, model_validator

from cosim import safe_yaml
from cosim.config import Strict, describe_error, is_dotted_key, read_settings, set_value, shown
from cosim.errors import ConfigError
from cosim.experiments.registry import validate
from cosim.limits import MAX_SEED, MAX_SWEEP_POINTS
from cosim.resources import data_dir

SPEC_KEYS = "base, set, grid, zip, random, seeds"
MAX_RANDOM_BOUND = 1e300  # random range ends: their difference must stay a finite float
MAX_RANDOM_INT = 2**62  # integer range ends: numpy draws them as int64


def _check_keys(keys, where: str) -> None:
    for key in keys:
        if not is_dotted_key(key):
            raise ValueError(f"{where} key {shown(key)} is not a dotted config key (names of letters, digits "
                             "and _ joined by dots, e.g. training.noise)")


class RandomAxes(Strict):
    n: int = Field(ge=1, le=MAX_SWEEP_POINTS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    # [low, high]: integers draw integers, otherwise uniform floats
    ranges: dict[str, Annotated[list[StrictInt | StrictFloat], Field(min_length=2, max_length=2)]]
    log: list[str] = Field(default_factory=list)  # keys sampled log-uniformly

    @model_validator(mode="after")
    def _ranges(self) -> "RandomAxes":
        if not self.ranges:
            raise ValueError("random.ranges is empty: give at least one KEY: [low, high]")
        _check_keys(self.ranges, "random.ranges")
        for key, (low, high) in self.ranges.items():
            limit = MAX_RANDOM_INT if isinstance(low, int) and isinstance(high, int) else MAX_RANDOM_BOUND
            if not -limit <= low <= high <= limit:
                raise ValueError(f"random range of {key!r} is [{low}, {high}]: need low <= high, "
                                 f"both within ±{limit:g}")
            if key in self.log and low <= 0:
                raise ValueError(f"log-uniform range of {key!r} must be positive, got [{low}, {high}]")
        unknown = set(self.log) - set(self.ranges)
        if unknown:
            raise ValueError(f"random.log names keys without a range: {', '.join(sorted(map(str, unknown)))}")
        return self


class SweepSpec(Strict):
    model_config = ConfigDict(populate_by_name=True)

    base: str
    fixed: dict[str, Any] = Field(default_factory=dict, alias="set")
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    random: RandomAxes | None = None
    seeds: int | list[int] | None = None  # a count (seeds 0 … n−1) or the seeds themselves

    @field_validator("grid", "zip")
    @classmethod
    def _non_empty(cls, axes: dict[str, list[Any]], info) -> dict[str, list[Any]]:
        for key, values in axes.items():
            if not values:
                raise ValueError(f"{info.field_name} axis {key!r} is empty: give at least one value")
        return axes

    @model_validator(mode="after")
    def _consistent(self) -> "SweepSpec":
        _check_keys(self.fixed, "set")
        _check_keys(self.grid, "grid")
        _check_keys(self.zip, "zip")
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise ValueError("zip axes must be lists of the same length, got " +
                             ", ".join(f"{k}: {len(v)}" for k, v in self.zip.items()))
        if isinstance(self.seeds, int) and not 1 <= self.seeds <= MAX_SWEEP_POINTS:
            raise ValueError(f"seeds must be a count in [1, {MAX_SWEEP_POINTS}] or a list of seeds, got {self.seeds}")
        if isinstance(self.seeds, list):
            if not self.seeds:
                raise ValueError("seeds is an empty list")
            bad = [s for s in self.seeds if not 0 <= s <= MAX_SEED]
            if bad:
                raise ValueError(f"seeds: {bad[0]} is not a seed (an integer in [0, {MAX_SEED}])")
        keys = [*self.fixed, *self.grid, *self.zip, *(self.random.ranges if self.random else [])]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"keys set in more than one place: {', '.join(repeated)}")
        if "seed" in keys and self.seeds is not None:
            raise ValueError("seed is an axis and seeds is given: use one of them")
        if self.point_count() > MAX_SWEEP_POINTS:
            raise ValueError(f"the spec makes {self.point_count()} points; at most {MAX_SWEEP_POINTS} "
                             "(split it into several sweeps)")
        return self

    def seed_list(self) -> list[int] | None:
        if self.seeds is None:
            return None
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def point_count(self) -> int:
        """Points the spec makes, counted before any is built."""
        seeds = self.seeds if isinstance(self.seeds, int) else len(self.seeds or [None])
        zipped = len(next(iter(self.zip.values()))) if self.zip else 1
        return math.prod(len(v) for v in self.grid.values()) * zipped * (self.random.n if self.random else 1) * seeds


@dataclass(frozen=True)
class Point:
    """One run of the sweep: the values of its axes and the resolved experiment config."""

    index: int
    values: dict[str, Any]
    config: dict  # the validated experiment config as plain data (what workers receive)

    @property
    def id(self) -> str:
        text = json.dumps(self.config, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def dirname(self) -> str:
        return f"p-{self.id}"


@dataclass
class Sweep:
    spec: SweepSpec
    base_path: Path
    points: list[Point] = field(default_factory=list)

    @property
    def axes(self) -> list[str]:
        return list(self.points[0].values) if self.points else []


def read_spec(path: Path) -> dict:
    path = Path(path)
    data = safe_yaml.read(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with {SPEC_KEYS}")
    return data


def _base_path(base: str, spec_path: Path) -> Path:
    try:
        candidate = spec_path.parent / base
        if candidate.is_file():
            return candidate
        shipped = data_dir("sweeps") / base
        if shipped.is_file():
            return shipped
    except ValueError:  # a NUL byte in the name
        pass
    raise ConfigError(f"{spec_path}: base = {base!r}: no such experiment file next to the spec or in cosim's sweeps")


def _random_values(random: RandomAxes) -> list[dict[str, Any]]:
    rng = np.random.default_rng(random.seed)
    samples = []
    for _ in range(random.n):
        sample = {}
        for key, (low, high) in random.ranges.items():
            if key in random.log:
                value = float(math.exp(rng.uniform(math.log(low), math.log(high))))
            elif isinstance(low, int) and isinstance(high, int):
                value = int(rng.integers(low, high + 1))
            else:
                value = float(rng.uniform(low, high))
            sample[key] = value
        samples.append(sample)
    return samples


def _as_validated(values: dict[str, Any], config: dict) -> dict[str, Any]:
    """The axis values of a point as its results table records them: a SPICE-style text (`1u`) as the number
    the config validated it to (1e-06), every other value as the spec typed it."""
    out = {}
    for key, value in values.items():
        if isinstance(value, str):
            node: Any = config
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, (int, float)) and not isinstance(node, bool):
                value = node
        out[key] = value
    return out


def expand(spec_path: Path, data: dict | None = None) -> Sweep:
    """Validate a sweep spec and every point it makes (as a complete experiment config, presets and parameter
    files included), before anything runs. Values are set as the spec's YAML typed them, never parsed again (a
    SPICE-style number such as `1u` is a number to the config, which reads it once)."""
    spec_path = Path(spec_path)
    data = read_spec(spec_path) if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{spec_path}: expected a mapping with {SPEC_KEYS}")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, str(spec_path), SPEC_KEYS)) from None
    base = _base_path(spec.base, spec_path)
    settings = read_settings(base)
    for key, value in spec.fixed.items():
        settings = set_value(settings, key, value, f"{spec_path}: set")
    grid = [dict(zip(spec.grid, combo)) for combo in itertools.product(*spec.grid.values())] or [{}]
    zipped = [dict(zip(spec.zip, row)) for row in zip(*spec.zip.values())] or [{}]
    randoms = _random_values(spec.random) if spec.random else [{}]
    points = []
    for g, z, r, seed in itertools.product(grid, zipped, randoms, spec.seed_list() or [None]):
        values = {**g, **z, **r, **({"seed": seed} if seed is not None else {})}
        where = f"{spec_path} point {len(points)} ({', '.join(f'{k}={shown(v)}' for k, v in values.items()) or 'base'})"
        point = settings
        for key, value in values.items():
            point = set_value(point, key, value, where)
        config = validate(point, where).model_dump(mode="json")
        points.append(Point(len(points), _as_validated(values, config), config))
    ids = [p.id for p in points]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{spec_path}: some points have identical configs (an axis repeats a value)")
    return Sweep(spec, base, points)
