"""Files named by users, read within bounds: only regular files (a device such as /dev/zero, a pipe or a
folder is refused before a byte is read), never more than a size limit, and text only as UTF-8. Every
refusal is a ConfigError naming the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cosim.errors import ConfigError


def read_bytes(path: Path, max_bytes: int, kind: str = "file") -> bytes:
    """The content of a regular file of at most `max_bytes` (`kind` names the file in the size message)."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: cannot read: no such file") from None
    except ValueError:  # the name holds a NUL byte
        raise ConfigError(f"{path}: cannot read: the file name holds a NUL byte") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{path}: cannot read: is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: cannot read: not a regular file (a device, pipe or socket)")
    too_big = f"{path}: cannot read: larger than {max_bytes} bytes, the limit for a {kind}"
    if info.st_size > max_bytes:
        raise ConfigError(too_big)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # it grew after the check
        raise ConfigError(too_big)
    return data


def read_text(path: Path, max_bytes: int, kind: str = "text file") -> str:
    """A regular UTF-8 text file of at most `max_bytes`."""
    try:
        return read_bytes(path, max_bytes, kind).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read: not a UTF-8 text file") from None
