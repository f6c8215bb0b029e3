"""Methods own policy, never mechanics: read from the source, the modules every front-end shares
(the methods, the memory model, the optimizer, the shadow weights, the interfaces, the loop
body) import no numpy layer, never rebind a parameter's value or gradient, never reach into the
optimizer's private state, and never ask what class a layer is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from accelsim.train import layers

TRAIN = Path(__file__).resolve().parents[2] / "accelsim" / "train"
SHARED = sorted((TRAIN / "methods").glob("*.py")) + [
    TRAIN / name for name in ("memory.py", "optim.py", "shadow.py", "interfaces.py",
                              "iteration.py")]
NUMPY_SIDE = ("accelsim.train.layers", "accelsim.train.models", "accelsim.train.numpy_frontend")
ALLOWED = {"accelsim.train.layers.loss"}  # softmax cross-entropy on numpy logits, any front-end
LAYER_CLASSES = set(layers.__all__)


def names(node: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def problems(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(NUMPY_SIDE) and node.module not in ALLOWED:
                found.append(f"imports {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if a.name.startswith(NUMPY_SIDE)]
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"assigns .{t.attr} (line {node.lineno})" for t in targets
                      if isinstance(t, ast.Attribute) and t.attr in ("value", "grad")]
        elif isinstance(node, ast.Attribute) and node.attr in ("velocity", "_velocity") \
                and path.name != "optim.py":
            found.append(f"reads the optimizer's .{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "isinstance" and names(node.args[1]) & LAYER_CLASSES:
            found.append(f"checks a layer class (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and node.attr == "__name__" \
                and "self" not in names(node.value):
            found.append(f"matches a class name (line {node.lineno})")
    return found


@pytest.mark.parametrize("path", SHARED, ids=[str(p.relative_to(TRAIN)) for p in SHARED])
def test_shared_training_code_uses_only_the_interfaces(path):
    assert problems(path) == []


def test_the_check_sees_each_kind_of_problem(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from accelsim.train.layers import Linear\n"
                   "p.value = q\n"
                   "v = opt.velocity\n"
                   "isinstance(layer, Linear)\n"
                   "type(layer).__name__\n")
    assert problems(bad) == ["imports accelsim.train.layers", "assigns .value (line 2)",
                             "reads the optimizer's .velocity (line 3)",
                             "checks a layer class (line 4)",
                             "matches a class name (line 5)"]
