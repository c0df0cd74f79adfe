"""What an experiment is: a config model, a training run, the circuit it exports for a stimulus, the extras
its report shows and the reference exports it ships. `cosim train`, sweeps, `cosim export` and reports ask
an experiment only this (through `cosim.experiments.registry`), never a trainer's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

import numpy as np
from pydantic import Field, model_validator

from cosim.config import Strict, as_value_error
from cosim.hil.ledger import Ledger
from cosim.limits import MAX_SEED
from cosim.netlist.writers.base import Variant

# progress(epoch, record): record holds the epoch's numbers (loss, train_accuracy, …) and "epochs", the total
Progress = Callable[[int, dict], None]


class ExperimentBase(Strict):
    """What every experiment file has: its name (a Literal in each subclass), a seed and a backend. A config
    whose device family has no numpy twin refuses the twin backend when it is validated."""

    seed: int = Field(0, ge=0, le=MAX_SEED)  # numpy's generators take no negative seeds
    backend: Literal["spice", "batch", "twin"] = "spice"

    @model_validator(mode="after")
    def _twin(self) -> "ExperimentBase":
        from cosim.devices.registry import check_backend

        family = getattr(getattr(self, "device", None), "family", None)
        if family is not None:
            with as_value_error():
                check_backend(family, self.backend)
        return self


@dataclass
class RunResult:
    """What a run directory records: metrics.json, history.csv, ledger.parquet, netlists/."""

    metrics: dict
    history: list[dict]
    ledger: Ledger
    netlists: dict[str, str | bytes] = field(default_factory=dict)  # netlists/: file name -> text or bytes
    # final device states by family (e.g. {"msdc_x": array}), saved as DIR/states.npz for export and resume
    states: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class ExportSlot:
    """One hardware event of an exported stimulus (from the session's schedule)."""

    kind: str
    device: str
    start_s: float
    end_s: float
    read_at_s: float | None


@dataclass
class ExportedCircuit:
    """The circuit exactly as the experiment simulates it, with a stimulus: its model families (one Variant
    each, the writers take the one they write), the events of the stimulus and where to read the results."""

    experiment: str
    description: list[str]
    stimulus: str
    model_backend: str
    variants: dict[str, Variant]
    slots: list[ExportSlot]
    x0: np.ndarray
    column_vectors: list[str]  # the outputs to read (M-SDC: column currents of the sense ammeters)
    drive_vectors: list[str]  # programming driver current
    # how the README names the output and state vectors of this circuit
    output_label: str = "Column currents (A, positive into each sense ammeter), sampled at the read instants"
    state_label: str = "Device states X (V of each state node, 0..1), in device order"
    # further saved vectors the README names: (what they are, vectors)
    extra_vectors: list[tuple[str, list[str]]] = field(default_factory=list)
    # why a dialect whose model family is not among `variants` cannot take the circuit
    unavailable: str = "its random source (ngspice TRRANDOM) has no equivalent there"


def no_extras(cfg: Any, states: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {}


@dataclass(frozen=True)
class Experiment:
    """One experiment. `train(cfg, progress)` runs it (with `checkpoint=` and `resume=` too when
    `resumable`); `export_circuit(cfg, states, stimulus, model_backend)` is its circuit for `cosim export`
    (states: a run's states.npz, or none for a config); `report_extras(cfg, states)` gives the conductance
    maps a report draws ({label: rows × columns in S}); `reference_exports` lists the (dialect, stimulus)
    exports shipped in netlists/<name>/, written from netlists/<name>.yaml; `title` names it in words for
    reports; `scaled_energy`, when not every booked event is simulated, says how its SPICE figures are scaled."""

    name: str
    Config: type[ExperimentBase]
    train: Callable[..., RunResult]
    export_circuit: Callable[..., ExportedCircuit]
    reference_exports: tuple[tuple[str, str], ...]
    report_extras: Callable[[Any, Mapping[str, np.ndarray]], dict[str, np.ndarray]] = no_extras
    resumable: bool = False
    title: str = ""
    scaled_energy: str = ""
