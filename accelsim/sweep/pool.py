"""Worker processes for sweeps that survive a crashed point and never outlive their parent.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies (an
out-of-memory kill takes every pending point with it), lets Ctrl-C reach every worker, and
leaves workers running when its parent is killed. This pool instead:

- gives each worker its own pipe, so the parent always knows which item a worker holds; a
  worker that dies is reported as that item's failure and replaced, and the pool goes on;
- keeps Ctrl-C (SIGINT) away from workers: the parent decides, and ``close`` stops them
  (SIGTERM, then SIGKILL after ``grace`` seconds);
- asks the kernel to kill each worker when its parent dies (Linux ``PR_SET_PDEATHSIG``), so
  even ``kill -9`` of the parent leaves no orphan;
- pulls work from an iterator lazily: a huge grid is never materialised.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

SIGNAL_NAMES = {signal.SIGKILL: "SIGKILL, e.g. the out-of-memory killer",
                signal.SIGSEGV: "SIGSEGV", signal.SIGTERM: "SIGTERM", signal.SIGABRT: "SIGABRT"}


class WorkerDied(Exception):
    """The worker holding an item exited before answering."""


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to this process when its parent thread exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(fn: Callable[[Any], Any], conn: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        return
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result: tuple[bool, Any] = (True, fn(item))
        except Exception as exc:  # reported as the item's failure
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            result = (False, detail[:500])
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            return


class _Slot:
    """One worker process, its pipe and the item it holds (None when idle)."""

    def __init__(self, ctx: Any, fn: Callable[[Any], Any]):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(fn, child, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.item: Any = None
        self.busy = False

    def give(self, item: Any) -> None:
        self.item, self.busy = item, True
        self.conn.send(item)

    def death(self) -> str:
        self.process.join(0.1)
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"worker died of signal {-code} ({SIGNAL_NAMES.get(-code, 'killed')})"
        return f"worker exited with status {code}"


class WorkerPool:
    """``with WorkerPool(fn, 2) as pool: for item, ok, value in pool.run(items): ...``

    ``fn`` must be importable (spawned workers import it by name). ``ok`` is False when ``fn``
    raised (``value`` is the exception's one-line text) or the worker died (``value`` says how);
    either way the pool carries on with the next item.
    """

    def __init__(self, fn: Callable[[Any], Any], workers: int, grace: float = 1.0):
        self.fn, self.size, self.grace = fn, max(1, workers), grace
        self.ctx = mp.get_context("spawn")  # no inherited threads or locks; same on every OS
        self.slots: list[_Slot] = []

    def run(self, items: Iterable[Any]) -> Iterator[tuple[Any, bool, Any]]:
        pending = iter(items)
        exhausted = False
        self.slots = [_Slot(self.ctx, self.fn) for _ in range(self.size)]

        def feed(slot: _Slot) -> None:
            nonlocal exhausted
            if exhausted:
                return
            item = next(pending, _END)
            if item is _END:
                exhausted = True
            else:
                slot.give(item)

        for slot in self.slots:
            feed(slot)
        while any(slot.busy for slot in self.slots):
            by_conn = {slot.conn: slot for slot in self.slots if slot.busy}
            by_sentinel = {slot.process.sentinel: slot for slot in self.slots if slot.busy}
            for ready in wait([*by_conn, *by_sentinel]):
                found = by_conn.get(ready) or by_sentinel.get(ready)  # type: ignore[call-overload]
                if found is None or not found.busy:
                    continue
                slot = found
                try:
                    ok, value = slot.conn.recv() if ready in by_conn else _dead(slot)
                except (EOFError, OSError):
                    ok, value = _dead(slot)
                item = slot.item
                slot.item, slot.busy = None, False
                if not slot.process.is_alive():
                    slot.conn.close()
                    index = self.slots.index(slot)
                    slot = self.slots[index] = _Slot(self.ctx, self.fn)
                feed(slot)
                yield item, ok, value

    def close(self) -> None:
        """Stop every worker: SIGTERM, then SIGKILL for those still alive after ``grace``."""
        live = [slot.process for slot in self.slots if slot.process.is_alive()]
        for process in live:
            process.terminate()
        deadline = _now() + self.grace
        for process in live:
            process.join(max(0.0, deadline - _now()))
        for process in live:
            if process.is_alive():
                process.kill()
                process.join(1.0)
        for slot in self.slots:
            slot.conn.close()
        self.slots = []

    def kill(self) -> None:
        """Stop every worker at once (a second Ctrl-C)."""
        for slot in self.slots:
            if slot.process.is_alive():
                slot.process.kill()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_END = object()


def _dead(slot: _Slot) -> tuple[bool, str]:
    return False, slot.death()


def _now() -> float:
    import time

    return time.monotonic()
