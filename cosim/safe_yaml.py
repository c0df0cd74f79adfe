"""The one way cosim reads YAML written by people: configs, sweep specs, presets, parameter files, records.

A file is read only when it is a regular file within a size limit (`cosim.input_files`: `/dev/zero` or a FIFO
is refused before a byte is read), as UTF-8 text without NUL bytes. The document may not repeat a key in a mapping (YAML keeps
the last one silently), nest deeper than a limit, or expand through aliases beyond a number of values (a few
hundred bytes of nested aliases otherwise grow into gigabytes). Numbers such as `1e-6` are numbers, as in
YAML 1.2 and JSON (YAML 1.1 reads them as text). Every refusal is a ConfigError naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from cosim import input_files
from cosim.errors import ConfigError
from cosim.limits import MAX_RECORD_BYTES, MAX_RECORD_VALUES, MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_VALUES


class _Refused(Exception):
    def __init__(self, node_or_mark, reason: str) -> None:
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        super().__init__(f"line {mark.line + 1}: {reason}" if mark is not None else reason)


class _Loader(yaml.SafeLoader):
    """SafeLoader with a nesting limit and duplicate keys refused."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(self.peek_event().start_mark, f"nested deeper than {MAX_YAML_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            first_line: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` merges defaults; keys written beside it override them, as YAML says
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = key in first_line
                except TypeError:  # an unhashable key: the base class refuses it with its own message
                    continue
                if seen:
                    raise _Refused(key_node, f"duplicate key {key!r} (first on line {first_line[key]})")
                first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


# YAML 1.2 numbers with an exponent and no dot (1e-6, 5E3), which YAML 1.1 reads as text
_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
                              list("-+0123456789."))


def _count_values(root: Node, max_values: int) -> None:
    """Refuse a document whose values, aliases expanded, exceed `max_values` (or that refers to itself).
    An aliased node is one object in the node graph, so the count is memoised per node: linear time."""
    counts: dict[int, int] = {}
    open_nodes: set[int] = set()

    def count(node: Node) -> int:
        key = id(node)
        if key in counts:
            return counts[key]
        if key in open_nodes:
            raise _Refused(node, "an alias refers to the collection that contains it")
        open_nodes.add(key)
        children = [n for pair in node.value for n in pair] if isinstance(node, MappingNode) else (
            node.value if isinstance(node, SequenceNode) else [])
        total = 1 + sum(count(child) for child in children)
        open_nodes.discard(key)
        if total > max_values:
            raise _Refused(node, f"more than {max_values} values once its aliases (*name) are expanded")
        counts[key] = total
        return total

    count(root)


def parse(text: str, where: str, max_values: int = MAX_YAML_VALUES) -> Any:
    """The data of one YAML document; `where` (a file name, an option) starts every error message."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigError(f"{where}: line {line}: NUL byte: not a YAML text")
    loader = None
    try:
        loader = _Loader(text)  # its reader refuses control characters right away
        node = loader.get_single_node()
        if node is None:
            return None
        _count_values(node, max_values)
        return loader.construct_document(node)
    except _Refused as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{where}: malformed YAML{line}: {getattr(exc, 'problem', None) or exc}") from None
    except ValueError as exc:  # a value YAML's constructors cannot build: a 5000-digit integer, 2024-13-45
        raise ConfigError(f"{where}: malformed YAML: {str(exc).split(';')[0]}") from None
    finally:
        if loader is not None:
            loader.dispose()


def read(path: Path) -> Any:
    """The data of a YAML file a person wrote (see the module docstring for what is refused)."""
    return parse(input_files.read_text(path, MAX_YAML_BYTES, "YAML file of this kind"), str(path))


def read_record(path: Path) -> Any:
    """The data of a YAML file cosim wrote and reads back (a run's config, a sweep record): the same checks,
    with the larger limits of cosim.limits (a sweep record holds the config of every point)."""
    return parse(input_files.read_text(path, MAX_RECORD_BYTES, "record"), str(path), MAX_RECORD_VALUES)
