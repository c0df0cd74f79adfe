"""Energy / latency / accuracy reports of run and sweep folders: loading them (`load`), their tables
(`tables`) and figures (`figures`), and the HTML, Markdown and CSV files (`render`)."""

from cosim.reports.load import file_stem, labels, load_run
from cosim.reports.render import build, write
from cosim.reports.tables import summary_rows, sweep_summary

__all__ = ["build", "file_stem", "labels", "load_run", "summary_rows", "sweep_summary", "write"]
