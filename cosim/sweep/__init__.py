"""Parameter sweeps: a spec expanded to points (`spec`), run on local processes or Dask (`executors`) by
the driver (`driver`), recorded one run directory per point plus a results table (`results`), plotted
(`plot`)."""

from cosim.sweep.driver import SPEC_FILE, WORK_DIR, Summary, prepare, run
from cosim.sweep.executors import execute_point
from cosim.sweep.plot import draw, plot
from cosim.sweep.results import FAILED_FILE, POINTS_DIR, RESULTS_FILE, point_status
from cosim.sweep.spec import expand

__all__ = ["FAILED_FILE", "POINTS_DIR", "RESULTS_FILE", "SPEC_FILE", "WORK_DIR", "Summary", "draw", "execute_point",
           "expand", "plot", "point_status", "prepare", "run"]
