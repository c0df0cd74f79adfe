"""The ledger: the single source of energy and time. One row per hardware event.

Circuit energy comes from the simulated waveforms: `energy_J` is ∫V·I of every source that supplies the circuit
during the event (drivers and the neurons' amplifier outputs, cosim.hil.power), `device_energy_J` the part the
devices themselves dissipate (what papers quoting a device's switching or read energy give; NaN where a backend
does not measure it). Circuit time comes from the hardware's own schedule; peripheral costs (controller steps, switch events, ADC conversions, and on tiled
boards the digital operations and DAC drives between tiles) come from a documented table that users can
change. A tiled board's rows name their tile (`tile`, e.g. "l1[0,1]"; cosim.hil.tiles says what it books). Each row also says how many samples (inputs) the event served, so
per-inference and per-training-sample figures need no second bookkeeping. Figures are summed from these rows
in one place only: `cosim.hil.summary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import Field

from cosim import atomic
from cosim.config import Strict
from cosim.errors import ConfigError
from cosim.limits import MAX_EVENT_ENERGY_J, MAX_TIME_S

PHASES = ("read", "set", "reset", "verify", "inference")


class PeripheralCosts(Strict):
    """Energy and time of the parts around the array. Not published for the reproduced systems: these
    defaults are assumptions of typical discrete parts, documented here so a comparison can state them.

    - controller step: a 32-bit microcontroller at 48 MHz and about 10 mW, ~1000 cycles per decision
      (compute an update, choose a device): 21 µs, 0.2 µJ;
    - switch event: an analogue multiplexer channel change, ~100 ns and ~50 pJ (charge injection and drive);
    - ADC conversion: a 12-bit SAR converter at 1 MS/s and about 1 mW: 1 µs, 1 nJ;
    - digital operation (tiled boards: adding a tile's converted partial sum to a column's total, or the
      activation of a total by a table look-up): a 16-bit operation with its register accesses in the periphery
      logic at 1 GHz, ~1 ns and ~1 pJ;
    - DAC drive (tiled boards: a digital activation driving a row of the next layer's tiles): an 8-bit DAC and
      its row buffer settling within 10 ns at ~1 mW: 10 ns, 10 pJ.

    The neurons' amplifiers are not here: their outputs are sources of the simulated circuit, booked in the
    circuit energy (what an amplifier's output delivers; its quiescent supply current is not modelled).
    """

    controller_step_J: float = Field(2.1e-7, ge=0, le=MAX_EVENT_ENERGY_J)
    controller_step_s: float = Field(2.1e-5, ge=0, le=MAX_TIME_S)
    switch_J: float = Field(5e-11, ge=0, le=MAX_EVENT_ENERGY_J)
    switch_s: float = Field(1e-7, ge=0, le=MAX_TIME_S)
    adc_J: float = Field(1e-9, ge=0, le=MAX_EVENT_ENERGY_J)
    adc_s: float = Field(1e-6, ge=0, le=MAX_TIME_S)
    digital_op_J: float = Field(1e-12, ge=0, le=MAX_EVENT_ENERGY_J)
    digital_op_s: float = Field(1e-9, ge=0, le=MAX_TIME_S)
    dac_J: float = Field(1e-11, ge=0, le=MAX_EVENT_ENERGY_J)
    dac_s: float = Field(1e-8, ge=0, le=MAX_TIME_S)


@dataclass
class Event:
    phase: str
    energy_J: float
    circuit_time_s: float
    wall_time_s: float
    device: str = ""
    layer: str = ""
    epoch: int = -1
    pulses: int = 0
    controller_steps: int = 0
    switch_events: int = 0
    adc_conversions: int = 0
    peripheral_energy_J: float = 0.0
    peripheral_time_s: float = 0.0
    # inputs this event served (an inference of one input: 1; a batch of reads for 1000 inferences: 1000;
    # programming and device reads: 0; a stage whose inputs another event completes: 0, so each counts once)
    samples: int = 0
    tile: str = ""  # the tile of a tiled board that booked the event ("": the whole board, or outside the tiles)
    digital_ops: int = 0
    dac_drives: int = 0
    device_energy_J: float = float("nan")  # of energy_J, dissipated in the devices (NaN: not measured)


@dataclass
class Ledger:
    peripherals: PeripheralCosts = field(default_factory=PeripheralCosts)
    events: list[Event] = field(default_factory=list)

    def book(self, phase: str, *, energy_J: float, circuit_time_s: float, wall_time_s: float, device: str = "",
             layer: str = "", epoch: int = -1, pulses: int = 0, controller_steps: int = 0, switch_events: int = 0,
             adc_conversions: int = 0, samples: int = 0, tile: str = "", digital_ops: int = 0,
             dac_drives: int = 0, device_energy_J: float = float("nan")) -> Event:
        if phase not in PHASES:
            raise ConfigError(f"ledger phase {phase!r} is not one of {', '.join(PHASES)}")
        p = self.peripherals
        event = Event(
            phase, float(energy_J), float(circuit_time_s), float(wall_time_s), device, layer, int(epoch), int(pulses),
            controller_steps, switch_events, adc_conversions,
            controller_steps * p.controller_step_J + switch_events * p.switch_J + adc_conversions * p.adc_J
            + digital_ops * p.digital_op_J + dac_drives * p.dac_J,
            controller_steps * p.controller_step_s + switch_events * p.switch_s + adc_conversions * p.adc_s
            + digital_ops * p.digital_op_s + dac_drives * p.dac_s,
            int(samples), tile, int(digital_ops), int(dac_drives), float(device_energy_J),
        )
        self.events.append(event)
        return event

    def frame(self) -> pd.DataFrame:
        columns = list(Event.__dataclass_fields__)
        # rows from the instances' own dicts: dataclasses.asdict deep-copies and took seconds for 10⁵ events
        return pd.DataFrame([vars(e) for e in self.events], columns=columns)

    def save(self, path: Path) -> Path:
        """Write `ledger.parquet` atomically (temp file, then rename)."""
        with atomic.replacing(path) as tmp:
            self.frame().to_parquet(tmp, index=False)
        return Path(path)

    @classmethod
    def load(cls, path: Path, peripherals: PeripheralCosts | None = None) -> "Ledger":
        frame = pd.read_parquet(path)
        ledger = cls(peripherals or PeripheralCosts())
        ledger.events = [Event(**row) for row in frame.to_dict("records")]
        return ledger

