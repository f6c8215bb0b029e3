"""The import graph keeps the architecture's one direction (ARCHITECTURE.md): the simulator
knows nothing of energy, reports or studies; the front-ends nothing of hardware; the contract
(trace) and the machine description (hardware) stand on their own. Read from the source, every
import counted, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "accelsim"

# package -> packages of accelsim it must never import
FORBIDDEN = {
    "sim": {"energy", "report", "study", "sweep", "replay", "train"},
    "train": {"sim", "hardware", "energy", "report", "replay", "sweep", "study"},
    "hardware": {"sim", "train", "energy", "report", "replay", "sweep", "study", "trace"},
    "trace": {"sim", "train", "energy", "report", "replay", "sweep", "study", "hardware"},
    "energy": {"report", "replay", "study", "sweep", "train"},
    "report": {"replay", "study", "sweep", "train"},
    "replay": {"study", "sweep", "train"},
    "spec": {"sim", "train", "energy", "report", "replay", "sweep", "study", "hardware",
             "trace"},
    # PyTorch networks only: a workload names them, a front-end builds them, they know nothing
    "zoo": {"sim", "train", "energy", "report", "replay", "sweep", "study", "hardware",
            "trace", "spec"},
}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every ``import``/``from ... import`` in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def package_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_imports_run_one_way(path):
    own = package_of(path)
    for module, _ in imports(path):
        parts = module.split(".")
        if parts[0] != "accelsim" or len(parts) < 2:
            continue
        assert parts[1] not in FORBIDDEN.get(own, set()), \
            f"{path.relative_to(PACKAGE)} ({own}) imports {module}"


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_no_private_name_crosses_packages(path):
    own = package_of(path)
    for module, names in imports(path):
        parts = module.split(".")
        if parts[0] != "accelsim" or len(parts) < 2 or parts[1] == own:
            continue
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{path.relative_to(PACKAGE)} imports private {private} from {module}"


def test_the_rules_see_every_package():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert set(FORBIDDEN) <= packages
