"""Sort ngspice's output lines into information, warnings and errors.

ngspice >= 42 prints plenty of informational lines on stderr (`Using KLU…`, `Note:…`, `Trying gmin…`);
PySpice 1.5 takes every one of them for an error. Here errors are recognised by what they say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

INFO, WARNING, ERROR = "info", "warning", "error"

_INFO_PREFIXES = (
    "Using SPARSE", "Using KLU", "Note:", "Trying gmin", "Doing analysis", "No. of Data Rows", "Circuit:",
    "Reference value", "Operating point simulation skipped", "now using transient initial conditions",
    "Background thread", "Supplies reduced", "Initial Transient Solution", "Transient solution",
    "Simulation interrupted", "doAnalyses: pause requested", "tran simulation interrupted", "binary raw file",
    "ASCII raw file", "Total analysis time", "Total elapsed time", "Node", "----", "Warning: Dynamic gmin",
)
_ERROR = re.compile(
    r"error|aborted|timestep too small|could not|cannot|can't find|unknown|not found|fatal|"
    r"no such|failed|unable to|unrecognized|undefined",
    re.IGNORECASE,
)
_CONVERGENCE = re.compile(r"timestep too small|singular matrix|gmin stepping failed|source stepping failed|"
                          r"iteration limit reached|convergence", re.IGNORECASE)


def classify(line: str) -> str:
    text = line.strip()
    if not text or text.startswith(_INFO_PREFIXES):
        return INFO
    if text.lower().startswith("warning"):
        return WARNING
    if _ERROR.search(text):
        return ERROR
    return INFO


@dataclass
class Transcript:
    """What ngspice said during one command, sorted by kind."""

    lines: list[tuple[str, str]] = field(default_factory=list)

    def add(self, stream: str, text: str) -> None:
        # ngspice also prints some errors on stdout; there only lines that say so count.
        if stream == "stderr":
            kind = classify(text)
        else:
            kind = ERROR if text.lstrip().lower().startswith("error") else INFO
        self.lines.append((kind, text.rstrip()))

    def errors(self) -> list[str]:
        """Error lines; one that ends in ':' takes the next two lines along (the culprit and the reason)."""
        out = []
        for i, (kind, text) in enumerate(self.lines):
            if kind != ERROR:
                continue
            if text.rstrip().endswith(":"):
                text = " ".join([text.strip(), *(t.strip() for _, t in self.lines[i + 1 : i + 3])])
            if text not in out:
                out.append(text)
        return out

    def is_convergence_failure(self) -> bool:
        return bool(self.errors()) and any(_CONVERGENCE.search(t) for _, t in self.lines)

    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)

    def clear(self) -> None:
        self.lines.clear()
