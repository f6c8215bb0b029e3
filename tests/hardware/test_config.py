"""Hardware configs: presets load, every error path names its key, the docs stay in sync."""

from pathlib import Path

import pytest
from machines import machine

from accelsim.errors import ConfigError, UsageError
from accelsim.hardware import load_hardware
from accelsim.hardware.load import CONFIG_DIR
from accelsim.hardware.schema import json_schema, markdown_reference
from accelsim.spec.yamlio import apply_overrides, parse_override

PRESETS = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def test_required_presets_exist():
    for name in ("edge-16x16", "scalesim-like", "precision-fixed", "precision-bit-fusion",
                 "precision-bit-serial"):
        assert name in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_presets_validate(name):
    hw = load_hardware(name)
    assert hw.name == name


def test_fixed_key_paths_are_honoured():
    hw = load_hardware("edge-16x16", ["array.rows=32", "array.cols=8", "array.dataflow=os",
                                      "array.precision_scaling=bit_serial", "clock_mhz=250"])
    a = hw.array
    assert (a.rows, a.cols, a.dataflow, a.precision_scaling, hw.clock_mhz) == (
        32, 8, "os", "bit_serial", 250.0)


def test_scalesim_like_mirrors_scalesim():
    hw = load_hardware("scalesim-like")
    assert (hw.array.rows, hw.array.cols, hw.array.timing) == (32, 32, "scalesim")
    assert all(hw.buffer(n).size_kib == 64 for n in ("ifmap", "filter", "ofmap"))
    assert hw.dram.model == "fixed_bandwidth"


