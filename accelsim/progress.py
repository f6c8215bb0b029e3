"""Progress of long work (training, replay, sweeps) on a terminal; silent anywhere else.

A thin front to tqdm, which already does what a hand-written bar does badly: rates and time
left, the terminal's width, redraws that never flood a slow terminal, and staying off logs and
pipes (``disable=None`` draws only on a TTY), so CI output stays clean. tqdm is imported only
when a bar is drawn.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


class Progress:
    """``with Progress(total, "replay") as bar: bar.update(done); bar.note(loss=0.3)``.

    ``update`` takes the absolute count done so far; ``total`` None counts without an end (a
    trace read as it streams). ``enabled`` None means "on a terminal".
    """

    def __init__(self, total: int | None, label: str, stream: TextIO | None = None,
                 enabled: bool | None = None, unit: str = "it"):
        self.stream = stream or sys.stderr
        self.enabled = _is_tty(self.stream) if enabled is None else enabled
        self.done = 0
        self._bar: Any = None
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=None if total is None else max(total, 1), desc=label, file=self.stream, unit=unit,
                             dynamic_ncols=True, leave=True, mininterval=0.2,
                             smoothing=0.1)

    def update(self, done: int) -> None:
        if self._bar is not None and done > self.done:
            self._bar.update(done - self.done)
        self.done = max(self.done, done)

    def note(self, **fields: Any) -> None:
        """Show ``fields`` after the bar (e.g. epoch and loss)."""
        if self._bar is not None:
            self._bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v)
                                   for k, v in fields.items()}, refresh=False)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
