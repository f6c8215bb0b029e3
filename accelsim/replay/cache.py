"""Costs of distinct ops on one machine: each distinct op is simulated once.

Identical ops (same shape and widths, whatever their layer, phase or iteration) cost the same,
so each distinct signature goes through the cost model once and later ones reuse its result; a
training trace with thousands of iterations repeats a few dozen shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accelsim.energy.model import Energy, action_energy
from accelsim.hardware.model import Hardware
from accelsim.sim.costs import OpCost
from accelsim.sim.ops import simulate

CostModel = Callable[[Hardware, Any], OpCost]


class CostCache:
    """``cache(op)`` -> (cost of one execution, its action energy)."""

    def __init__(self, hw: Hardware, cost_model: CostModel = simulate):
        self.hw = hw
        self.cost_model = cost_model
        self._costs: dict[tuple, tuple[OpCost, Energy]] = {}
        self.misses = 0

    def __call__(self, op: Any) -> tuple[OpCost, Energy]:
        key = op.signature()
        hit = self._costs.get(key)
        if hit is None:
            self.misses += 1
            cost = self.cost_model(self.hw, op)
            hit = self._costs[key] = (cost, action_energy(self.hw, op, cost))
        return hit
