"""YAML files and ``--set KEY.PATH=VALUE`` overrides, for any config-like input.

Every file a user gives is hostile until read: it is read with a size limit, must be UTF-8,
may not repeat a key, may not nest beyond ``MAX_DEPTH`` levels or expand through aliases beyond
``MAX_NODES`` values (a "billion laughs" file is a few lines long), and reads numbers the way
people write them (``1e30`` is a number, as in YAML 1.2, not the string YAML 1.1 makes of it).
Errors are raised as the caller's error class (``ConfigError`` for hardware, ``WorkloadError``
for workloads, ...) so that each names its own kind of input.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, ClassVar

import yaml

from accelsim.errors import AccelsimError, ConfigError, UsageError, shown

MAX_FILE_BYTES = 4 << 20  # a machine, workload or sweep spec is a few KB
MAX_DEPTH = 32  # nesting levels (real files use fewer than 6)
MAX_NODES = 100_000  # values after alias expansion


class _Refused(Exception):
    """A structural limit was hit while composing; carries the message."""


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 exponent floats and an error on duplicate keys."""

    # A copy, so the resolver added below does not change PyYAML's own SafeLoader.
    yaml_implicit_resolvers: ClassVar[dict] = {
        k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`, merged by PyYAML
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key (a list or mapping): PyYAML reports it
                break
            if duplicate:
                mark = key_node.start_mark
                raise _Refused(f"duplicate key {shown(key)} at line {mark.line + 1}, column "
                               f"{mark.column + 1}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# 1e30, 1.5E-3, .5e3: YAML 1.2 floats that YAML 1.1's resolver (a dot and a signed exponent
# required) leaves as strings.
SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _check_structure(root: yaml.Node) -> None:
    """Refuse deep nesting and alias bombs before anything is built from the node graph.

    Aliases share nodes, so the graph is small while its expansion may be astronomical; the
    expanded size is counted once per node (memoised), in time linear in the file.
    """
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in size and not done:
            continue
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep (line "
                           f"{node.start_mark.line + 1})")
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if not done:
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in children if id(child) not in size)
            continue
        total = 1 + sum(size.get(id(child), 0) for child in children)
        size[id(node)] = total
        if total > MAX_NODES:
            raise _Refused(f"expands to more than {MAX_NODES:,} values through aliases or sheer "
                           "size (a YAML alias bomb?)")


def parse_yaml(text: str) -> Any:
    """Parse one YAML document under the limits above; raises ``yaml.YAMLError`` or
    ``ValueError`` with a one-line reason."""
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_structure(node)
        return loader.construct_document(node)
    except RecursionError:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep") from None
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    finally:
        loader.dispose()


def read_text(path: Path, error: type[AccelsimError], what: str = "file",
              limit: int = MAX_FILE_BYTES) -> str:
    """A text file's contents: at most ``limit`` bytes, UTF-8, no NUL bytes."""
    try:
        if path.is_dir():
            raise error(f"{path}: is a directory, expected a {what}")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(f"{path}: larger than {limit >> 20} MiB, too large for a {what}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset "
                    f"{exc.start})") from None
    if "\x00" in text:
        raise error(f"{path}: holds a NUL byte at offset {text.index(chr(0))}; not a text file")
    return text


def read_yaml(path: Path, error: type[AccelsimError] = ConfigError, what: str = "YAML file"
              ) -> Any:
    """The parsed file, a fresh copy each call (parses are cached by the file's identity and
    modification time: a sweep resolves hundreds of machines from one base)."""
    try:
        st = path.stat()
        identity = (str(path.resolve()), st.st_mtime_ns, st.st_size, st.st_ino)
    except (OSError, ValueError):
        identity = None
    if identity is not None and identity in _parsed:
        return copy.deepcopy(_parsed[identity])
    data = _read_yaml(path, error, what)
    if identity is not None:
        if len(_parsed) > 64:
            _parsed.clear()
        _parsed[identity] = copy.deepcopy(data)
    return data


_parsed: dict[tuple, Any] = {}


def _read_yaml(path: Path, error: type[AccelsimError], what: str) -> Any:
    text = read_text(path, error, what)
    try:
        return parse_yaml(text)
    except ValueError as exc:
        raise error(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: {_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or "not valid YAML"
    return f"YAML syntax error{where}: {problem}"


def resolve_preset(name: str | Path, directory: Path, what: str,
                   error: type[AccelsimError] = ConfigError) -> Path:
    """A file path as given, or a preset name looked up as ``directory/NAME.yaml``."""
    path = Path(name)
    try:
        if path.is_file():
            return path
        preset = directory / f"{name}.yaml"
        if not path.suffix and preset.is_file():
            return preset
        if path.is_dir():
            raise error(f"{shown(str(name))} is a directory, expected a {what} file or preset")
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL
        pass
    presets = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
    raise error(f"no such {what} file or preset {shown(str(name))} (presets: {presets})")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``array.rows=32`` -> (["array", "rows"], 32); the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise UsageError(f"--set {shown(text)}: expected KEY.PATH=VALUE, e.g. array.rows=32")
    if not raw.strip():
        raise UsageError(f"--set {shown(text)}: missing value after '='")
    try:
        value = parse_yaml(raw)
    except (ValueError, yaml.YAMLError):
        raise UsageError(f"--set {shown(text)}: value {shown(raw)} is not a valid YAML "
                         "value") from None
    return parts, value


def apply_overrides(data: Any, overrides: list[str]) -> Any:
    """A copy of ``data`` with each override set; unknown keys are caught by validation."""
    data = copy.deepcopy(data) if data is not None else {}
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict):
                raise UsageError(f"--set {shown(text)}: {'.'.join(parts[:i])} is not a section")
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        if not isinstance(node, dict):
            raise UsageError(f"--set {shown(text)}: {'.'.join(parts[:-1])} is not a section")
        node[parts[-1]] = value
    return data


def override_label(overrides: list[str]) -> str:
    """``[array.rows=32, dram.model=fixed_bandwidth]``: how a report names a machine's changes."""
    return "[" + ", ".join(o.strip() for o in overrides) + "]" if overrides else ""
