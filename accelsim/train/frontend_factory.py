"""Which front-end a workload's model runs on: accelsim's numpy layers (``model.name``) or a
PyTorch module (``model.torch``, the torch extra). Everything after this choice (methods, the
loop, the tracer, the memory model) sees only the ``Frontend`` interface."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from accelsim.errors import WorkloadError

if TYPE_CHECKING:
    from accelsim.train.interfaces import Frontend
    from accelsim.train.workload import ModelSpec


def build_frontend(model: ModelSpec, input_shape: tuple[int, ...], classes: int,
                   rng: np.random.Generator, *, variant: str | None = None) -> Frontend:
    """The workload's network, in the form a method's ``variant`` asks for."""
    if model.torch:
        try:
            from accelsim.train.torch_frontend import TorchFrontend
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            raise WorkloadError(f"model.torch: {model.torch} needs PyTorch; install it with "
                                "pip install 'accelsim[torch]'") from None
        return TorchFrontend.build(model.torch, model.params, input_shape, classes, rng,
                                   variant=variant)
    from accelsim.train.numpy_frontend import NumpyFrontend

    return NumpyFrontend.build(model.name, model.params, input_shape, classes, rng,
                               variant=variant)
