"""Reading hardware configs: YAML files, ``--set KEY.PATH=VALUE`` overrides, presets.

A config path may also be a preset name (``edge-16x16``) resolved among the shipped ``configs/``
(``accelsim.presets``), installed or in a source checkout.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from accelsim.hardware.model import Hardware
from accelsim.hardware.validate import hardware_from_dict
from accelsim.presets import shipped_dir
from accelsim.spec.yamlio import apply_overrides, override_label, read_yaml, resolve_preset

CONFIG_DIR = shipped_dir("configs")
DEFAULT_CONFIG = "edge-16x16"


def resolve_config_path(name: str | Path) -> Path:
    """A file path as given, or a preset name looked up in ``configs/``."""
    return resolve_preset(name, CONFIG_DIR, "config")


def load_hardware(name: str | Path, overrides: list[str] | None = None) -> Hardware:
    """Load, override and validate a config; raises ``ConfigError`` naming every problem.

    The machine's name says what was overridden (``edge-16x16 [array.rows=32]``), so every
    report and figure names the machine that was really simulated."""
    path = resolve_config_path(name)
    overrides = overrides or []
    hw = hardware_from_dict(apply_overrides(read_yaml(path, what="hardware config"), overrides),
                            str(path))
    changed = [o for o in overrides if o.partition("=")[0].strip() != "name"]
    return replace(hw, name=f"{hw.name} {override_label(changed)}") if changed else hw
