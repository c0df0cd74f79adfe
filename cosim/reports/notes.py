"""What a report says in words: a run described as a person would (the experiment's title, the device, the
simulator, the seed), what its peripheral figures assume, and when runs shown side by side are not like for
like.

Runs are not comparable, and the report says so where it compares them, when they
- are of different experiments (different tasks, networks and devices);
- were simulated differently: the numpy twin (the circuit's equations) beside ngspice (waveforms); the
  in-process and batch ngspice engines run the same simulator and count as the same;
- book peripherals differently: one adds the assumed peripheral table and another books none, or they assume
  different tables (their figures "with peripherals" then measure different things);
- of one experiment, used different data (the `data` settings or the data set the run names), so their
  accuracies are on different test sets.
"""

from __future__ import annotations

import re

from cosim.devices import registry as devices
from cosim.errors import ConfigError
from cosim.experiments.registry import DEFAULT, get
from cosim.hil.ledger import PeripheralCosts
from cosim.reports.load import Run
from cosim.reports.show import cell
from cosim.reports.tables import totals

BACKENDS = {"spice": "ngspice (in process)", "batch": "ngspice (a batch process per simulation)",
            "twin": "the numpy twin (the circuit's equations, no SPICE)"}
SIMULATOR = {"spice": "ngspice", "batch": "ngspice", "twin": "numpy twin"}
MODELS = {"osdi": "Verilog-A compiled to OSDI", "bsource": "B-source subcircuit", "numpy": "numpy equations"}
PERIPHERAL_PARTS = {"controller_step": "controller step", "switch": "switch event", "adc": "ADC conversion"}
PERIPHERAL_COUNTS = {"controller_steps": "controller steps", "switch_events": "switch events",
                     "adc_conversions": "ADC conversions"}


def experiment_name(run: Run) -> str:
    return str(run.metrics.get("experiment") or run.config.get("experiment") or DEFAULT)


def title(run: Run) -> str:
    """The experiment in words ("On-chip training of …"); its code name when the experiment is not known."""
    name = experiment_name(run)
    try:
        return get(name).title or name
    except ConfigError:
        return name


def device(run: Run) -> str:
    """The device family in words with its preset or parameter file, e.g. "M-SDC, preset Cr"."""
    settings = run.config.get("device")
    if not isinstance(settings, dict) or "family" not in settings:
        return ""
    try:
        text = devices.family(settings["family"]).label
    except ConfigError:
        text = str(settings["family"])
    if settings.get("params_file"):
        return f"{text}, parameters from {settings['params_file']}"
    return f"{text}, preset {settings['preset']}" if settings.get("preset") else text


def backend(run: Run) -> str:
    return BACKENDS.get(run.metrics.get("backend", ""), str(run.metrics.get("backend", "")))


def device_model(run: Run) -> str:
    """The device model as simulated: "Verilog-A compiled to OSDI"; parts of a mixed board by name."""
    words = []
    for part in str(run.metrics.get("model_backend") or "").split("+"):
        who, _, model = part.rpartition(":")
        words.append(MODELS.get(model, model) + (f" for the {who} devices" if who else ""))
    return "; ".join(w for w in words if w)


def describe(run: Run) -> str:
    """One paragraph: what ran, on what, simulated how, with which seed and data, by which versions."""
    m = run.metrics
    parts = [f"{title(run)}."]
    if device(run):
        parts.append(f"Device: {device(run)}.")
    simulated = f"Simulated with {backend(run)}"
    if device_model(run):
        simulated += f", device model: {device_model(run)}"
    parts.append(f"{simulated}; seed {m.get('seed', run.config.get('seed', '?'))}.")
    if m.get("data"):
        parts.append(f"Data: {m['data']}.")
    versions = m.get("versions") if isinstance(m.get("versions"), dict) else {}
    shown = [f"{words} {versions[name]}" for name, words in (("cosim", "cosim"), ("ngspice", "ngspice"),
                                                             ("python", "Python"))
             if versions.get(name) is not None]
    if shown:
        parts.append(f"Versions: {', '.join(shown)}.")
    if isinstance(m.get("wall_time_s"), (int, float)):
        parts.append(f"Wall time of the run: {cell('wall_time_s', m['wall_time_s'])}.")
    return " ".join(parts)


def peripheral_table(run: Run) -> dict:
    """The peripheral costs the run assumed: its config's `peripherals` settings, or the defaults."""
    table = PeripheralCosts().model_dump()
    given = run.config.get("peripherals")
    if isinstance(given, dict):
        table.update({k: v for k, v in given.items() if k in table})
    return table


def peripheral_share(t: dict) -> float | None:
    """The part of a ledger summary's energy with peripherals that the peripherals add (None without energy)."""
    return 1 - t["energy_J"] / t["energy_with_peripherals_J"] if t["energy_with_peripherals_J"] else None


