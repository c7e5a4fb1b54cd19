"""Load YAML and remember where every value and key sits, so errors can say `PATH:LINE:COL`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """1-based line and column of a YAML node."""

    line: int
    col: int


@dataclass(frozen=True)
class Located:
    """Parsed YAML data with the position of each value (`values`) and mapping key (`keys`)."""

    data: Any
    values: dict[Path, Position]
    keys: dict[Path, Position]

    def where(self, path: Path, *, key: bool = False) -> Position:
        """The most precise known position for `path`, walking up to a parent if needed."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Position(1, 1))


class YamlSyntaxError(ValueError):
    """The text is not YAML at all; carries the position of the fault."""

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.position = position


def load_located(text: str) -> Located:
    """Parse one YAML document into plain Python data plus a position table."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
        raise YamlSyntaxError(f"YAML syntax error: {exc.problem or exc}", pos) from None
    values: dict[Path, Position] = {}
    keys: dict[Path, Position] = {}
    if root is None:
        return Located({}, values, keys)
    constructor = yaml.SafeLoader(text)
    data = _walk(root, (), values, keys, constructor)
    return Located(data, values, keys)


def _walk(
    node: yaml.Node,
    path: Path,
    values: dict[Path, Position],
    keys: dict[Path, Position],
    constructor: yaml.SafeLoader,
) -> Any:
    values[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)  # resolves `<<: *defaults` merge keys
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            child = (*path, key)
            keys[child] = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = _walk(value_node, child, values, keys, constructor)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _walk(item, (*path, index), values, keys, constructor)
            for index, item in enumerate(node.value)
        ]
    return constructor.construct_object(node, deep=True)
