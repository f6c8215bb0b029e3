"""The fast path (``sim.fast``: the event model on a lean kernel) against the event model on
SimPy: the same cost, every field the replay, the reports and the timeline read, over shapes from
one element to tens of thousands of tiles' worth, every dataflow, precision mode and buffering,
small SRAMs, both DRAM models and the shipped machines."""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from machines import gemm, machine

from accelsim.errors import AccelsimError
from accelsim.hardware import load_hardware
from accelsim.sim import engine, fast
from accelsim.sim.ops import simulate
from accelsim.sim.tiling import plan_gemm
from accelsim.trace.records import Gemm

MAX_TILES = 400  # tiles of the largest plan compared (SimPy takes about 0.1 ms a tile)
CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
SHAPES = [(1, 1, 1), (3, 5, 7), (16, 16, 16), (100, 37, 55), (32, 120, 400), (400, 120, 32),
          (6272, 6, 25), (25, 6, 6272), (3200, 150, 16)]
LENET = [(25088, 6, 25), (3200, 16, 150), (32, 120, 400), (32, 84, 120), (32, 10, 84),
         (84, 10, 32), (32, 84, 10), (120, 84, 32), (400, 120, 32), (150, 16, 3200),
         (3200, 150, 16), (25, 6, 25088)]
DRAMS = {"lpddr4": {"model": "lpddr4"},
         "lpddr4-slow": {"model": "lpddr4", "lpddr4": {"data_rate_mtps": 800}},
         "fixed": {"model": "fixed_bandwidth",
                   "fixed_bandwidth": {"words_per_cycle": 4, "word_bits": 8,
                                       "latency_cycles": 7}}}


def observed(cost) -> dict:
    """Every field of a cost that anything downstream reads, in the order it is kept."""
    profile = cost.profile
    return {
        "cycles": cost.cycles, "compute_cycles": cost.compute_cycles,
        "stall_cycles": list(cost.stall_cycles.items()), "macs": cost.macs,
        "busy_pe_cycles": cost.busy_pe_cycles, "sram_bits": list(cost.sram_bits.items()),
        "dram": [(k, dataclasses.asdict(v)) for k, v in cost.dram.items()],
        "occupancy": [(k, o.capacity, o.times, o.levels, o.peak, o.integral(cost.cycles))
                      for k, o in cost.occupancy.items()],
        "plan": cost.plan, "spans": cost.spans,
        "profile": {f.name: getattr(profile, f.name) for f in dataclasses.fields(profile)},
    }


def assert_same(hw, op: Gemm) -> bool | None:
    """The two kernels give the same cost, or the same error; whether there was a cost (None:
    too many tiles to run on SimPy in a test)."""
    try:
        if len(plan_gemm(hw, replace(op, count=1, iter=0, layer="-", phase="fwd")).tiles) \
                > MAX_TILES:
            return None
        want = engine.simulate_gemm(hw, op)
    except AccelsimError as exc:
        with pytest.raises(type(exc), match=re.escape(str(exc))):
            fast.simulate_gemm(hw, op)
        return False
    got = fast.simulate_gemm(hw, op)
    # repr as well: an int where the event model keeps a float would print differently
    assert repr(observed(got)) == repr(observed(want))
    assert observed(got) == observed(want)
    return True


def _buffers(kib: float, double: bool, ports: int = 2) -> dict:
    return {name: {"size_kib": kib, "double_buffered": double, "ports": ports}
            for name in ("ifmap", "filter", "ofmap")}


@pytest.mark.parametrize("dram", sorted(DRAMS))
@pytest.mark.parametrize("double", [True, False])
@pytest.mark.parametrize("mode", ["fixed", "bit_fusion", "bit_serial"])
@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_fast_path_matches_the_event_model_on_a_grid(dataflow, mode, double, dram):
    priced = 0
    for kib, bits in ((4, 8), (64, 4), (1, 1), (16, 16)):
        hw = machine(array={"rows": 8, "cols": 8, "dataflow": dataflow,
                            "precision_scaling": mode, "native_bits": 8},
                     buffers=_buffers(kib, double), dram=DRAMS[dram])
        for m, n, k in SHAPES:
            priced += bool(assert_same(hw, gemm(m, n, k, bits=bits)))
    assert priced >= len(SHAPES)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_fast_path_matches_the_event_model_on_the_shipped_machines(config):
    for overrides in ([], ["buffers.ifmap.size_kib=2", "buffers.ofmap.ports=1"],
                      ["array.dataflow=os", "buffers.filter.double_buffered=false"],
                      ["array.dataflow=is", "array.rows=4", "array.cols=64"]):
        hw = load_hardware(str(config), overrides)
        for m, n, k in LENET:
            for bits in (8, 5):
                assert_same(hw, gemm(m, n, k, bits=bits))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.integers(1, 2000), n=st.integers(1, 400), k=st.integers(1, 2000),
       bits=st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 12, 16]),
       acc=st.sampled_from([16, 24, 32]), out=st.sampled_from([None, 16]),
       rows=st.sampled_from([3, 4, 8, 16, 32]), cols=st.sampled_from([4, 7, 8, 16, 32]),
       dataflow=st.sampled_from(["os", "ws", "is"]),
       mode=st.sampled_from(["fixed", "bit_fusion", "bit_serial"]),
       timing=st.sampled_from(["native", "scalesim"]),
       kib=st.sampled_from([2, 8, 32, 256]), double=st.booleans(),
       ports=st.sampled_from([1, 2]), dram=st.sampled_from(sorted(DRAMS)),
       clock=st.sampled_from([200, 800, 1000, 1333]))
