"""Energy / latency / accuracy reports of run and sweep folders: loading them (`load`), their tables
(`tables`), values and words as a reader sees them (`show`, `notes`), figures (`figures`), the page laid out
(`page`, `sections`) and the HTML, Markdown and CSV files (`render`, templates/)."""

from cosim.reports.load import file_stem, labels, load_run
from cosim.reports.render import Report, build, save, write
from cosim.reports.tables import summary_rows, sweep_summary

__all__ = ["Report", "build", "file_stem", "labels", "load_run", "save", "summary_rows", "sweep_summary", "write"]
