"""The fast path of the GEMM event model: the same processes on a lean event kernel.

``engine.simulate_gemm`` runs three processes, ``dma_in``, ``array`` and ``write_back``, with
buffer slots as resources and the write-back queue as a store. Under SimPy every slot request,
release, timeout and store transfer is an event object of a class hierarchy, a heap entry and a
generator resume; here it is a small slotted object and a heap entry, which takes about a
quarter off simulating a planned GEMM (the rest is the DRAM controller and the model's own
bookkeeping, which both kernels share, as they share the planner). This module is a kernel
offering the
part of SimPy's API the engine uses (``Environment`` with ``now``, ``event``, ``timeout``,
``process`` and ``run(until=...)``; ``Resource``; ``Store``; ``AllOf``) with the same event
order and nothing else, and ``simulate_gemm`` runs the engine's own code on it: one model, two
kernels.

**When it applies**: to every GEMM the event model runs (both DRAM models, every dataflow,
precision mode, buffering and timing, any tile sequence, stalls or not). ``ops.simulate``
prices GEMMs with it; ``engine.simulate_gemm`` on SimPy stays the reference, and
``tests/sim/test_fast_path.py`` holds the two equal, every ``OpCost`` field, span and profile
included, over a sweep of shapes and machines.

**Why it is exact.** What the model reports is made of the times at which things happen (stalls,
spans, busy intervals, occupancy) and of the order of the calls into stateful objects at equal
times (the DRAM channel serves requests in call order; spans and per-operand counters are kept in
call order). Both follow from the order in which events are processed, which this kernel makes
SimPy's (4.x) by construction:

- events are processed by (time, priority, insertion number), ``URGENT`` before ``NORMAL``;
  times are computed by the same expressions (``now + delay``, the clock starting at int 0);
- a process starts with an ``URGENT`` initialisation event; it resumes when the event it
  yielded is processed, at once if that event was processed already, and its end is a
  ``NORMAL`` event at that time;
- ``timeout(d)`` is an event at ``now + d``; ``succeed`` schedules an event at ``now``;
- ``Resource.request`` queues the request (FIFO) and grants the head of the queue if a slot is
  free, scheduling it at ``now``; ``release`` frees the slot at once and schedules a release
  event, whose processing grants the head of the queue if a slot is free. SimPy grants at most
  that one request per trigger (``Resource._do_put`` returns nothing), and so does this kernel.
  (SimPy's request events also trigger the resource's pending releases when processed: there
  never are any, as a release completes when made.)
- ``Store.put`` stores the item and schedules a put event, whose processing hands the oldest
  item to the oldest waiting get; ``get`` succeeds at once if an item is stored;
- ``AllOf`` succeeds (an event at ``now``) when the last of its events is processed, and
  ``run(until=...)`` stops once that event is processed;
- a process that yields an event which is the next one the loop would process (the head of
  the queue, nobody else waiting for it, ``run`` not done) has it processed at once, the clock
  moving to its time, and goes on: the loop would do exactly that next. Most of a tile's
  events are such (a free slot granted now, a tile's timeout with nothing due before it), so
  this skips most round trips through the queue, exactly;
- ``Environment.trigger_at``, which the engine uses instead of a process when the kernel has
  it, schedules the events of the process it replaces at the same moments, less the end of
  that process, which nothing waits for: leaving out an event changes nobody's order.

Failures are not modelled: an exception inside a process (a ``SimulationError`` from the
channel) propagates at once, where SimPy re-raises a copy of it when the failed process is
processed; the error is the same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable
from heapq import heappop, heappush
from types import SimpleNamespace
from typing import Any

from accelsim.hardware.model import Hardware
from accelsim.sim.costs import OpCost
from accelsim.trace.records import Gemm

URGENT, NORMAL = 0, 1  # SimPy's event priorities


class Event:
    """An event: ``triggered`` once scheduled, ``callbacks`` None once processed."""

    __slots__ = ("callbacks", "env", "triggered", "value")

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.callbacks: list[Any] | None = []
        self.triggered = False
        self.value: Any = None

    def succeed(self, value: Any = None) -> Event:
        self.triggered = True
        self.value = value
        env = self.env
        env.eid += 1
        heappush(env.queue, (env.now, NORMAL, env.eid, self))
        return self


class Process(Event):
    """A generator resumed with the value of each event it yields, once that is processed."""

    __slots__ = ("generator",)

    def __init__(self, env: Environment, generator: Generator[Event, Any, Any]) -> None:
        super().__init__(env)
        self.generator = generator
        init = Event(env)
        init.triggered = True
        init.callbacks = [self.resume]
        env.eid += 1
        heappush(env.queue, (env.now, URGENT, env.eid, init))

    def resume(self, event: Event) -> None:
        send = self.generator.send
        env = self.env
        queue = env.queue
        while True:
            try:
                event = send(event.value)
            except StopIteration as stop:
                self.succeed(stop.value)
                return
            callbacks = event.callbacks
            if callbacks is None:  # processed already: go on at once
                continue
            if not callbacks and queue and queue[0][3] is event and env.until is not None \
                    and env.until.callbacks is not None:
                # The next event the run loop would process, and only this process waits
                # for it: process it here (the clock moves to it), which is what the loop
                # would do next, without the round trip through it.
                env.now = heappop(queue)[0]
                event.callbacks = None
                continue
            callbacks.append(self.resume)  # not processed yet: wait for it
            return


class Environment:
    """The clock and the event queue: (time, priority, insertion number, event)."""

    __slots__ = ("eid", "now", "queue", "until")

    def __init__(self) -> None:
        self.now: Any = 0  # SimPy's clock starts at the integer 0
        self.queue: list[tuple[Any, int, int, Event]] = []
        self.eid = 0
        self.until: Event | None = None  # what ``run`` runs until

    def event(self) -> Event:
        return Event(self)

    def timeout(self, delay: Any) -> Event:
        event = Event(self)
        event.triggered = True
        self.eid += 1
        heappush(self.queue, (self.now + delay, NORMAL, self.eid, event))
        return event

    def process(self, generator: Generator[Event, Any, Any]) -> Process:
        return Process(self, generator)

    def trigger_at(self, event: Event, when: Any) -> None:
        """What ``process(at(event, when))`` does, ``at`` being ``yield timeout(max(0.0,
        when - now)); event.succeed()``, without the generator: the process's start (an
        ``URGENT`` event now), its timeout (scheduled when it starts), the trigger (when the
        timeout is processed). Its end, an event nobody waits for, is left out."""

        def fire(_: Any) -> None:
            event.succeed()

        def start(_: Any) -> None:
            self.timeout(max(0.0, when - self.now)).callbacks.append(fire)  # type: ignore

        init = Event(self)
        init.triggered = True
        init.callbacks = [start]
        self.eid += 1
        heappush(self.queue, (self.now, URGENT, self.eid, init))

    def run(self, until: Event) -> None:
        """Process events until ``until`` has been processed."""
        queue = self.queue
        self.until = until
        while until.callbacks is not None:
            if not queue:
                raise RuntimeError("no scheduled events left but the until event was not "
                                   "triggered")
            self.now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:  # type: ignore[union-attr]
                callback(event)


class Resource:
    """``simpy.Resource``: ``capacity`` users, FIFO requests."""

    __slots__ = ("capacity", "env", "put_queue", "users")

    def __init__(self, env: Environment, capacity: int = 1) -> None:
        self.env, self.capacity = env, capacity
        self.users: list[Event] = []
        self.put_queue: deque[Event] = deque()

    def request(self) -> Event:
        request = Event(self.env)
        self.put_queue.append(request)
        self._trigger_put(None)
        return request

    def release(self, request: Event) -> Event:
        if request in self.users:
            self.users.remove(request)
        release = Event(self.env)
        release.callbacks = [self._trigger_put]
        return release.succeed()

    def _trigger_put(self, _: Any) -> None:
        if self.put_queue and len(self.users) < self.capacity:
            request = self.put_queue.popleft()
            self.users.append(request)
            request.succeed()


class Store:
    """``simpy.Store`` of unbounded capacity: FIFO items, FIFO gets."""

    __slots__ = ("env", "get_queue", "items")

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.items: deque[Any] = deque()
        self.get_queue: deque[Event] = deque()

    def put(self, item: Any) -> Event:
        self.items.append(item)
        put = Event(self.env)
        put.callbacks = [self._trigger_get]
        return put.succeed()

    def get(self) -> Event:
        get = Event(self.env)
        self.get_queue.append(get)
        self._trigger_get(None)
        return get

    def _trigger_get(self, _: Any) -> None:
        if self.get_queue and self.items:
            self.get_queue.popleft().succeed(self.items.popleft())


class AllOf(Event):
    """Succeeds once every one of ``events`` has been processed."""

    __slots__ = ("pending",)

    def __init__(self, env: Environment, events: Iterable[Event]) -> None:
        super().__init__(env)
        events = list(events)
        self.pending = len(events)
        if not events:
            self.succeed()
        for event in events:
            if event.callbacks is None:
                self._check(event)
            else:
                event.callbacks.append(self._check)

    def _check(self, _: Any) -> None:
        if self.triggered:
            return
        self.pending -= 1
        if not self.pending:
            self.succeed()


LEAN = SimpleNamespace(Environment=Environment, Resource=Resource, Store=Store, AllOf=AllOf)


def simulate_gemm(hw: Hardware, op: Gemm) -> OpCost:
    """``engine.simulate_gemm`` on the lean kernel: the same cost, field for field."""
    from accelsim.sim.engine import simulate_gemm as event_model

    return event_model(hw, op, kernel=LEAN)
