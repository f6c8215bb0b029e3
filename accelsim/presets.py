"""Where the shipped machines (``configs/``) and workloads (``workloads/``) are found.

They live once, at the top of the source tree. A wheel installs them inside the package
(``accelsim/configs``, ``accelsim/workloads``: ``package-dir`` in ``pyproject.toml``); a source
checkout or an editable install reads them where they are. So a preset name works from any
folder, installed or not, and there is never a second copy to keep in step.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
KINDS = ("configs", "workloads")


def shipped_dir(kind: str) -> Path:
    """The folder of shipped ``configs`` or ``workloads``."""
    if kind not in KINDS:
        raise ValueError(f"unknown preset kind {kind!r}; valid: {', '.join(KINDS)}")
    installed = PACKAGE / kind
    return installed if installed.is_dir() else PACKAGE.parent / kind


def names(kind: str) -> list[str]:
    """The preset names of one kind, sorted (empty if the folder is missing)."""
    folder = shipped_dir(kind)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
