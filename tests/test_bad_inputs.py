"""A corpus of hostile inputs: every one ends in exit 2 with one clean line, in bounded time and
memory, leaving no output behind.

The corpus covers every input path: hardware YAML, workload YAML, sweep specs, traces (vector
records included), `accelsim dram` request files,
``--set`` and the command-line flags and paths. Cases are generated from the schemas where they
can be (every numeric key gets absurd values) and written by hand where a specific failure was
once seen (alias bombs, 400-digit numbers, ``--out /proc/x``, ...). Most run in-process under an
alarm; the ones that once hung or ate memory also run as real processes under a memory limit.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from one_clean_line import assert_one_clean_line

from accelsim.hardware.model import Hardware
from accelsim.spec.fields import keys
from accelsim.train.workload import Workload

EXAMPLE_TRACE = Path(__file__).resolve().parents[1] / "examples" / "lenet5-mnist-int8.jsonl"
HEADER = {"format": "accelsim-trace", "version": 1}
GEMM = {"op": "gemm", "iter": 0, "layer": "l", "phase": "fwd", "m": 8, "n": 8, "k": 8,
        "a_bits": 8, "b_bits": 8, "acc_bits": 32}
XFER = {"op": "transfer", "iter": 0, "layer": "l", "tensor": "weights", "dir": "read",
        "elements": 64, "bits": 8}
HW = {"array": {"rows": 16, "cols": 16}}
WORKLOAD = {"name": "w", "dataset": {"name": "digits", "params": {"synthetic": True}},
            "model": {"name": "mlp", "params": {"hidden": 8}}, "epochs": 1}


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], list[str]]  # writes the files, returns argv
    expect: str = ""  # a fragment the one-line error must hold

    def __repr__(self) -> str:
        return self.name


CASES: list[Case] = []


def case(name: str, expect: str = ""):
    def add(build: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
        CASES.append(Case(name, build, expect))
        return build
    return add


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def trace_text(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


# ---- the same bad bytes through each reader ---------------------------------------------------

def _readers(path: Path) -> dict[str, list[str]]:
    out = str(path.parent / "out")
    return {"hardware": ["validate", str(path)],
            "workload": ["train", "--workload", str(path), "--method", "fp32", "--out", out],
            "sweep": ["sweep", str(path), "--out", out, "--no-plot"],
            "trace": ["simulate", "--trace", str(path), "--out", out],
            "requests": ["dram", "--requests", str(path), "--json"]}


BOMB = "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9 if p else ['lol'] * 9)}]\n"
               for p, c in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True))
SMALL_BOMB = ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
              "array: {rows: [*b, *b, *b, *b, *b, *b, *b, *b], cols: 16}\n")
RAW_FILES: dict[str, bytes | str] = {
    "latin1": "caf\xe9: 1\narray: {rows: 16, cols: 16}\n".encode("latin-1"),
    "binary": random.Random(1).randbytes(4096),
    "utf16": "array: {rows: 16}\n".encode("utf-16"),
    "empty": b"",
    "blank": "\n\n   \n",
    "nul": b"array: {rows: 16,\x00 cols: 16}\n",
    "yaml-deep": "[" * 5000 + "]" * 5000 + "\n",
    "yaml-deep-map": "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "x: 1\n",
    "json-deep": '{"a": ' * 100_000 + "1" + "}" * 100_000 + "\n",
    "alias-bomb": BOMB,
    "small-bomb": SMALL_BOMB,
    "duplicate": "array: {rows: 16, cols: 16}\narray: {rows: 8, cols: 8}\n",
    "scalar": "42\n",
    "list": "- 1\n- 2\n",
    "tabs": "array:\n\trows: 16\n",
    "python-tag": "!!python/object/apply:os.system ['true']\n",
    "huge-line": "x" * (2 << 20),
}
for reader in ("hardware", "workload", "sweep", "trace", "requests"):
    for kind, content in RAW_FILES.items():
        def build(tmp: Path, content=content, reader=reader) -> list[str]:
            return _readers(write(tmp / "input.yaml", content))[reader]
        CASES.append(Case(f"{reader}-{kind}", build))
    CASES.append(Case(f"{reader}-missing", lambda tmp, r=reader: _readers(tmp / "nope.yaml")[r]))
    CASES.append(Case(f"{reader}-directory",
                      lambda tmp, r=reader: _readers((tmp / "d").resolve())[r] if
                      (tmp / "d").mkdir() is None else []))
    CASES.append(Case(f"{reader}-dev-zero", lambda tmp, r=reader: [
        a if a != str(tmp / "z") else "/dev/zero" for a in _readers(tmp / "z")[r]]))


# ---- every numeric key of a hardware config or workload, set to absurd values -----------------

def _keys_where(section: type, keep, path: str = "") -> list[str]:
    out = []
    for key in keys(section):
        sub = f"{path}.{key.name}" if path else key.name
        if key.section is not None:
            out += _keys_where(key.section, keep, sub)
        elif keep(key):
            out.append(sub)
    return out


def _numeric_keys(section: type) -> list[str]:
    return _keys_where(section, lambda key: key.kind in (int, float) and not key.info.choices)


def _choice_keys(section: type) -> list[str]:
    return _keys_where(section, lambda key: bool(key.info.choices))


def _nest(path: str, value) -> dict:
    out: dict = {}
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = json.loads(json.dumps(base))
    for k, v in extra.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else v
    return out


ABSURD = {"400-digits": "1" + "0" * 400, "1e308": "1e308", "-1e308": "-1e308", "text": "'x'",
          "inf": ".inf"}
for key in _numeric_keys(Hardware):
    if key.startswith("dram.fixed_bandwidth"):
        continue  # their model is not selected: covered below with the model chosen
    for label, raw in ABSURD.items():
        CASES.append(Case(f"hw-{key}-{label}", lambda tmp, key=key, raw=raw: [
            "validate", "edge-16x16", "--set", f"{key}={raw}"], key))
for key in _numeric_keys(Workload):
    for label in ("400-digits", "1e308", "text"):
        CASES.append(Case(f"workload-{key}-{label}", lambda tmp, key=key, raw=ABSURD[label]: [
            "train", "--workload", str(write(tmp / "w.yaml", yaml.safe_dump(WORKLOAD))),
            "--method", "fp32", "--out", str(tmp / "out"), "--set", f"{key}={raw}"], key))
# every key with a fixed set of values (a dataflow, a method's format or rule), set to none of them
for key in _choice_keys(Hardware):
    CASES.append(Case(f"hw-{key}-not-a-choice", lambda tmp, key=key: [
        "validate", "edge-16x16", "--set", f"{key}=nonesuch"], f"{key}: "))
for key in _choice_keys(Workload):
    CASES.append(Case(f"workload-{key}-not-a-choice", lambda tmp, key=key: [
        "train", "--workload", str(write(tmp / "w.yaml", yaml.safe_dump(WORKLOAD))),
        "--method", "fp32", "--out", str(tmp / "out"), "--set", f"{key}=nonesuch"],
        f"{key}: 'nonesuch' is not one of"))


def _hw_case(name: str, data: dict, expect: str = "") -> None:
    CASES.append(Case(name, lambda tmp: ["validate", str(write(tmp / "hw.yaml",
                                                               yaml.safe_dump(data)))], expect))


_hw_case("hw-fixed-bandwidth-tiny", _merge(HW, {"dram": {"model": "fixed_bandwidth",
         "fixed_bandwidth": {"words_per_cycle": 1e-300}}}), "words_per_cycle")
_hw_case("hw-clock-nano", _merge(HW, {"clock_mhz": 1e-9}), "clock_mhz")
_hw_case("hw-timing-1e7", _merge(HW, {"dram": {"lpddr4": {"trcd_tck": 10**7}}}), "trcd_tck")
_hw_case("hw-refresh-never-ends", _merge(HW, {"dram": {"lpddr4": {"trfc_tck": 7000}}}),
         "trfc_tck")
_hw_case("hw-rows-million", _merge(HW, {"array": {"rows": 10**6}}), "array.rows")
_hw_case("hw-unknown-keys", {**HW, **{f"key{i}": i for i in range(500)}}, "and 490 more")
_hw_case("hw-wrong-section", {"array": [1, 2]}, "array")
_hw_case("hw-bit-fusion-12", _merge(HW, {"array": {"precision_scaling": "bit_fusion",
                                                   "native_bits": 12}}), "power of two")
_hw_case("hw-model-mismatch", _merge(HW, {"dram": {"model": "lpddr4", "fixed_bandwidth": {}}}),
         "dram.fixed_bandwidth")
_hw_case("hw-tiny-buffer", _merge(HW, {"buffers": {"filter": {"size_kib": 0.01}}}), "filter")
_hw_case("hw-non-string-key", {**HW, 3: 4}, "unknown key")
_hw_case("hw-long-key", {**HW, "k" * 5000: 1}, "unknown key")
_hw_case("hw-long-string", _merge(HW, {"array": {"dataflow": "w" * 100_000}}), "dataflow")
# the vector unit (its numeric keys are in the absurd-value cases above)
_hw_case("hw-vector-lanes-0", _merge(HW, {"vector": {"lanes": 0}}), "vector.lanes")
_hw_case("hw-vector-lanes-float", _merge(HW, {"vector": {"lanes": 2.5}}), "vector.lanes")
_hw_case("hw-vector-sram", _merge(HW, {"vector": {"sram": "l2"}}), "vector.sram")
_hw_case("hw-vector-unknown-key", _merge(HW, {"vector": {"width": 16}}), "vector.width")
_hw_case("hw-vector-not-mapping", {**HW, "vector": [16, 1]}, "vector")
_hw_case("hw-vector-negative-energy", _merge(HW, {"vector": {"fp32_op_pj": -1}}),
         "vector.fp32_op_pj")
_hw_case("hw-overlap-not-bool", _merge(HW, {"schedule": {"overlap_ops": "sometimes"}}),
         "schedule.overlap_ops")


# ---- workloads --------------------------------------------------------------------------------

def _workload_case(name: str, change: dict, expect: str = "", method: str = "fp32") -> None:
    data = {**_merge(WORKLOAD, change), **{k: v for k, v in change.items() if k == "dataset"
                                           and "params" in v}}
    CASES.append(Case(name, lambda tmp: [
        "train", "--workload", str(write(tmp / "w.yaml", yaml.safe_dump(data))),
        "--method", method, "--out", str(tmp / "out")], expect))


_workload_case("wl-batch-larger-than-data", {"batch_size": 5000}, "larger than the training set")
_workload_case("wl-unknown-dataset", {"dataset": {"name": "places365"}}, "unknown dataset")
_workload_case("wl-unknown-model", {"model": {"name": "gpt"}}, "unknown model")
_workload_case("wl-huge-layer", {"model": {"params": {"hidden": 10**9}}}, "parameters")
_workload_case("wl-model-param-type", {"model": {"params": {"hidden": "wide"}}}, "wide")
_workload_case("wl-unknown-model-param", {"model": {"params": {"depth": 3}}}, "depth")
_workload_case("wl-upsample", {"dataset": {"name": "digits", "params": {"upsample": 10**9}}},
               "upsample")
_workload_case("wl-test-fraction", {"dataset": {"name": "digits",
                                                "params": {"test_fraction": 2}}},
               "test_fraction")
_workload_case("wl-dataset-param", {"dataset": {"name": "digits", "params": {"colour": 1}}},
               "colour")
_workload_case("wl-mnist-no-path", {"dataset": {"name": "mnist", "params": {}}}, "path")
_workload_case("wl-cifar-bad-path", {"dataset": {"name": "cifar10", "params": {"path": "/nope"}}},
               "not a directory")
_workload_case("wl-method-twice", {"methods": {"bnn-lowmem": {}, "bnn_lowmem": {}}}, "twice")
_workload_case("wl-rct-thresholds", {"methods": {"rct": {"t_min": 1, "t_max": 0.5}}}, "t_min")
_workload_case("wl-binary-lenet", {"model": {"name": "lenet5", "params": {}},
                                   "dataset": {"name": "digits",
                                               "params": {"upsample": 4, "synthetic": True}}},
               "binary form", method="bnn")
_workload_case("wl-no-name", {"name": None}, "name")
_workload_case("wl-lr-huge", {"optimizer": {"lr": 1e6}}, "optimizer.lr")
_workload_case("wl-optimizer-unknown", {"optimizer": {"name": "adamw"}}, "optimizer.name")
_workload_case("wl-adam-beta-one", {"optimizer": {"name": "adam", "beta2": 1.0}},
               "optimizer.beta2")
_workload_case("wl-adam-eps-zero", {"optimizer": {"name": "adam", "eps": 0}}, "optimizer.eps")
_workload_case("wl-synthetic-terabytes",
               {"dataset": {"name": "synthetic", "params": {"shape": [3, 224, 224],
                                                            "train_samples": 10**7}}},
               "above the limit")
_workload_case("wl-synthetic-huge-sample",
               {"dataset": {"name": "synthetic", "params": {"shape": [65536, 65536]}}},
               "values a sample")
_workload_case("wl-synthetic-shape-scalar",
               {"dataset": {"name": "synthetic", "params": {"shape": 32}}}, "shape")
_workload_case("wl-synthetic-tokens-in-images",
               {"dataset": {"name": "synthetic", "params": {"shape": [3, 8, 8], "vocab": 5}}},
               "[context]")
_workload_case("wl-npz-no-path", {"dataset": {"name": "npz", "params": {}}}, "path")
_workload_case("wl-npz-missing", {"dataset": {"name": "npz", "params": {"path": "/nope.npz"}}},
               "not a file")


def _npz_case(name: str, arrays: Callable[[], dict] | bytes, expect: str) -> None:
    """A workload on an ``.npz`` archive written beside it: the arrays, or raw bytes."""
    def build(tmp: Path) -> list[str]:
        import numpy as np

        file = tmp / "data.npz"
        if isinstance(arrays, bytes):
            file.write_bytes(arrays)
        else:
            np.savez(file, **arrays())
        data = {**WORKLOAD, "dataset": {"name": "npz", "params": {"path": str(file)}}}
        return ["train", "--workload", str(write(tmp / "w.yaml", yaml.safe_dump(data))),
                "--method", "fp32", "--out", str(tmp / "out")]
    CASES.append(Case(name, build, expect))


def _npz_arrays(**change) -> Callable[[], dict]:
    def make() -> dict:
        import numpy as np

        values = {"x_train": np.zeros((8, 1, 2, 2)), "y_train": np.arange(8) % 2,
                  "x_test": np.zeros((4, 1, 2, 2)), "y_test": np.arange(4) % 2}
        return {**values, **{key: value(np) for key, value in change.items()}}
    return make


_npz_case("wl-npz-not-zip", b"x_train,y_train\n1,0\n", "not an .npz archive")
_npz_case("wl-npz-truncated", b"PK\x03\x04" + b"\0" * 40, "data.npz")
_npz_case("wl-npz-no-test-labels",
          lambda: {k: v for k, v in _npz_arrays()().items() if k != "y_test"},
          "no y_test array")
_npz_case("wl-npz-pickled-objects",
          _npz_arrays(x_train=lambda np: np.array([{"x": 1}] * 8, dtype=object)),
          "Python objects")
_npz_case("wl-npz-labels-float", _npz_arrays(y_train=lambda np: np.zeros(8)),
          "y_train has dtype float64")
_npz_case("wl-npz-count-mismatch", _npz_arrays(y_test=lambda np: np.zeros(3, dtype=int)),
          "x_test holds 4 samples but y_test 3 labels")
_npz_case("wl-npz-nan", _npz_arrays(x_train=lambda np: np.full((8, 1, 2, 2), np.nan)),
          "not finite")
_npz_case("wl-npz-negative-label", _npz_arrays(y_test=lambda np: np.array([0, 1, -1, 0])),
          "y_test has label -1")


# ---- sweep specs ------------------------------------------------------------------------------

def _spec_case(name: str, change: dict, expect: str = "") -> None:
    def build(tmp: Path) -> list[str]:
        data = {"name": "s", "base": "edge-16x16", "traces": [str(EXAMPLE_TRACE)],
                "points": [{}], **change}
        return ["sweep", str(write(tmp / "s.yaml", yaml.safe_dump(data))), "--out",
                str(tmp / "out"), "--no-plot"]
    CASES.append(Case(name, build, expect))


_spec_case("spec-absurd-grid", {"grid": {"energy.mac.fp16_add_pj": list(range(1000)),
                                         "clock_mhz": list(range(1, 1001)),
                                         "array.rows": list(range(1, 1001))}}, "1,000,000,001 points")
_spec_case("spec-traces-not-list", {"traces": "x.jsonl"}, "traces")
_spec_case("spec-traces-missing", {"traces": ["nope.jsonl"]}, "no such trace")
_spec_case("spec-grid-not-mapping", {"grid": [1, 2]}, "grid")
_spec_case("spec-grid-scalar", {"grid": {"array.rows": 8}}, "grid.array.rows")
_spec_case("spec-grid-bad-value", {"grid": {"array.rows": [0]}}, "array.rows: 0")
_spec_case("spec-grid-unknown-key", {"grid": {"array.rowz": [8]}}, "array.rowz")
_spec_case("spec-points-scalars", {"points": [1, 2]}, "points")
_spec_case("spec-base-number", {"base": 3}, "base")
_spec_case("spec-base-missing", {"base": "no-such-machine"}, "no such config")
_spec_case("spec-unknown-key", {"colour": "red"}, "colour")
_spec_case("spec-nothing", {"points": []}, "give a grid")
_spec_case("spec-grid-key-not-str", {"grid": {3: [1]}}, "")


def _bad_trace_spec(tmp: Path) -> list[str]:
    bad = write(tmp / "bad.jsonl", trace_text(HEADER, {**GEMM, "m": -1}))
    spec = write(tmp / "s.yaml", yaml.safe_dump({"traces": [str(bad)], "points": [{}]}))
    return ["sweep", str(spec), "--out", str(tmp / "out"), "--no-plot"]


CASES.append(Case("spec-malformed-trace", _bad_trace_spec, "bad.jsonl:2"))


# ---- traces -----------------------------------------------------------------------------------

def _trace_case(name: str, content: str | bytes, expect: str = "") -> None:
    CASES.append(Case(name, lambda tmp: ["simulate", "--trace",
                                         str(write(tmp / "t.jsonl", content)),
                                         "--out", str(tmp / "out")], expect))


_trace_case("trace-version-string", trace_text({**HEADER, "version": "1"}), "without quotes")
_trace_case("trace-version-2", trace_text({**HEADER, "version": 99}), "version 99")
_trace_case("trace-version-bool", trace_text({**HEADER, "version": True}), "version")
_trace_case("trace-no-format", trace_text({"version": 1}), "not an accelsim trace")
_trace_case("trace-header-list", trace_text([1, 2]), "not an accelsim trace")
_trace_case("trace-header-not-json", "{format\n", "header is not valid JSON")
_trace_case("trace-meta-list", trace_text({**HEADER, "meta": [1]}), "meta")
for field, value in [("m", 0), ("m", 2**31 + 1), ("m", 1e308), ("m", 10**400), ("m", -5),
                     ("m", "8"), ("m", None), ("n", [8]), ("k", {"v": 8}), ("k", True),
                     ("a_bits", 33), ("b_bits", 0), ("acc_bits", 65), ("c_bits", 99),
                     ("phase", "sideways"), ("dtype", "bf16"), ("a_tensor", "gradients"),
                     ("a_elements", 65), ("count", 0), ("count", 2**41), ("iter", -1),
                     ("layer", ""), ("layer", "x" * 1000), ("layer", 7), ("op", "conv"),
                     ("op", None), ("flops", 1)]:
    _trace_case(f"trace-gemm-{field}-{str(value)[:12]}", trace_text(HEADER, {**GEMM, field: value}),
                "t.jsonl:2")
for field, value in [("elements", 0), ("elements", 10**15), ("bits", 64), ("dir", "up"),
                     ("tensor", "secrets"), ("phase", "never")]:
    _trace_case(f"trace-transfer-{field}-{value}", trace_text(HEADER, {**XFER, field: value}),
                "t.jsonl:2")
VECTOR = {"op": "vector", "iter": 0, "layer": "l", "phase": "fwd", "kind": "relu",
          "elements": 64, "in_bits": 8, "out_bits": 8, "ops": 1}
V2 = {**HEADER, "version": 2}
for field, value in [("elements", 0), ("elements", 2**41), ("in_bits", 0), ("in_bits", 65),
                     ("out_bits", -8), ("ops", 0), ("ops", 10**9), ("inputs", 0),
                     ("inputs", 17), ("phase", "sideways"), ("kind", ""), ("kind", "k" * 1000),
                     ("kind", 3), ("dtype", "bf16"), ("tensor", "secrets"), ("count", 0),
                     ("layer", None), ("elements", "64"), ("ops", 1.5), ("extra", 1)]:
    _trace_case(f"trace-vector-{field}-{str(value)[:12]}",
                trace_text(V2, {**VECTOR, field: value}), "t.jsonl:2")
_trace_case("trace-vector-missing-kind",
            trace_text(V2, {k: v for k, v in VECTOR.items() if k != "kind"}), "kind")
_trace_case("trace-vector-in-version-1", trace_text(HEADER, VECTOR), "t.jsonl:2")
_trace_case("trace-missing-field", trace_text(HEADER, {k: v for k, v in GEMM.items() if k != "k"}),
            "missing field(s) k")
_trace_case("trace-record-list", trace_text(HEADER, [1, 2, 3]), "expected a JSON object")
_trace_case("trace-duplicate-field", trace_text(HEADER, '{"op": "gemm", "op": "transfer"}'),
            "appears twice")
_trace_case("trace-nan", trace_text(HEADER, json.dumps(GEMM).replace('"m": 8', '"m": NaN')), "'m'")
_trace_case("trace-5000-digits", trace_text(HEADER, json.dumps(GEMM).replace('"m": 8',
                                                                           '"m": ' + "9" * 5000)),
            "t.jsonl:2")
_trace_case("trace-junk-line", trace_text(HEADER, "garbage"), "t.jsonl:2: not valid JSON")
_trace_case("trace-gz-junk", gzip.compress(random.Random(2).randbytes(2000)), "trace")
_trace_case("trace-gz-truncated", gzip.compress(trace_text(HEADER, GEMM).encode() * 50)[:60],
            "trace")
_trace_case("trace-gz-corrupt", b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"\xff" * 100, "trace")
_trace_case("trace-gemm-2^31-elements", trace_text(HEADER, {**GEMM, "m": 2**31, "k": 4096,
                                                            "n": 4096}), "")


# ---- command-line flags and output paths -----------------------------------------------------

EX = str(EXAMPLE_TRACE)
FLAG_CASES = {
    "set-no-equals": ["validate", "edge-16x16", "--set", "array.rows"],
    "set-empty-value": ["validate", "edge-16x16", "--set", "array.rows="],
    "set-bad-yaml": ["validate", "edge-16x16", "--set", "array.rows=[1"],
    "set-alias": ["validate", "edge-16x16", "--set", "array.rows=*x"],
    "set-deep": ["validate", "edge-16x16", "--set", "array.rows=" + "[" * 3000 + "]" * 3000],
    "set-null": ["validate", "edge-16x16", "--set", "array.rows=null"],
    "set-through-scalar": ["validate", "edge-16x16", "--set", "array.rows.x=1"],
    "set-empty-key": ["validate", "edge-16x16", "--set", "array..rows=1"],
    "set-1e30": ["validate", "edge-16x16", "--set", "array.rows=1e30"],
    "out-proc": ["simulate", "--trace", EX, "--out", "/proc/accelsim-test"],
    "timeline-proc": ["simulate", "--trace", EX, "--out", "{tmp}/out",
                      "--timeline", "/proc/accelsim-test.json"],
    "timeline-dir": ["simulate", "--trace", EX, "--out", "{tmp}/out", "--timeline", "{tmp}"],
    "timeline-ops-0": ["simulate", "--trace", EX, "--out", "{tmp}/out", "--timeline-ops", "0"],
    "only-unknown": ["simulate", "--trace", EX, "--out", "{tmp}/out", "--only", "gemm,conv"],
    "only-empty": ["simulate", "--trace", EX, "--out", "{tmp}/out", "--only", ","],
    "epochs-0": ["train", "--workload", "mlp-digits", "--method", "fp32", "--out", "{tmp}/out",
                 "--epochs", "0"],
    "epochs-huge": ["train", "--workload", "mlp-digits", "--method", "fp32", "--out",
                    "{tmp}/out", "--epochs", "1000000000"],
    "seed-negative": ["train", "--workload", "mlp-digits", "--method", "fp32", "--out",
                      "{tmp}/out", "--seed", "-1"],
    "seed-huge": ["train", "--workload", "mlp-digits", "--method", "fp32", "--out",
                  "{tmp}/out", "--seed", str(2**70)],
    "method-unknown": ["train", "--workload", "mlp-digits", "--method", "sgd", "--out",
                       "{tmp}/out"],
    "methods-unknown": ["run", "--methods", "fp32,sgd", "--out", "{tmp}/out"],
    "methods-twice": ["run", "--methods", "qat,qat", "--out", "{tmp}/out"],
    "methods-empty": ["run", "--methods", ",", "--out", "{tmp}/out"],
    "workers-0": ["sweep", "spec.yaml", "--out", "{tmp}/out", "--workers", "0"],
    "hw-empty-name": ["simulate", "--hw", "", "--trace", EX, "--out", "{tmp}/out"],
    "hw-long-name": ["simulate", "--hw", "x" * 5000, "--trace", EX, "--out", "{tmp}/out"],
    "workload-dir": ["train", "--workload", "{tmp}", "--method", "fp32", "--out", "{tmp}/out"],
    "run-hw-set": ["run", "--hw-set", "array.rows=0", "--out", "{tmp}/out"],
    "compare-nothing": ["compare", "{tmp}/nope"],
    "compare-empty-dir": ["compare", "{tmp}"],
    "unknown-command": ["frobnicate"],
    "no-command": [],
}
for name, argv in FLAG_CASES.items():
    CASES.append(Case(f"cli-{name}", lambda tmp, argv=argv: [a.replace("{tmp}", str(tmp))
                                                              for a in argv]))


# ---- running the corpus -----------------------------------------------------------------------

def test_the_corpus_is_large():
    assert len(CASES) >= 150
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_clean_line(bad, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = bad.build(tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    assert_one_clean_line(bad.name, argv, bad.expect, capsys)
    created = {p for p in tmp_path.rglob("*")} - before
    assert not created, f"left behind: {sorted(map(str, created))[:5]}"


# The inputs that once hung or exhausted memory, as real processes with a memory ceiling.
BOMBS = ["hardware-alias-bomb", "trace-json-deep", "hardware-yaml-deep", "trace-dev-zero",
         "hardware-dev-zero", "trace-huge-line", "trace-gemm-2^31-elements", "wl-huge-layer",
         "hw-timing-1e7", "trace-transfer-elements-1000000000000000", "spec-absurd-grid",
         "wl-synthetic-terabytes"]


def _limit_memory() -> None:
    ceiling = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))


@pytest.mark.parametrize("name", BOMBS)
def test_bombs_stay_bounded_as_processes(name, tmp_path):
    bad = next(c for c in CASES if c.name == name)
    argv = bad.build(tmp_path)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "accelsim", *argv], capture_output=True,
                          text=True, timeout=60, preexec_fn=_limit_memory, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
