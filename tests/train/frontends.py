"""Every front-end the method contract tests run against (``test_method_contract.py``).

Each entry builds a small classifier in the form a method asks for (``variant``) and a batch
for it: (front-end, inputs, labels). A new front-end (PyTorch, issue 12) adds an entry here and
inherits every contract test.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from fake_frontend import FakeFrontend

from accelsim.train.numpy_frontend import NumpyFrontend

BATCH, CLASSES = 8, 3


def fake(variant: str | None, rng: np.random.Generator):
    frontend = FakeFrontend.build(rng, variant)
    x = rng.standard_normal((BATCH, frontend.features)).astype(np.float32)
    return frontend, x, rng.integers(0, CLASSES, BATCH)


def numpy_layers(variant: str | None, rng: np.random.Generator):
    frontend = NumpyFrontend.build("mlp", {"hidden": 5}, (1, 2, 3), CLASSES, rng,
                                   variant=variant)
    x = rng.standard_normal((BATCH, 1, 2, 3)).astype(np.float32)
    return frontend, x, rng.integers(0, CLASSES, BATCH)


def torch_layers(variant: str | None, rng: np.random.Generator):
    torch = pytest.importorskip("torch")
    from accelsim.train.torch_frontend import TorchFrontend

    torch.manual_seed(int(rng.integers(1 << 31)))
    nn = torch.nn
    net = nn.Sequential(OrderedDict(flatten=nn.Flatten(), fc1=nn.Linear(6, 5), act1=nn.ReLU(),
                                    fc2=nn.Linear(5, CLASSES)))
    frontend = TorchFrontend.wrap(net, (1, 2, 3), CLASSES, variant=variant)
    x = rng.standard_normal((BATCH, 1, 2, 3)).astype(np.float32)
    return frontend, x, rng.integers(0, CLASSES, BATCH)


FRONTENDS = {"fake": fake, "numpy": numpy_layers, "torch": torch_layers}
