"""Costs of distinct ops on one machine: each distinct op is simulated once.

Identical ops (same shape and widths, whatever their layer, phase or iteration) cost the same,
so each distinct signature goes through the cost model once and later ones reuse its result; a
training trace with thousands of iterations repeats a few dozen shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accelsim.energy.model import Energy, action_energy, time_energy
from accelsim.hardware.model import Hardware
from accelsim.sim.costs import OpCost
from accelsim.sim.ops import simulate

CostModel = Callable[[Hardware, Any], OpCost]


class CostCache:
    """``cache(op)`` -> (cost of one execution, its action energy); ``energy(op, cost, held)``
    adds what the machine burns over ``held`` cycles."""

    def __init__(self, hw: Hardware, cost_model: CostModel = simulate):
        self.hw = hw
        self.cost_model = cost_model
        self._costs: dict[tuple, tuple[OpCost, Energy]] = {}
        self._energies: dict[tuple, Energy] = {}
        self.misses = 0

    def __call__(self, op: Any) -> tuple[OpCost, Energy]:
        key = op.signature()
        hit = self._costs.get(key)
        if hit is None:
            self.misses += 1
            cost = self.cost_model(self.hw, op)
            hit = self._costs[key] = (cost, action_energy(self.hw, op, cost))
        return hit

    def energy(self, op: Any, held: float) -> Energy:
        """The whole energy of one execution of ``op`` that holds the machine ``held`` cycles."""
        key = (op.signature(), held)
        hit = self._energies.get(key)
        if hit is None:
            _, actions = self(op)
            hit = Energy(dict(actions.components), dict(actions.by_operand))
            for component, pj in time_energy(self.hw, held).items():
                hit.components[component] += pj
            self._energies[key] = hit
        return hit