BAD = [
    ({"array": {"rows": 16, "cols": 16, "colour": 1}}, r"array\.colour: unknown key"),
    ({"array": {"rows": 16, "cols": 16}, "clock": 1}, r"clock: unknown key \(did you mean 'clock_mhz'"),
    ({"array": {"rows": "16", "cols": 16}}, r"array\.rows: expected an integer, got '16'"),
    ({"array": {"rows": True, "cols": 16}}, r"array\.rows: expected an integer, got true"),
    ({"array": {"rows": 0, "cols": 16}}, r"array\.rows: 0 is below the minimum 1"),
    ({"array": {"rows": -4, "cols": 16}}, r"array\.rows: -4 is below the minimum 1"),
    ({"array": {"rows": 16}}, r"array\.cols: required key is missing"),
    ({}, r"array: required key is missing"),
    ({"array": {"rows": 16, "cols": 16, "dataflow": "rs"}}, r"array\.dataflow: 'rs' is not one of"),
    ({"array": {"rows": 16, "cols": 16, "timing": "fast"}}, r"array\.timing: 'fast' is not one of"),
    ({"array": {"rows": 16, "cols": 16}, "clock_mhz": 0}, r"clock_mhz: 0 is below the minimum 1"),
    ({"array": {"rows": 16, "cols": 16}, "clock_mhz": float("nan")}, r"clock_mhz: expected a finite"),
    ({"array": {"rows": 16, "cols": 16}, "buffers": {"ifmap": {"size_kib": -1}}},
     r"buffers\.ifmap\.size_kib: -1 must be greater than 0"),
    ({"array": {"rows": 16, "cols": 16}, "buffers": {"ofmap": {"ports": 3}}},
     r"buffers\.ofmap\.ports: 3 is not one of 1, 2"),
    ({"array": {"rows": 16, "cols": 16}, "buffers": {"filter": {"double_buffered": "yes"}}},
     r"buffers\.filter\.double_buffered: expected true or false"),
    ({"array": {"rows": 16, "cols": 16}, "buffers": "big"}, r"buffers: expected a mapping"),
    ({"array": {"rows": 16, "cols": 16, "fusion_min_bits": 3}}, r"fusion_min_bits: 3 must be a power of two"),
    ({"array": {"rows": 16, "cols": 16}, "dram": {"lpddr4": {"banks": 6}}},
     r"dram\.lpddr4\.banks: 6 must be a power of two"),
    ({"array": {"rows": 16, "cols": 16}, "energy": {"dram": {"idd4r_ma": -2}}},
     r"energy\.dram\.idd4r_ma: -2 is below the minimum 0"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_schema_errors_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        machine_from(data)


def machine_from(data):
    from accelsim.hardware import hardware_from_dict

    return hardware_from_dict(data)


IMPOSSIBLE = [
    ({"array": {"precision_scaling": "bit_fusion", "native_bits": 4, "fusion_min_bits": 8}},
     r"array\.fusion_min_bits: 8 exceeds array\.native_bits 4"),
    ({"array": {"precision_scaling": "bit_fusion", "native_bits": 12}},
     r"array\.native_bits: 12 must be a power of two"),
    ({"dram": {"model": "fixed_bandwidth", "lpddr4": {"banks": 8}}},
     r"dram\.lpddr4: given, but dram\.model is 'fixed_bandwidth'"),
    ({"dram": {"lpddr4": {"tras_tck": 10}}}, r"tras_tck: 10 is shorter than dram\.lpddr4\.trcd_tck"),
    ({"dram": {"lpddr4": {"trfc_tck": 7000}}}, r"trfc_tck: 7000 leaves no time between refreshes"),
    ({"dram": {"lpddr4": {"row_bytes": 64}}}, r"row_bytes: 64 is smaller than one burst"),
    ({"buffers": {"filter": {"size_kib": 0.25}}},
     r"buffers\.filter\.size_kib: 0\.25 KiB cannot hold one 16x16 block of 8-bit values"),
    ({"array": {"dataflow": "os"}, "buffers": {"ofmap": {"size_kib": 0.25}}},
     r"buffers\.ofmap\.size_kib: 0\.25 KiB cannot hold one 16x16 block of 8-bit values"),
]


def test_validation_follows_the_machine():
    """SCALE-Sim's stock 128x128 array with 64 KiB SRAMs holds its 8-bit operands in every
    dataflow."""
    from accelsim.hardware import load_hardware

    for dataflow in ("os", "ws", "is"):
        hw = load_hardware("scalesim-like", ["array.rows=128", "array.cols=128",
                                             f"array.dataflow={dataflow}"])
        assert hw.array.rows == 128
    with pytest.raises(ConfigError, match=r"buffers\.filter\.size_kib: 16 KiB cannot hold one "
                                          r"128x128 block of 8-bit values .* per half"):
        load_hardware("scalesim-like", ["array.rows=128", "array.cols=128",
                                        "buffers.filter.size_kib=16"])


@pytest.mark.parametrize(("sections", "message"), IMPOSSIBLE)
def test_impossible_combinations(sections, message):
    with pytest.raises(ConfigError, match=message):
        machine(**sections)


def test_all_problems_reported_together():
    with pytest.raises(ConfigError) as info:
        machine_from({"array": {"rows": 0, "cols": "x", "dataflow": "q"}})
    assert len(info.value.problems) == 3


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("array:\n  rows: 16\n  cols: [16\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: YAML syntax error at line \d+"):
        load_hardware(bad)


def test_missing_file_lists_presets():
    with pytest.raises(ConfigError, match=r"no such config file or preset 'nope'.*edge-16x16"):
        load_hardware("nope")


def test_top_level_must_be_a_mapping(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"<top>: expected a mapping"):
        load_hardware(bad)


@pytest.mark.parametrize(("text", "message"), [
    ("array.rows", r"expected KEY\.PATH=VALUE"),
    ("=3", r"expected KEY\.PATH=VALUE"),
    ("array..rows=3", r"expected KEY\.PATH=VALUE"),
    ("array.rows=", r"missing value"),
    ("array.rows=[1", r"not a valid YAML value"),
])
def test_bad_overrides(text, message):
    with pytest.raises(UsageError, match=message):
        parse_override(text)


def test_override_into_a_scalar_is_an_error():
    with pytest.raises(UsageError, match=r"clock_mhz is not a section"):
        apply_overrides({"clock_mhz": 5}, ["clock_mhz.x=1"])


def test_override_with_unknown_key_is_caught_by_validation():
    with pytest.raises(ConfigError, match=r"array\.rowz: unknown key"):
        load_hardware("edge-16x16", ["array.rowz=3"])


def test_json_schema_covers_every_key():
    schema = json_schema()
    assert schema["properties"]["array"]["required"] == ["rows", "cols"]
    assert schema["properties"]["array"]["properties"]["dataflow"]["enum"] == ["os", "ws", "is"]
    assert schema["additionalProperties"] is False
    import jsonschema
    import yaml

    for name in PRESETS:
        jsonschema.validate(yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"array": {"rows": 1, "cols": 1, "oops": 1}}, schema)


def test_docs_reference_is_in_sync():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "hardware-config.md").read_text()
    assert markdown_reference() in doc, ("docs/hardware-config.md is stale: regenerate the "
                                         "table with python -m accelsim.hardware.schema --markdown")


def test_a_machines_hash_is_kept_but_never_pickled():
    """A machine's hash is worked out once; a pickle (how sweep workers receive machines)
    leaves it out, so a process with other string hashes works its own out: here, a child
    with another hash seed finds the unpickled machine in a dict keyed by its own copy."""
    import os
    import pickle
    import subprocess
    import sys

    hw = load_hardware("edge-16x16", ["array.rows=8"])
    first = hash(hw)
    assert hash(hw) == first == hash(load_hardware("edge-16x16", ["array.rows=8"]))
    assert "_hash" not in pickle.loads(pickle.dumps(hw)).__dict__
    child = ("import pickle, sys\n"
             "from accelsim.hardware import load_hardware\n"
             "hw = pickle.loads(sys.stdin.buffer.read())\n"
             "own = load_hardware('edge-16x16', ['array.rows=8'])\n"
             "print({own: 'found'}.get(hw, 'missing'), hash(hw) == hash(own))\n")
    out = subprocess.run([sys.executable, "-c", child], input=pickle.dumps(hw),
                         capture_output=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.decode()
    assert out.split() == ["found", "True"]
