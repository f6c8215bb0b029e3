"""Publishing the config format: a JSON Schema for editors and the Markdown key reference.

Both are generated from the section dataclasses in ``model.py``; ``docs/hardware-config.md`` is
regenerated with ``python -m accelsim.hardware.schema --markdown`` and a test keeps it in sync.
"""

from __future__ import annotations

import json
import sys
from dataclasses import MISSING
from typing import Any

from accelsim.hardware.model import Hardware
from accelsim.spec.fields import Key, keys, number, type_name

_JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def json_schema(section: type = Hardware) -> dict[str, Any]:
    """Draft 2020-12 JSON Schema of a section (the whole config by default)."""
    schema = _section_schema(section)
    if section is Hardware:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$id": "https://accelsim.dev/schema/hardware.json",
                  "title": "accelsim hardware configuration", **schema}
    return schema


def _section_schema(section: type) -> dict[str, Any]:
    props = {k.name: _key_schema(k) for k in keys(section)}
    required = [k.name for k in keys(section) if k.required]
    out: dict[str, Any] = {"type": "object", "description": (section.__doc__ or "").strip(),
                           "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _key_schema(key: Key) -> dict[str, Any]:
    info = key.info
    if key.section is not None:
        sub = _section_schema(key.section)
        sub["description"] = info.doc
        if isinstance(key.kind, tuple):
            return {"anyOf": [sub, {"type": "null"}], "description": info.doc}
        return sub
    out: dict[str, Any] = {"type": _JSON_TYPES[key.kind], "description": info.doc}
    if info.unit:
        out["description"] += f" Unit: {info.unit}."
    if info.choices:
        out["enum"] = list(info.choices)
    if info.minimum is not None:
        out["minimum"] = info.minimum
    if info.exclusive_minimum is not None:
        out["exclusiveMinimum"] = info.exclusive_minimum
    if info.maximum is not None:
        out["maximum"] = info.maximum
    if key.default is not MISSING and key.default is not None:
        out["default"] = key.default
    return out


def markdown_reference() -> str:
    """The table of every key: path, type, unit, default, allowed values, meaning."""
    lines = ["| key | type | unit | default | allowed | meaning |",
             "|---|---|---|---|---|---|"]
    _rows(Hardware, "", lines)
    return "\n".join(lines) + "\n"


def _rows(section: type, path: str, lines: list[str]) -> None:
    for key in keys(section):
        sub = f"{path}.{key.name}" if path else key.name
        if key.section is not None:
            lines.append(f"| `{sub}` | {type_name(key.kind)} | | | | {key.info.doc} |")
            _rows(key.section, sub, lines)
            continue
        info = key.info
        default = "required" if key.required else f"`{_fmt(key.default)}`"
        allowed = []
        if info.choices:
            allowed.append(", ".join(f"`{c}`" for c in info.choices))
        if info.minimum is not None:
            allowed.append(f">= {number(info.minimum)}")
        if info.exclusive_minimum is not None:
            allowed.append(f"> {number(info.exclusive_minimum)}")
        if info.maximum is not None:
            allowed.append(f"<= {number(info.maximum)}")
        if info.power_of_two:
            allowed.append("power of two")
        lines.append(f"| `{sub}` | {type_name(key.kind)} | {info.unit} | {default} | "
                     f"{'; '.join(allowed)} | {info.doc} |")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    if "--markdown" in sys.argv:
        sys.stdout.write(markdown_reference())
    else:
        json.dump(json_schema(), sys.stdout, indent=2)
        sys.stdout.write("\n")
