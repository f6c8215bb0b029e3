"""Property-based fuzzing of every reader: hardware configs, workloads, sweep specs, traces.

Inputs are raw bytes, random structures with extreme values, and valid documents with one
value replaced. Whatever comes in, a reader returns or raises accelsim's own error with a
one-line message; nothing else may escape. The default run tries a few hundred examples per
reader; ``pytest -m slow`` tries 10,000 each.
"""

from __future__ import annotations

import itertools
import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.errors import AccelsimError
from accelsim.hardware import load_hardware
from accelsim.sweep.spec import iter_points, load_spec
from accelsim.trace import read_trace
from accelsim.train.workload import load_workload

QUICK, THOROUGH = 300, 10_000

EXTREME_INTS = st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63), 10**400, 2**31 - 1, 7, 16])
EXTREME_FLOATS = st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, math.inf, -math.inf,
                                  math.nan, 1e-9, 0.5])
SCALARS = (st.none() | st.booleans() | EXTREME_INTS | EXTREME_FLOATS
           | st.integers() | st.floats() | st.text(max_size=30))
KEYS = ["array", "rows", "cols", "dataflow", "buffers", "ifmap", "size_kib", "dram", "model",
        "lpddr4", "trefi_tck", "trfc_tck", "clock_mhz", "energy", "name", "dataset", "params",
        "methods", "rct", "optimizer", "lr", "batch_size", "epochs", "traces", "grid", "points",
        "base", "op", "m", "n", "k", "version", "format", "phase", "layer", "iter"]
NAMES = st.sampled_from(KEYS) | st.text(max_size=12)
STRUCTURES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                          | st.dictionaries(NAMES, inner, max_size=6), max_leaves=30)


def _valid_hardware() -> dict:
    return yaml.safe_load(open("configs/edge-16x16.yaml"))


def _valid_workload() -> dict:
    return yaml.safe_load(open("workloads/lenet5-digits.yaml"))


def _paths(doc, prefix=()):
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


def _mutated(doc: dict):
    """A valid document with the value at one key path replaced."""
    paths = list(_paths(doc))

    @st.composite
    def build(draw):
        path = draw(st.sampled_from(paths))
        value = draw(STRUCTURES)
        out = json.loads(json.dumps(doc))
        node = out
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        return out
    return build()


def _dump(doc) -> bytes:
    try:
        return yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass")
    except (yaml.YAMLError, ValueError, UnicodeEncodeError, RecursionError):
        return b"x: 1\n"


def _yaml_inputs(valid: dict):
    return (st.binary(max_size=400)
            | STRUCTURES.map(_dump)
            | _mutated(valid).map(_dump)
            | st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")))


def _check(read, data: bytes, path) -> None:
    path.write_bytes(data)
    try:
        read(path)
    except AccelsimError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 2000, message[:500]


def _read_sweep(path):
    spec = load_spec(path)
    list(itertools.islice(iter_points(spec), 4))


HEADER = {"format": "accelsim-trace", "version": 1}
GEMM = {"op": "gemm", "iter": 0, "layer": "l", "phase": "fwd", "m": 8, "n": 8, "k": 8,
        "a_bits": 8, "b_bits": 8, "acc_bits": 32}


@st.composite
def _trace_inputs(draw) -> bytes:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=400))
    records = [HEADER]
    for _ in range(draw(st.integers(0, 3))):
        rec = dict(GEMM)
        for _ in range(draw(st.integers(0, 3))):
            rec[draw(NAMES)] = draw(STRUCTURES)
        records.append(rec if kind == 1 else draw(STRUCTURES))
    lines = []
    for rec in records:
        try:
            lines.append(json.dumps(rec))
        except (ValueError, TypeError, RecursionError):
            lines.append("{}")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


TARGETS = {
    "hardware": (load_hardware, _yaml_inputs(_valid_hardware())),
    "workload": (load_workload, _yaml_inputs(_valid_workload())),
    "sweep": (_read_sweep, None),  # built per run: the spec needs a real trace's path
    "trace": (read_trace, _trace_inputs()),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "t.jsonl").write_text(json.dumps(HEADER) + "\n" + json.dumps(GEMM) + "\n")
    return folder


def _sweep_inputs(folder):
    valid = {"name": "s", "base": "edge-16x16", "traces": [str(folder / "t.jsonl")],
             "grid": {"array.rows": [8, 16]}, "points": [{"array.cols": 8}]}
    return _yaml_inputs(valid)


def _run(target: str, folder, examples: int) -> None:
    read, inputs = TARGETS[target]
    if inputs is None:
        inputs = _sweep_inputs(folder)
    path = folder / f"input-{target}.yaml"

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def fuzz(data):
        _check(read, data, path)

    fuzz()


@pytest.mark.parametrize("target", TARGETS)
def test_readers_raise_only_their_own_errors(target, workdir):
    _run(target, workdir, QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_readers_raise_only_their_own_errors_thoroughly(target, workdir):
    _run(target, workdir, THOROUGH)
