"""Declarative config fields: one definition gives validation, JSON Schema and documentation.

A hardware section is a frozen dataclass whose fields are declared with :func:`spec`. The
validator (``validate.py``), the JSON Schema export and the generated key reference all walk the
same dataclasses, so the three can never drift apart.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import MISSING, dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class FieldInfo:
    """What a config key means: its documentation, unit and the values it accepts."""

    doc: str
    unit: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None  # inclusive
    exclusive_minimum: float | None = None
    maximum: float | None = None  # inclusive
    power_of_two: bool = False


def spec(default: Any = MISSING, *, doc: str, unit: str = "", choices: tuple[Any, ...] = (),
         minimum: float | None = None, exclusive_minimum: float | None = None,
         maximum: float | None = None, power_of_two: bool = False,
         factory: Any = MISSING) -> Any:
    """Declare a config key; ``default`` missing means the key is required."""
    info = FieldInfo(doc, unit, tuple(choices), minimum, exclusive_minimum, maximum, power_of_two)
    if factory is not MISSING:
        return dataclasses.field(default_factory=factory, metadata={"info": info})
    return dataclasses.field(default=default, metadata={"info": info})


@dataclass(frozen=True)
class Key:
    """One field of a section, resolved: its name, python type and metadata."""

    name: str
    kind: Any  # int, float, bool, str, a section dataclass, or ("optional", section)
    info: FieldInfo
    default: Any  # MISSING when required

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def section(self) -> type | None:
        if isinstance(self.kind, tuple):
            return self.kind[1]
        return self.kind if isinstance(self.kind, type) and dataclasses.is_dataclass(self.kind) \
            else None


def keys(section: type) -> list[Key]:
    """The keys of a section dataclass in declaration order."""
    return list(_keys(section))


@cache
def _keys(section: type) -> tuple[Key, ...]:
    hints = typing.get_type_hints(section)
    out = []
    for f in dataclasses.fields(section):
        kind = hints[f.name]
        if typing.get_origin(kind) in (typing.Union, getattr(__import__("types"), "UnionType", ())):
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            kind = ("optional", args[0])
        default = f.default
        if f.default_factory is not MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        out.append(Key(f.name, kind, f.metadata["info"], default))
    return tuple(out)


def number(value: float) -> str:
    """A bound as people read it: 1,048,576 rather than 1.04858e+06; 0.001; 1e+09."""
    if float(value).is_integer() and abs(value) < 1e7:
        return f"{int(value):,}"
    return f"{value:g}"


def type_name(kind: Any) -> str:
    if isinstance(kind, tuple):
        return "section (optional)"
    if dataclasses.is_dataclass(kind):
        return "section"
    return {int: "integer", float: "number", bool: "boolean", str: "string", dict: "mapping"}[kind]