def books_peripherals(run: Run) -> bool:
    t = totals(run)
    return t["energy_with_peripherals_J"] > t["energy_J"] or t["time_with_peripherals_s"] > t["circuit_time_s"]


def circuit_source(run: Run) -> str:
    """Where the run's circuit figures come from, in words."""
    if run.metrics.get("backend") == "twin":
        return "the circuit's equations (numpy twin)"
    try:
        scaled = get(experiment_name(run)).scaled_energy
    except ConfigError:
        scaled = ""
    return f"the simulated waveforms (ngspice): {scaled}" if scaled else "the simulated waveforms (ngspice)"


def peripheral_note(run: Run) -> str:
    """What the figures "with peripherals" add to the circuit's own, and that they are assumptions."""
    if not books_peripherals(run):
        return ("This run books no peripheral events (controller, switches, converters): its figures with "
                f"peripherals equal the circuit figures, which come from {circuit_source(run)}.")
    t = totals(run)
    share = peripheral_share(t) or 0.0
    table = peripheral_table(run)
    costs = ", ".join(f"{words} {cell(f'{part}_J', table[f'{part}_J'])} and {cell(f'{part}_s', table[f'{part}_s'])}"
                      for part, words in PERIPHERAL_PARTS.items() if f"{part}_J" in table)
    counts = [f"{int(run.ledger[c].sum()):,} {words}" for c, words in PERIPHERAL_COUNTS.items()
              if c in run.ledger and run.ledger[c].sum() > 0]
    booked = f" for {_joined(counts)}" if counts else ""
    return (f"Figures with peripherals add assumed costs, neither measured nor simulated: the documented table of "
            f"typical discrete parts (PeripheralCosts in cosim/hil/ledger.py; {costs}), booked{booked}. They are "
            f"{100 * share:.1f} % of this run's energy with peripherals; the circuit figures come from "
            f"{circuit_source(run)}.")


def comparability(runs: list[Run]) -> list[str]:
    """One note per reason the runs are not like for like (the module docstring's rules); empty when they are."""
    notes = []
    kinds = _grouped(runs, experiment_name)
    if len(kinds) > 1:
        notes.append("Different experiments: " + "; ".join(f"{_names(group)} ({_citation(group[0])})" for group in
                                                           kinds.values())
                     + ". Their tasks, networks and devices differ, so accuracies and energies are not like for like.")
    simulators = _grouped(runs, lambda r: SIMULATOR.get(r.metrics.get("backend", ""), r.metrics.get("backend", "")))
    if len(simulators) > 1:
        notes.append("Different simulators: " + "; ".join(f"{_names(group)} on {name}" for name, group in
                                                          simulators.items())
                     + ". The numpy twin computes energy and time from the circuit's equations, ngspice from "
                       "waveforms; they agree within the tolerances the tests hold them to, not exactly.")
    booked = _grouped(runs, lambda r: "yes" if books_peripherals(r) else "no")
    if len(booked) > 1:
        notes.append(f"Peripherals: {_names(booked['yes'])} {_verb(booked['yes'], 'adds', 'add')} the assumed "
                     f"peripheral table, {_names(booked['no'])} {_verb(booked['no'], 'books', 'book')} no peripheral "
                     "events. Compare the circuit figures; the figures with peripherals are not like for like.")
    elif "yes" in booked:
        tables = _grouped(runs, lambda r: repr(sorted(peripheral_table(r).items())))
        if len(tables) > 1:
            notes.append("Peripherals: the runs assume different peripheral tables ("
                         + "; ".join(_names(group) for group in tables.values())
                         + "), so their figures with peripherals are not like for like.")
    if len(kinds) == 1:
        data = _grouped(runs, lambda r: repr((r.metrics.get("data"), r.config.get("data"))))
        if len(data) > 1:
            notes.append("Different data: " + "; ".join(f"{_names(group)}: {_data(group[0])}" for group in
                                                        data.values())
                         + ". Their accuracies are on different data sets.")
    return notes


def _data(run: Run) -> str:
    settings = run.config.get("data") if isinstance(run.config.get("data"), dict) else {}
    words = [str(run.metrics["data"])] if run.metrics.get("data") else []
    words += [f"{key} {value}" for key, value in settings.items()]
    return ", ".join(words) or "no data settings"


def _citation(run: Run) -> str:
    """The experiment's source as its title cites it ("Eslami et al. 2024"), or the whole title."""
    found = re.search(r"\(([^()]*)\)\s*$", title(run))
    return found.group(1) if found else title(run)


def _verb(group: list[Run], one: str, many: str) -> str:
    return one if len(group) == 1 else many


def _grouped(runs: list[Run], key) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(key(run), []).append(run)
    return groups


def _names(group: list[Run]) -> str:
    return _joined([r.name for r in group])


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
