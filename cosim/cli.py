"""The `cosim` command line. Every command turns cosim's typed errors into one clear line and exit code 2."""

from __future__ import annotations

import functools
import sys

import click
from rich.console import Console
from rich.table import Table

from cosim import __version__
from cosim.errors import CosimError

console = Console()


def friendly_errors(func):
    """Known failures become one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CosimError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
        status = "[green]ok[/]" if c.ok else ("[red]MISSING[/]" if c.required else "[yellow]no[/]")
        table.add_row(c.name, status, c.detail)
    console.print(table)
    for c in checks:
        if not c.ok and c.fix:
            console.print(f"[{'red' if c.required else 'yellow'}]fix {c.name}:[/] {c.fix}", soft_wrap=True)
    if any(c.required and not c.ok for c in checks):
        sys.exit(1)


@main.command()
@click.option("--seed", default=0, show_default=True, help="Seed of the random conductances.")
@friendly_errors
def demo(seed: int) -> None:
    """Read a small resistive crossbar in ngspice and compare it with Ohm's law."""
    from cosim.demo import run_demo

    r = run_demo(seed)
    table = Table(title="demo: 4×2 crossbar read in ngspice (0.1 V, 1 µs)")
    for column in ("column", "ngspice current (µA)", "Ohm's law (µA)", "rel. error"):
        table.add_column(column, justify="right")
    for c, (m, e) in enumerate(zip(r.measured_A, r.expected_A)):
        table.add_row(str(c), f"{m * 1e6:.4f}", f"{e * 1e6:.4f}", f"{abs(m - e) / abs(e):.1e}")
    console.print(table)
    console.print(f"read energy from ∫V·I: {r.energy_J * 1e12:.4f} pJ (analytic {r.expected_energy_J * 1e12:.4f} pJ); "
                  f"circuit time {r.circuit_time_s * 1e6:.1f} µs; wall time {r.wall_time_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
