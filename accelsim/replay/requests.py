"""``accelsim dram``: a list of DRAM requests priced on a machine's DRAM, on its running clock.

A request file is CSV with the header ``addr,bytes,op``: a byte address, a size in bytes and
``read`` or ``write``, one request per line, as a DMA engine would issue them (all at once, in
order). The controller model is the simulator's (``sim/controller.py``), refresh included;
energy is ``energy.dram``'s currents. The same patterns run through DRAMsim3 in
``benchmarks/dramsim3_agreement.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accelsim.energy.model import dram_command_energy
from accelsim.errors import AccelsimError, clip, shown
from accelsim.hardware.model import Hardware
from accelsim.sim.controller import DramController
from accelsim.sim.dram import DramTiming
from accelsim.spec.yamlio import read_text

HEADER = ("addr", "bytes", "op")
MAX_REQUESTS = 1_000_000
MAX_ADDRESS = 1 << 40
MAX_REQUEST_BYTES = 1 << 30
MAX_FILE_BYTES = 64 << 20


class RequestsError(AccelsimError):
    """A request file is malformed."""


def read_requests(path: str | Path) -> list[tuple[int, int, bool]]:
    """``(addr, bytes, write)`` of every request; errors name the file and line."""
    path = Path(path)
    text = read_text(path, RequestsError, "request file", MAX_FILE_BYTES)
    lines = text.splitlines()
    if not lines or tuple(c.strip() for c in lines[0].split(",")) != HEADER:
        raise RequestsError(f"{path}:1: expected the header 'addr,bytes,op', got "
                            f"{shown(lines[0] if lines else '')}")
    out = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 3:
            raise RequestsError(f"{where}: expected 3 fields addr,bytes,op, got {len(cells)}")
        addr = _integer(cells[0], "addr", where, 0, MAX_ADDRESS - 1)
        size = _integer(cells[1], "bytes", where, 1, MAX_REQUEST_BYTES)
        if cells[2] not in ("read", "write"):
            raise RequestsError(f"{where}: op must be read or write, got {shown(cells[2])}")
        if addr + size > MAX_ADDRESS:
            raise RequestsError(f"{where}: the request ends past address {MAX_ADDRESS:,}")
        out.append((addr, size, cells[2] == "write"))
        if len(out) > MAX_REQUESTS:
            raise RequestsError(f"{path}: more than {MAX_REQUESTS:,} requests")
    if not out:
        raise RequestsError(f"{path}: no requests after the header")
    return out


def _integer(text: str, name: str, where: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise RequestsError(f"{where}: {name} must be a whole number, got {shown(clip(text))}")
    value = int(text)
    if not low <= value <= high:
        raise RequestsError(f"{where}: {name} must be from {low:,} to {high:,}, got {value:,}")
    return value


def price_requests(hw: Hardware, requests: list[tuple[int, int, bool]]) -> dict[str, Any]:
    """Time, traffic, row statistics and energy of serving ``requests`` from time 0."""
    if hw.dram.model != "lpddr4" or hw.dram.lpddr4 is None:
        raise RequestsError("accelsim dram needs dram.model: lpddr4 (fixed_bandwidth has no "
                            "rows or banks to price)")
    timing = DramTiming.of(hw.dram.lpddr4)
    controller = DramController(timing)
    end = controller.stream(requests)
    s = controller.stats
    e = dram_command_energy(hw)
    time_ns = end * timing.tck_ns
    requested = sum(size for _, size, _ in requests)
    moved = (s.read_bursts + s.write_bursts) * timing.burst_bytes
    parts = {"activate": s.activates * e.activate_pj,
             "read": s.read_bursts * e.read_burst_pj,
             "write": s.write_bursts * e.write_burst_pj,
             "refresh": s.refreshes * e.refresh_pj,
             "background": e.background_mw * time_ns}
    return {"time_ns": time_ns, "bytes_requested": requested, "bytes_moved": moved,
            "bandwidth_gb_s": moved / time_ns if time_ns else 0.0,
            "row_hits": s.row_hits, "row_misses": s.row_misses,
            "row_conflicts": s.row_conflicts, "activates": s.activates,
            "refreshes": s.refreshes,
            "energy_pj": {"total": sum(parts.values()), **parts}}