def test_fast_path_matches_the_event_model_anywhere(m, n, k, bits, acc, out, rows, cols,
                                                     dataflow, mode, timing, kib, double,
                                                     ports, dram, clock):
    hw = machine(clock_mhz=clock,
                 array={"rows": rows, "cols": cols, "dataflow": dataflow,
                        "precision_scaling": mode, "native_bits": 8, "timing": timing},
                 buffers=_buffers(kib, double, ports), dram=DRAMS[dram])
    assume(assert_same(hw, gemm(m, n, k, bits=bits, acc=acc, c_bits=out or bits)) is not None)


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_matches_the_event_model_on_random_machines(seed):
    """Uniform draws over the same space as above (hypothesis favours small values): shapes of
    hundreds of tiles, on machines of every kind."""
    rng = random.Random(seed)
    pick = rng.choice
    priced = 0
    for _ in range(6):
        bits = pick([1, 2, 3, 4, 5, 6, 7, 8, 12, 16])
        hw = machine(clock_mhz=pick([200, 800, 1000, 1333]),
                     array={"rows": pick([3, 4, 8, 16, 32]), "cols": pick([4, 7, 8, 16, 32]),
                            "dataflow": pick(["os", "ws", "is"]),
                            "precision_scaling": pick(["fixed", "bit_fusion", "bit_serial"]),
                            "native_bits": 8, "timing": pick(["native", "scalesim"])},
                     buffers=_buffers(pick([2, 8, 32, 256]), pick([True, False]),
                                      pick([1, 2])),
                     dram=DRAMS[pick(sorted(DRAMS))])
        op = gemm(rng.randint(1, 2000), rng.randint(1, 400), rng.randint(1, 2000), bits=bits,
                  acc=pick([16, 24, 32]), c_bits=pick([bits, 16]))
        priced += assert_same(hw, op) is not None
    assert priced >= 3


def test_im2col_views_and_binary_ops_match():
    hw = load_hardware("edge-16x16", ["buffers.ifmap.size_kib=8"])
    for op in (gemm(25088, 6, 25, a_elements=32768), gemm(3200, 150, 16, c_elements=37632),
               gemm(150, 16, 3200, a_elements=37632), gemm(500, 64, 300, bits=1)):
        assert assert_same(hw, op)


def test_the_simulator_prices_every_gemm_of_the_shipped_machines_without_simpy(monkeypatch):
    """The fast path applies to every GEMM: on the shipped machines, LeNet-5's shapes never
    reach SimPy (the fraction of GEMMs priced by the fast path is 1)."""
    import simpy

    def refuse(*_args, **_kwargs):
        raise AssertionError("the event model ran on SimPy")

    monkeypatch.setattr(simpy, "Environment", refuse)
    priced = 0
    for config in CONFIGS:
        hw = load_hardware(str(config), [])
        for m, n, k in LENET:
            cost = simulate(hw, gemm(m, n, k))
            assert cost.cycles >= cost.compute_cycles > 0
            priced += 1
    assert priced == len(CONFIGS) * len(LENET)


def test_machines_that_plan_alike_share_one_plan():
    """``plan_gemm`` remembers plans by what they depend on: a machine differing only in what
    the planner does not read (a precision mode giving the same beat, the vector unit, the
    schedule) gets the plan already made, equal to its own."""
    from accelsim.sim import tiling

    base = {"rows": 8, "cols": 8, "native_bits": 8}
    first = machine(array={**base, "precision_scaling": "fixed"})
    alike = [machine(array={**base, "precision_scaling": "bit_fusion"}),
             machine(array={**base, "precision_scaling": "fixed"}, vector={"lanes": 64}),
             machine(array={**base, "precision_scaling": "fixed"},
                     schedule={"overlap_ops": True})]
    other = machine(array={**base, "precision_scaling": "fixed"},
                    buffers={"ifmap": {"size_kib": 4}})
    for m, n, k in LENET[:6]:
        op = gemm(m, n, k)
        plan = plan_gemm(first, op)
        for hw in alike:
            assert plan_gemm(hw, op) is plan
            assert tiling._plan(hw, op) == plan
        assert plan_gemm(other, op) == tiling._plan(other, op)
