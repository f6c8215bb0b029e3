"""The replay report: totals and breakdowns by component, layer, phase and tensor.

A ``Report`` accumulates op costs (times each op's ``count``) as the replay goes, and turns them
into the ``report.json`` document. Every breakdown is a partition of the same total, which the
tests check: energy by component, by layer and by phase each sum to ``energy_pj.total``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

from accelsim.energy.model import COMPONENTS, time_energy
from accelsim.hardware.model import BUFFERS, Hardware
from accelsim.sim.costs import DramStats, OpCost
from accelsim.trace.records import Header

TIMELINE_POINTS = 20000  # occupancy samples kept for plots (from the start of the replay)

Change = tuple[float, int, int]  # cycle from an op's start, buffer index, bytes
Sample = tuple[float, float, int, list[Change]]  # start, period, executions, own changes


def _zero() -> dict[str, float]:
    return dict.fromkeys(COMPONENTS, 0.0)


class Totals:
    """Every breakdown of a report, worked out from its groups of identical placed ops."""

    def __init__(self, hw: Hardware, groups: Any):
        self.compute_cycles = 0
        self.stalls: dict[str, float] = defaultdict(int)
        self.macs = 0
        self.busy_pe_cycles = 0
        self.energy = _zero()
        self.layer_energy: dict[str, dict[str, float]] = defaultdict(_zero)
        self.phase_energy: dict[str, dict[str, float]] = defaultdict(_zero)
        self.layer_phase_energy: dict[str, dict[str, float]] = defaultdict(
            lambda: defaultdict(float))
        self.layer_cycles: dict[str, float] = defaultdict(float)
        self.phase_cycles: dict[str, float] = defaultdict(float)
        self.layer_macs: dict[str, int] = defaultdict(int)
        self.tensor_energy: dict[str, float] = defaultdict(float)
        self.kind_energy: dict[str, float] = defaultdict(float)  # gemm, transfer, vector kinds
        self.kind_cycles: dict[str, float] = defaultdict(float)  # the time each kind adds
        self.unit_busy: dict[str, float] = defaultdict(float)  # array, vector: busy cycles
        self.tensor_bytes: dict[str, dict[str, int]] = defaultdict(lambda: {"read": 0,
                                                                            "write": 0})
        self.dram = DramStats()
        self.peak = dict.fromkeys(BUFFERS, 0)
        self.occupancy_integral = dict.fromkeys(BUFFERS, 0.0)
        for op, cost, actions, n, held in groups:
            self._add(hw, op, cost, actions, n, held)

    def _add(self, hw: Hardware, op: Any, cost: OpCost, actions: Any, n: int,
             held: float) -> None:
        idle = time_energy(hw, held)
        self.compute_cycles += n * cost.compute_cycles
        for cause, cycles in cost.stall_cycles.items():
            self.stalls[cause] += n * cycles
        shared = n * cost.cycles - held  # cycles overlapped with neighbours
        if shared:
            self.stalls["overlap"] -= shared
        self.macs += n * cost.macs
        self.busy_pe_cycles += n * cost.busy_pe_cycles
        phase = op.phase or "unspecified"
        total = 0.0
        for comp in self.energy:
            pj = n * actions.components.get(comp, 0.0) + idle.get(comp, 0.0)
            total += pj
            self.energy[comp] += pj
            self.layer_energy[op.layer][comp] += pj
            self.phase_energy[phase][comp] += pj
        self.layer_phase_energy[op.layer][phase] += total
        self.layer_cycles[op.layer] += held
        self.phase_cycles[phase] += held
        self.layer_macs[op.layer] += n * cost.macs
        self.kind_energy[_kind(op)] += total
        self.kind_cycles[_kind(op)] += held
        if cost.profile is not None:
            self.unit_busy[cost.profile.unit] += n * cost.profile.compute
        names = op.operand_tensors()
        for operand, pj in actions.by_operand.items():
            self.tensor_energy[names[operand]] += n * pj
        for operand, stats in cost.dram.items():
            moved = self.tensor_bytes[names[operand]]
            moved["read"] += n * stats.read_bytes
            moved["write"] += n * stats.write_bytes
            self.dram.add(stats, n)
        for name, occ in cost.occupancy.items():
            self.peak[name] = max(self.peak[name], occ.peak)
            self.occupancy_integral[name] += n * occ.integral(cost.cycles)


class Report:
    """Running totals of a replay on one machine.

    Placed ops are gathered by what makes them the same work (their cost and their place in
    the breakdowns): each group keeps its executions and the time the schedule gave them, and
    the breakdowns are worked out from the groups when asked for. Costs are linear in
    executions and time energy in held time, so this equals adding op by op, and a training
    trace of tens of thousands of records costs a few hundred groups."""

    def __init__(self, hw: Hardware, header: Header, *, timeline: bool = True):
        self.hw, self.header = hw, header
        self.ops = 0
        self.distinct_ops = 0
        self.cycles = 0.0
        self.iteration_cycles: dict[int, float] = defaultdict(float)
        self.iteration_energy: dict[int, float] = defaultdict(float)  # pJ, for energy-to-accuracy
        # (id of the cost, place) -> [op, cost, action energy, executions, held cycles]
        self._groups: dict[tuple, list] = {}
        self._settled: Totals | None = None
        # the timeline's samples, kept as (start, period, executions, the cost's own changes)
        # and expanded to (cycle, buffer index, bytes) only when the timeline is asked for
        self._samples: list[Sample] = []
        # whole iterations placed from memory, kept at once: (origin, their ops' samples)
        self._runs: list[tuple[float, list[Sample]]] = []
        self._changes = 0 if timeline else TIMELINE_POINTS
        self._own: dict[int, tuple[OpCost, list[Change]]] = {}

    def add(self, placed: Any) -> None:
        """Count one placed op (``accelsim.replay.Placed``): its executions' costs and action
        energy, and the time the schedule gave it (its latency share and the energy the
        machine burns meanwhile)."""
        op = placed.op
        self.count(op, placed.cost, placed.energy, op.count, placed.held)
        self.iteration_cycles[op.iter] += placed.held
        self.iteration_energy[op.iter] += op_energy(self.hw, placed.energy, op.count,
                                                    placed.held)
        self.cycles = max(self.cycles, placed.end)
        if self.sampling:
            self.sample_cost(placed.cost, placed.start, placed.period, op.count)

    def count(self, op: Any, cost: OpCost, energy: Any, executions: int, held: float) -> None:
        """Add ``executions`` of ``op`` holding the machine ``held`` cycles (no timeline)."""
        self.count_times((id(cost), op.place()), op, cost, energy, executions, held, 1)

    def count_times(self, key: tuple, op: Any, cost: OpCost, energy: Any, executions: int,
                    held: float, times: int) -> None:
        """``count`` done ``times`` over, ``key`` being ``(id(cost), op.place())``: the
        replay counts a run of repeating iterations at once. The held cycles add up as
        ``times`` additions would, bit for bit (whole numbers of cycles are multiplied, which
        is exact; otherwise the fraction is added ``times`` times)."""
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = [op, cost, energy, 0, 0.0]
        group[3] += times * executions
        if times == 1 or (float(held).is_integer() and float(group[4]).is_integer()):
            group[4] += times * held
        else:
            for _ in range(times):
                group[4] += held
        self.ops += times * executions
        self._settled = None

    @property
    def sampling(self) -> bool:
        """Whether the occupancy timeline still takes samples."""
        return self._changes < TIMELINE_POINTS

    @property
    def totals(self) -> Totals:
        """Every breakdown, worked out from the groups (again only after new ops)."""
        if self._settled is None:
            self._settled = Totals(self.hw, self._groups.values())
        return self._settled

    def sample_cost(self, cost: OpCost, start: float, period: float, n: int) -> None:
        """Keep the occupancy changes of the first executions (about TIMELINE_POINTS of
        them), each offset to its start; overlapping ops add up (``timeline``). Whole
        executions are kept, the last one reaching TIMELINE_POINTS or past it."""
        if self._changes >= TIMELINE_POINTS:
            return
        own = self._own_changes(cost)
        if not own:
            return
        reps = min(n, -(-(TIMELINE_POINTS - self._changes) // len(own)))
        self._samples.append((start, period, reps, own))
        self._changes += reps * len(own)

    def samples_of(self, placed: list[tuple[OpCost, float, float, int]]
                   ) -> tuple[list[Sample], int]:
        """The samples ``sample_cost`` would keep of ``placed`` ops (cost, start, period,
        executions) if all fit whole, and how many changes they make."""
        samples = []
        changes = 0
        for cost, start, period, n in placed:
            own = self._own_changes(cost)
            if own:
                samples.append((start, period, n, own))
                changes += n * len(own)
        return samples, changes

    def sample_run(self, origin: float, samples: list[Sample], changes: int) -> bool:
        """Keep ``samples_of`` a run of ops, their starts from ``origin``, at once: what
        ``sample_cost`` keeps of each in turn when all of them fit whole. False, keeping
        nothing, when they do not."""
        if self._changes + changes > TIMELINE_POINTS:
            return False
        self._runs.append((origin, samples))
        self._changes += changes
        return True

    def _own_changes(self, cost: OpCost) -> list[Change]:
        """(cycle from the op's start, buffer index, bytes) of each change of one execution
        of ``cost``, in the order the timeline takes them; worked out once per cost."""
        known = self._own.get(id(cost))
        if known is not None and known[0] is cost:
            return known[1]
        out: list[Change] = []
        for index, name in enumerate(BUFFERS):
            occ = cost.occupancy[name]
            previous = 0
            for time, level in zip(occ.times, occ.levels, strict=True):
                if level != previous:
                    out.append((time, index, level - previous))
                    previous = level
            if previous:  # whatever an op still holds at its end leaves with it
                out.append((cost.cycles, index, -previous))
        self._own[id(cost)] = (cost, out)
        return out

    @property
    def timeline(self) -> list[tuple[float, int, int, int]]:
        """(cycle, bytes in each SRAM) after every change, in time order."""
        samples = self._samples + [(origin + start, period, reps, own)
                                   for origin, run in self._runs
                                   for start, period, reps, own in run]
        deltas = [(start + rep * period + time, index, delta)
                  for start, period, reps, own in samples
                  for rep in range(reps)
                  for time, index, delta in own]
        levels = [0] * len(BUFFERS)
        out: list[tuple[float, int, int, int]] = []
        for time, index, delta in sorted(deltas):
            levels[index] += delta
            if out and out[-1][0] == time:
                out[-1] = (time, *levels)  # type: ignore[assignment]
            else:
                out.append((float(time), *levels))  # type: ignore[arg-type]
        return out

    @property
    def latency_s(self) -> float:
        return self.cycles * self.hw.cycle_ns * 1e-9

    @property
    def utilization(self) -> float:
        slots = self.cycles * self.hw.array.rows * self.hw.array.cols
        return self.totals.busy_pe_cycles / slots if slots else 0.0

    def to_json(self) -> dict[str, Any]:
        def with_total(parts: dict[str, float]) -> dict[str, float]:
            return {"total": sum(parts.values()), **parts}

        t = self.totals
        buffers = {}
        for name in BUFFERS:
            cap = self.hw.buffer(name).size_bytes
            mean = t.occupancy_integral[name] / self.cycles if self.cycles else 0.0
            buffers[name] = {"capacity_bytes": cap, "peak_bytes": t.peak[name],
                             "mean_bytes": mean, "peak_fraction": t.peak[name] / cap}
        return {
            "hardware": self.hw.name,
            "trace": {"workload": self.header.workload, "method": self.header.method,
                      "seed": self.header.seed},
            "ops": self.ops,
            "distinct_ops": self.distinct_ops,
            "total_cycles": self.cycles,
            "compute_cycles": t.compute_cycles,
            "stall_cycles": sum(t.stalls.values()),
            "stall_cycles_by_cause": dict(t.stalls),
            "latency_s": self.latency_s,
            "utilization": self.utilization,
            "macs": t.macs,
            "energy_pj": with_total(t.energy),
            "energy_pj_by_layer": {k: with_total(v) for k, v in t.layer_energy.items()},
            "energy_pj_by_phase": {k: with_total(v) for k, v in t.phase_energy.items()},
            "energy_pj_by_layer_phase": {k: dict(v) for k, v in t.layer_phase_energy.items()},
            "energy_pj_by_tensor": dict(t.tensor_energy),
            "energy_pj_by_kind": dict(t.kind_energy),
            "cycles_by_kind": dict(t.kind_cycles),
            "busy_cycles_by_unit": dict(t.unit_busy),
            "cycles_by_layer": dict(t.layer_cycles),
            "cycles_by_phase": dict(t.phase_cycles),
            "cycles_by_iteration": [self.iteration_cycles[i] for i in sorted(self.iteration_cycles)],
            "energy_pj_by_iteration": [self.iteration_energy[i]
                                       for i in sorted(self.iteration_energy)],
            "dram_bytes_by_tensor": {k: dict(v) for k, v in t.tensor_bytes.items()},
            "dram": asdict(t.dram),
            "buffers": buffers,
        }


def op_energy(hw: Hardware, actions: Any, executions: int, held: float) -> float:
    """pJ of ``executions`` of an op holding the machine ``held`` cycles: its actions and the
    power of the time it holds (what ``Totals`` adds up by component)."""
    return executions * actions.total + sum(time_energy(hw, held).values())


def _kind(op: Any) -> str:
    """``gemm``, ``transfer``, or ``vector:KIND`` (``vector:batchnorm``), for the breakdown."""
    return f"vector:{op.kind}" if op.op == "vector" else op.op
