"""Energy laws against their published anchor points, and energy conservation."""

import pytest
from machines import gemm, machine

from accelsim.energy.model import (
    COMPONENTS,
    dram_command_energy,
    energy_of,
    mac_pj,
    sram_pj_per_bit,
    time_energy,
)
from accelsim.sim.engine import simulate_gemm


def test_mac_energy_matches_horowitz_anchors(default_hw):
    # Horowitz ISSCC 2014, 45 nm: 8-bit multiply 0.2 pJ, 32-bit 3.1 pJ; 32-bit add 0.1 pJ.
    mult8 = mac_pj(default_hw, 8, 8, 0)
    mult32 = mac_pj(default_hw, 32, 32, 0)
    assert mult8 == pytest.approx(0.2, rel=1e-6)
    assert mult32 == pytest.approx(3.1, rel=1e-6)
    assert mac_pj(default_hw, 8, 8, 32) - mult8 == pytest.approx(0.1)
    assert mac_pj(default_hw, 32, 32, 32, "fp") == pytest.approx(3.7 + 0.9)
    assert mac_pj(default_hw, 16, 16, 16, "fp") == pytest.approx(1.1 + 0.4)
    assert mac_pj(default_hw, 4, 8, 32) < mac_pj(default_hw, 8, 8, 32)  # multiplier ~ a*b


def test_sram_energy_scales_with_bank_size():
    hw = machine()
    # A 32 KiB bank is the anchor: 14.9 pJ per 64-bit read (CACTI 7, 45 nm).
    anchor = machine(buffers={"ifmap": {"size_kib": 32, "banks": 1}}).buffers.ifmap
    assert sram_pj_per_bit(hw, anchor, False) * 64 == pytest.approx(14.9)
    big = machine(buffers={"ifmap": {"size_kib": 128, "banks": 1}}).buffers.ifmap
    assert sram_pj_per_bit(hw, big, False) / sram_pj_per_bit(hw, anchor, False) == pytest.approx(
        4 ** 0.45)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_energy_total_is_the_sum_of_its_parts(dataflow):
    hw = machine(array={"dataflow": dataflow})
    op = gemm(3136, 64, 576)
    cost = simulate_gemm(hw, op)
    e = energy_of(hw, op, cost)
    assert set(e.components) == set(COMPONENTS)
    assert e.total == pytest.approx(sum(e.components.values()))
    assert all(v >= 0 for v in e.components.values())
    # Movement energy by operand covers exactly the buffers plus DRAM's per-bit and activate
    # energy; the rest of DRAM's energy is time-proportional (background and refresh).
    movement = sum(e.by_operand.values())
    buffers = e.components["ifmap"] + e.components["filter"] + e.components["ofmap"]
    time_dram = time_energy(hw, cost.cycles)["dram"]
    assert movement == pytest.approx(buffers + e.components["dram"] - time_dram)
    assert e.components["mac"] == pytest.approx(op.macs * mac_pj(hw, 8, 8, 32))


def test_binary_macs_are_xnor_popcount(default_hw):
    assert mac_pj(default_hw, 1, 1, 16) == default_hw.energy.mac.binary_mac_pj
    assert mac_pj(default_hw, 1, 1, 16) < mac_pj(default_hw, 2, 2, 16) / 5
    assert mac_pj(default_hw, 1, 16, 32) > mac_pj(default_hw, 1, 1, 32)  # mixed: not binary


def test_dram_command_energy_from_currents_matches_dramsim3(default_hw):
    """DRAMsim3 (umd-memsys/DRAMsim3@2981759) prices the same LPDDR4-3200 currents per command
    as ACT 4706.1 pJ, READ burst 5390.0 pJ, WRITE burst 3960.0 pJ, REF 57564 pJ, background
    148.20 mW (benchmarks/dramsim3/README.md); it has no I/O energy, so compare core parts."""
    from dataclasses import replace

    e = dram_command_energy(default_hw)
    assert e.activate_pj == pytest.approx(4706.1, abs=0.1)
    assert e.refresh_pj == pytest.approx(57564, abs=1)
    assert e.background_mw == pytest.approx(148.20, abs=0.01)
    no_io = replace(default_hw, energy=replace(default_hw.energy, dram=replace(
        default_hw.energy.dram, iddq4r_ma=0.0, iddq4w_ma=0.0)))
    core = dram_command_energy(no_io)
    assert core.read_burst_pj == pytest.approx(5390.0, abs=0.1)
    assert core.write_burst_pj == pytest.approx(3960.0, abs=0.1)
    assert e.read_burst_pj > core.read_burst_pj  # the I/O rail on top


def test_vector_energy_scales_with_width_and_format(default_hw):
    from accelsim.energy.model import vector_op_pj

    v = default_hw.vector
    assert vector_op_pj(default_hw, 32, "int") == pytest.approx(32 * v.int_op_pj_per_bit)
    assert vector_op_pj(default_hw, 8, "int") * 4 == pytest.approx(
        vector_op_pj(default_hw, 32, "int"))
    assert vector_op_pj(default_hw, 32, "fp") == v.fp32_op_pj
    assert vector_op_pj(default_hw, 16, "fp") == v.fp16_op_pj
