"""The replay: a trace through a machine, as a pipeline above the simulator.

ops -> cost model (``CostCache`` over ``sim.ops.simulate``) -> schedule (each op's start and
end) -> energy (its actions, and the power of the time it holds the machine) -> report. Each
stage is a choice: the cost model (the SimPy event model today; closed forms where they are
exact) and the schedule (serial, or overlapping neighbours: ``schedule.overlap_ops``).
"""

from accelsim.replay.cache import CostCache
from accelsim.replay.pipeline import Replayer, iterations, placed_ops, replay
from accelsim.replay.schedule import OverlapSchedule, Placed, SerialSchedule, schedule_for

__all__ = ["CostCache", "OverlapSchedule", "Placed", "Replayer", "SerialSchedule", "iterations",
           "placed_ops", "replay", "schedule_for"]
