"""Width rules resolved for one method: the bits of every tensor by its place in the network.

What it owns: :func:`resolve`, which turns a width rule of ``accelsim.train.interfaces``
(``INPUT_WIDTH``, ``VALUE_WIDTH``, ``ERROR_WIDTH``, ``ACC_WIDTH`` or a number of bits) into bits,
and :func:`places`, the walk over a network's :class:`~accelsim.train.interfaces.LayerInfo`
records that says, for each layer, whose widths it stores at (its "owner": the last layer with
parameters at or before it, so a ReLU stores at its GEMM's widths), the width of the activation
arriving forward and of the error arriving backward. The training-memory model, the kept
transfers and the vector records all read widths through here, so they agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accelsim.train.interfaces import (
    ACC_WIDTH,
    ERROR_WIDTH,
    INPUT_WIDTH,
    VALUE_WIDTH,
    WIDTH_RULES,
    LayerInfo,
    Width,
)

if TYPE_CHECKING:
    from accelsim.train.methods.base import Method


def resolve(width: Width, owner: str, method: Method, arriving: int) -> int:
    """The bits ``width`` gives at a position owned by ``owner``, after ``arriving`` bits (the
    tensor flowing in, in the pass at hand)."""
    if isinstance(width, bool):
        pass  # not a width (bool is an int): fall through to the error
    elif isinstance(width, int):
        return width
    elif width == INPUT_WIDTH:
        return arriving
    elif width == VALUE_WIDTH:
        return method.value_bits(owner)
    elif width == ERROR_WIDTH:
        return method.bits(owner, "errors")
    elif width == ACC_WIDTH:
        return method.acc_bits
    rules = ", ".join(repr(rule) for rule in WIDTH_RULES)
    raise ValueError(f"unknown width rule {width!r} (want {rules} or a number of bits)")


@dataclass(frozen=True)
class Place:
    """A layer in a network trained by a method: its owner and the widths around it.

    ``arriving``: bits of the activation flowing in; ``arriving_fixed``: that activation is a
    fixed-width code (a Sign's +-1, perhaps pooled or flattened since), so it has no scale left
    to choose; ``out_bits``: bits of the layer's output; ``error_in``: bits of the error flowing
    in from the layer after it (the loss's, for the last layer); ``error_out``: bits of the
    error the layer passes back (its owner's error width).
    """

    info: LayerInfo
    owner: str
    arriving: int
    arriving_fixed: bool
    out_bits: int
    out_fixed: bool
    error_in: int
    error_out: int

    def resolve(self, width: Width, method: Method, backward: bool = False) -> int:
        """``width`` here, forward (the activation arrives) or backward (the error arrives)."""
        return resolve(width, self.owner, method, self.error_in if backward else self.arriving)


def places(layers: Sequence[LayerInfo], method: Method) -> list[Place]:
    """Each of ``layers`` (forward order) in its place: the walk every width ruler shares."""
    owner = next((info.name for info in layers if info.params), None)
    if owner is None:
        raise ValueError("a network needs at least one layer with parameters")
    width, fixed = method.input_bits(), False
    walked: list[tuple[LayerInfo, str, int, bool, int, bool]] = []
    for info in layers:
        if info.params:
            owner = info.name  # layers without parameters store at their producer's widths
        out = resolve(info.out_width, owner, method, width)
        out_fixed = isinstance(info.out_width, int) or (info.out_width == INPUT_WIDTH and fixed)
        walked.append((info, owner, width, fixed, out, out_fixed))
        width, fixed = out, out_fixed
    errors = [method.bits(w[1], "errors") for w in walked]
    # The error arriving at a layer is the one the layer after it wrote; the loss's gradient
    # arrives at the last layer at the last owner's error width.
    arriving_errors = errors[1:] + errors[-1:]
    return [Place(info, own, arriving, arriving_fixed, out, out_fixed, error_in, error_out)
            for (info, own, arriving, arriving_fixed, out, out_fixed), error_in, error_out
            in zip(walked, arriving_errors, errors, strict=True)]


def first_trained(layers: Sequence[LayerInfo]) -> int:
    """Index of the first layer with parameters: backward stops there (its input needs no
    gradient), so layers before it run no backward at all."""
    return next(n for n, info in enumerate(layers) if info.params)
