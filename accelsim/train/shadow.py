"""Shadow weights: the copy of the weights the GEMMs compute with, swapped over the stored ones.

Two methods train one set of weights while computing with another: QAT keeps fp32 master
weights and computes with their quantised copy, the binary methods keep real-valued latent
weights and compute with their signs. :class:`ShadowWeights` does that swap once for both, and
for any front-end: ``swap_in`` saves each parameter's stored value and writes the shadow
(``shadow_of(value)``) into the same storage through ``ParamRef.assign``; ``restore`` writes the
saved values back, so the framework's tensors keep their identity (a torch module forbids
rebinding them) and the optimizer updates the stored weights with the gradients computed
against the shadow (the straight-through estimator).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from accelsim.train.interfaces import ParamRef


class ShadowWeights:
    """Swap ``shadow_of(value)`` in over each of ``params`` and back."""

    def __init__(self, params: Sequence[ParamRef],
                 shadow_of: Callable[[np.ndarray], np.ndarray]):
        self.params = list(params)
        self.shadow_of = shadow_of
        self._saved: dict[str, np.ndarray] = {}  # p.name -> buffer holding its stored value
        self._swapped: list[ParamRef] = []

    @property
    def swapped(self) -> bool:
        """Whether the shadow is in the parameters' storage now."""
        return bool(self._swapped)

    def swap_in(self) -> None:
        """Save every stored value and put its shadow in its place; all or nothing (a shadow
        that fails puts back the ones already swapped)."""
        if self._swapped:
            raise RuntimeError("shadow weights are already swapped in; restore them first")
        try:
            for p in self.params:
                value = p.value()
                saved = self._saved.get(p.name)
                if saved is None:  # one buffer per parameter, reused every step
                    saved = self._saved[p.name] = np.empty_like(value)
                np.copyto(saved, value)
                shadow = self.shadow_of(value)
                self._swapped.append(p)
                p.assign(shadow)
        except BaseException:
            self.restore()
            raise

    def restore(self) -> None:
        """Put the saved values back (a no-op when nothing is swapped in)."""
        for p in self._swapped:
            p.assign(self._saved[p.name])
        self._swapped.clear()

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        self.swap_in()
        try:
            yield
        finally:
            self.restore()
