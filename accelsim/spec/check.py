"""Checking plain data (parsed YAML) against section dataclasses, and building them.

``check_schema`` walks a section's keys (``fields.keys``) and collects every problem with its
key path: unknown keys (with a did-you-mean), wrong types, values out of range or not among the
choices, missing required keys. ``build`` turns checked values into the frozen objects. Hardware
configs and workloads both go through here; each adds its own checks of meaning.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from accelsim.errors import shown
from accelsim.spec.fields import Key, keys, number


def _check_value(key: Key, value: Any, path: str, problems: list[str]) -> Any:
    kind, info = key.kind, key.info
    data_value = value
    if kind is bool:
        if not isinstance(value, bool):
            problems.append(f"{path}: expected true or false, got {shown(value)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                problems.append(f"{path}: expected an integer, got {shown(value)}")
                return value
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected a number, got {shown(value)}")
            return value
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            problems.append(f"{path}: expected a finite number, got {shown(data_value)}")
            return value
    elif kind is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            problems.append(f"{path}: expected a mapping of names to values, got {shown(value)}")
        return value
    elif kind is str and not isinstance(value, str):
        problems.append(f"{path}: expected a string, got {shown(value)}")
        return value
    if info.choices and value not in info.choices:
        choices = ", ".join(repr(c) for c in info.choices)
        problems.append(f"{path}: {shown(data_value)} is not one of {choices}")
    if info.minimum is not None and value < info.minimum:
        problems.append(f"{path}: {shown(data_value)} is below the minimum {number(info.minimum)}")
    if info.exclusive_minimum is not None and value <= info.exclusive_minimum:
        problems.append(f"{path}: {shown(data_value)} must be greater than "
                        f"{number(info.exclusive_minimum)}")
    if info.maximum is not None and value > info.maximum:
        problems.append(f"{path}: {shown(data_value)} is above the maximum {number(info.maximum)}")
    if info.power_of_two and isinstance(value, int) and (value < 1 or value & (value - 1)):
        problems.append(f"{path}: {shown(data_value)} must be a power of two")
    return value


def check_schema(section: type, data: Any, path: str, problems: list[str]) -> dict | None:
    """Check ``data`` against ``section``; return the values with defaults filled, or None."""
    if not isinstance(data, dict):
        problems.append(f"{path or '<top>'}: expected a mapping of keys, got {shown(data)}")
        return None
    fields = {k.name: k for k in keys(section)}
    for name in data:
        if name not in fields:
            import difflib  # only a misspelt key needs it

            hint = difflib.get_close_matches(str(name)[:100], fields, n=1)
            maybe = f" (did you mean '{hint[0]}'?)" if hint else ""
            valid = ", ".join(fields)
            problems.append(f"{_join(path, name)}: unknown key{maybe}; valid keys: {valid}")
    out: dict[str, Any] = {}
    for name, key in fields.items():
        sub = _join(path, name)
        if name not in data:
            if key.required:
                problems.append(f"{sub}: required key is missing ({key.info.doc})")
            elif key.section is not None and not isinstance(key.kind, tuple):
                out[name] = check_schema(key.section, {}, sub, problems)
            else:  # a fresh copy: Key defaults are shared (``fields.keys`` is cached)
                out[name] = copy.copy(key.default)
            continue
        value = data[name]
        if key.section is not None:
            if value is None and isinstance(key.kind, tuple):
                out[name] = None
            else:
                out[name] = check_schema(key.section, value, sub, problems)
        else:
            out[name] = _check_value(key, value, sub, problems)
    return out


def build(section: type, values: dict) -> Any:
    """Frozen dataclasses from checked values (nested sections built recursively)."""
    kwargs = {}
    for key in keys(section):
        value = values[key.name]
        if key.section is not None and value is not None:
            value = build(key.section, value)
        kwargs[key.name] = value
    return section(**kwargs)


def _join(path: str, name: Any) -> str:
    text = name if isinstance(name, str) and len(name) <= 80 else shown(name)
    return f"{path}.{text}" if path else text
