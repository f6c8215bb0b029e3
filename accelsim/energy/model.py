"""Energy = per-action energy x action count, plus static power x time.

The per-action laws (defaults and sources in ``docs/energy.md``):
- integer MAC: multiplier quadratic*g^2 + linear*g with g = sqrt(a_bits*b_bits) (QKeras' fit to
  Horowitz ISSCC 2014, 45 nm), plus an adder linear in the accumulator width;
- floating-point MAC: Horowitz's FP16/FP32 multiply and add;
- binary MAC (1 x 1 bit): one XNOR and a popcount stage, ``binary_mac_pj``;
- SRAM: energy per 64-bit access of a 32 KiB bank, scaled by (bank size / 32 KiB)^exponent
  (CACTI's size law), read and write apart;
- DRAM: per bit moved on the bus (whole bursts), per activate, per refresh, background power.
Counts come from the simulator's ``OpCost``; nothing here knows about time-stepping. An op's
energy has two parts: what its actions cost (``action_energy``, by the op's kind: its
arithmetic, then the SRAM and DRAM traffic every kind shares) and what the machine burns while
the op holds it (``time_energy``: DRAM background and refresh, leakage), which the replay's
schedule decides (``accelsim.replay``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import sqrt
from typing import Any

from accelsim.errors import SimulationError
from accelsim.hardware.model import BUFFER_OF, Buffer, Hardware
from accelsim.hardware.power import dram_command_energy, static_mw
from accelsim.sim.costs import OpCost

COMPONENTS = ("mac", "vector", "ifmap", "filter", "ofmap", "dram", "static")


def mac_pj(hw: Hardware, a_bits: int, b_bits: int, acc_bits: int, dtype: str = "int") -> float:
    """Energy of one multiply-accumulate at these widths."""
    e = hw.energy.mac
    if a_bits == 1 and b_bits == 1 and dtype == "int":
        return e.binary_mac_pj  # XNOR + popcount: the accumulation is the popcount tree
    if dtype == "fp":
        wide = max(a_bits, b_bits) > 16
        mult = e.fp32_mult_pj if wide else e.fp16_mult_pj
        add = e.fp32_add_pj if acc_bits > 16 else e.fp16_add_pj
        return mult + add
    g = sqrt(a_bits * b_bits)
    return e.mult_pj_quadratic * g * g + e.mult_pj_linear * g + e.add_pj_per_bit * acc_bits


def sram_pj_per_bit(hw: Hardware, buf: Buffer, write: bool) -> float:
    """Access energy per bit of one buffer, from its bank size."""
    e = hw.energy.sram
    ref = e.write_pj_per_64b_at_32kib if write else e.read_pj_per_64b_at_32kib
    bank_kib = buf.size_kib / buf.banks
    return ref / 64.0 * (bank_kib / 32.0) ** e.size_exponent


@dataclass
class Energy:
    """One op's energy in pJ by component, and the data-movement part of it by operand."""

    components: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0.0))
    by_operand: dict[str, float] = field(default_factory=dict)  # a, b, c or transfer

    @property
    def total(self) -> float:
        return sum(self.components.values())


def _gemm_arithmetic(hw: Hardware, op: Any, cost: OpCost) -> dict[str, float]:
    if not cost.macs:
        return {}
    return {"mac": cost.macs * mac_pj(hw, op.a_bits, op.b_bits, op.acc_bits, op.dtype)}


def _no_arithmetic(hw: Hardware, op: Any, cost: OpCost) -> dict[str, float]:
    return {}


def vector_op_pj(hw: Hardware, bits: int, dtype: str) -> float:
    """One operation of the vector unit at this width."""
    v = hw.vector
    if dtype == "fp":
        return v.fp32_op_pj if bits > 16 else v.fp16_op_pj
    return v.int_op_pj_per_bit * bits


def _vector_arithmetic(hw: Hardware, op: Any, cost: OpCost) -> dict[str, float]:
    width = max(op.in_bits, op.out_bits)
    return {"vector": op.elements * op.ops * vector_op_pj(hw, width, op.dtype)}


# The arithmetic each op kind does, by the kind's name (``accelsim.trace.records.KINDS``).
ARITHMETIC: dict[str, Callable[[Hardware, Any, OpCost], dict[str, float]]] = {
    "gemm": _gemm_arithmetic,
    "transfer": _no_arithmetic,  # data movement only
    "vector": _vector_arithmetic,
}


def action_energy(hw: Hardware, op: Any, cost: OpCost) -> Energy:
    """The energy of one execution's actions: arithmetic, SRAM accesses, DRAM commands."""
    arithmetic = ARITHMETIC.get(op.op)
    if arithmetic is None:
        raise SimulationError(f"no energy rule for op kind {op.op!r}; known: "
                              f"{', '.join(ARITHMETIC)}")
    out = Energy()
    c = out.components
    c.update(arithmetic(hw, op, cost))
    for (operand, direction), bits in cost.sram_bits.items():
        name = BUFFER_OF.get(operand) or hw.vector.sram
        pj = bits * sram_pj_per_bit(hw, hw.buffer(name), direction == "write")
        c[name] += pj
        out.by_operand[operand] = out.by_operand.get(operand, 0.0) + pj
    d = dram_command_energy(hw)
    for operand, stats in cost.dram.items():
        pj = (stats.read_moved_bytes / d.burst_bytes * d.read_burst_pj
              + stats.write_moved_bytes / d.burst_bytes * d.write_burst_pj
              + stats.activates * d.activate_pj)
        c["dram"] += pj
        out.by_operand[operand] = out.by_operand.get(operand, 0.0) + pj
    return out


def time_energy(hw: Hardware, cycles: float) -> dict[str, float]:
    """What the machine burns over ``cycles`` whatever it does: DRAM background power and
    refresh (one every tREFI), and leakage (component ``static``)."""
    d = dram_command_energy(hw)
    time_ns = cycles * hw.cycle_ns
    refreshes = time_ns / d.refresh_interval_ns if hw.dram.model == "lpddr4" else 0.0
    return {"dram": d.background_mw * time_ns + refreshes * d.refresh_pj,  # mW x ns = pJ
            "static": static_mw(hw) * time_ns}


def energy_of(hw: Hardware, op: Any, cost: OpCost, cycles: float | None = None) -> Energy:
    """An op's whole energy when it holds the machine for ``cycles`` (default: its own)."""
    out = action_energy(hw, op, cost)
    for component, pj in time_energy(hw, cost.cycles if cycles is None else cycles).items():
        out.components[component] += pj
    return out
