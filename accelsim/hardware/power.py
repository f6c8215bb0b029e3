"""What a machine's power figures come to: each DRAM command's energy from the datasheet currents,
and the leakage of the whole chip. Derived from the description alone, so the simulator's
planner and the energy model read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from accelsim.hardware.model import BUFFERS, Hardware, Lpddr4


@dataclass(frozen=True)
class DramCommandEnergy:
    """Energy of one DRAM command across the interface (all ``devices``), from currents."""

    activate_pj: float  # an ACT and its PRE
    read_burst_pj: float
    write_burst_pj: float
    refresh_pj: float
    background_mw: float  # active standby (open-page rows stay open)
    burst_bytes: int
    refresh_interval_ns: float


@lru_cache(maxsize=64)
def dram_command_energy(hw: Hardware) -> DramCommandEnergy:
    """``energy.dram``'s currents priced with the interface's timing (the lpddr4 defaults'
    for the fixed_bandwidth model). mA x V = mW; mW x ns = pJ."""
    e = hw.energy.dram
    t = hw.dram.lpddr4 if hw.dram.lpddr4 is not None else Lpddr4()
    tck = t.tck_ns
    n, vdd = e.devices, e.vdd_v
    trc = t.tras_tck + t.trp_tck
    act = vdd * (e.idd0_ma * trc - e.idd3n_ma * t.tras_tck - e.idd2n_ma * t.trp_tck) * tck
    burst_ns = t.burst_length / 2 * tck
    read = (vdd * (e.idd4r_ma - e.idd3n_ma) + e.vddq_v * e.iddq4r_ma) * burst_ns
    write = (vdd * (e.idd4w_ma - e.idd3n_ma) + e.vddq_v * e.iddq4w_ma) * burst_ns
    refresh = vdd * (e.idd5_ma - e.idd3n_ma) * t.trfc_tck * tck
    return DramCommandEnergy(activate_pj=n * max(act, 0.0), read_burst_pj=n * max(read, 0.0),
                             write_burst_pj=n * max(write, 0.0),
                             refresh_pj=n * max(refresh, 0.0),
                             background_mw=n * vdd * e.idd3n_ma,
                             burst_bytes=t.bus_width_bits // 8 * t.burst_length,
                             refresh_interval_ns=t.trefi_tck * tck)


@lru_cache(maxsize=64)
def static_mw(hw: Hardware) -> float:
    """Leakage of the whole accelerator (SRAMs by capacity, plus the array and control)."""
    kib = sum(hw.buffer(name).size_kib for name in BUFFERS)
    return hw.energy.sram.leakage_mw_per_kib * kib + hw.energy.static.array_leakage_mw
