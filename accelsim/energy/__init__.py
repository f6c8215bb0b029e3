"""Energy: per-action energies times the simulator's action counts, plus power over time."""

from accelsim.energy.model import (
    ARITHMETIC,
    COMPONENTS,
    Energy,
    action_energy,
    energy_of,
    mac_pj,
    sram_pj_per_bit,
    time_energy,
)

__all__ = ["ARITHMETIC", "COMPONENTS", "Energy", "action_energy", "energy_of", "mac_pj",
           "sram_pj_per_bit", "time_energy"]
