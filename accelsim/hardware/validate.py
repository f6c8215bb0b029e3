"""From parsed YAML to a checked ``Hardware``: schema first, then meaning, then objects.

``spec.check_schema`` walks the section dataclasses and collects every problem with its key
path (unknown keys, wrong types, out-of-range values); ``check_meaning`` then looks for
impossible combinations. Only when both find nothing are the frozen objects built. All problems are raised
together in one ``ConfigError`` so a user fixes a config in one pass.
"""

from __future__ import annotations

from typing import Any

from accelsim.errors import ConfigError
from accelsim.hardware.model import Dram, FixedBandwidth, Hardware, Lpddr4
from accelsim.spec.check import build, check_schema


def check_meaning(v: dict, problems: list[str]) -> None:
    """Impossible combinations that no single key's range can express."""
    array = v["array"]
    if array["precision_scaling"] == "bit_fusion":
        nb, mb = array["native_bits"], array["fusion_min_bits"]
        if nb & (nb - 1):
            problems.append(f"array.native_bits: {nb} must be a power of two when "
                            "array.precision_scaling is 'bit_fusion'")
        if mb > nb:
            problems.append(f"array.fusion_min_bits: {mb} exceeds array.native_bits {nb}")
    dram = v["dram"]
    for model in ("lpddr4", "fixed_bandwidth"):
        if model != dram["model"] and dram[model] is not None:
            problems.append(f"dram.{model}: given, but dram.model is {dram['model']!r}")
    t = dram["lpddr4"]
    if dram["model"] == "lpddr4" and t is not None:
        if t["tras_tck"] < t["trcd_tck"]:
            problems.append(f"dram.lpddr4.tras_tck: {t['tras_tck']} is shorter than "
                            f"dram.lpddr4.trcd_tck {t['trcd_tck']}")
        serve = 2 * (t["trp_tck"] + t["trcd_tck"] + t["cl_tck"] + t["burst_length"] // 2)
        if t["trefi_tck"] - t["trfc_tck"] < serve:
            problems.append(f"dram.lpddr4.trfc_tck: {t['trfc_tck']} leaves no time between "
                            f"refreshes to serve a request (dram.lpddr4.trefi_tck is "
                            f"{t['trefi_tck']}; it must exceed tRFC by at least "
                            f"2 x (tRP + tRCD + CL + BL/2) = {serve})")
        burst_bytes = t["bus_width_bits"] // 8 * t["burst_length"]
        if burst_bytes > t["row_bytes"]:
            problems.append(f"dram.lpddr4.row_bytes: {t['row_bytes']} is smaller than one burst "
                            f"({burst_bytes} bytes)")
    rows, cols = array["rows"], array["cols"]
    # What the machine's own width needs: the operand held in the PEs (weights in ws, inputs
    # in is, outputs in os, which drain once the whole reduction has streamed) needs one
    # rows x cols block of native-width values in a slot of its SRAM. Each op is checked
    # against the buffers again when it is planned, at its own widths.
    name = {"ws": "filter", "is": "ifmap", "os": "ofmap"}[array["dataflow"]]
    bits = array["native_bits"]
    buf = v["buffers"][name]
    if buf is not None:
        need = -(-rows * cols * bits // 8)
        slot = int(buf["size_kib"] * 1024) // (2 if buf["double_buffered"] else 1)
        if slot < need:
            problems.append(f"buffers.{name}.size_kib: {buf['size_kib']:g} KiB cannot hold one "
                            f"{rows}x{cols} block of {bits}-bit values of the operand a "
                            f"{array['dataflow']} array keeps in its PEs"
                            f"{' per half' if buf['double_buffered'] else ''} "
                            f"(needs {need:,} bytes)")


def hardware_from_dict(data: Any, source: str = "") -> Hardware:
    """Validate a parsed config and build the typed ``Hardware``; raise ``ConfigError``."""
    problems: list[str] = []
    values = check_schema(Hardware, data, "", problems)
    if values is not None and not problems:
        dram = values["dram"]
        chosen = dram["model"]
        if dram[chosen] is None:  # the chosen model's section defaults when omitted
            section = Lpddr4 if chosen == "lpddr4" else FixedBandwidth
            dram[chosen] = check_schema(section, {}, f"dram.{chosen}", problems)
        check_meaning(values, problems)
    if problems:
        raise ConfigError(problems, source)
    assert values is not None
    hw = build(Hardware, values)
    assert isinstance(hw.dram, Dram)
    return hw
