"""Every front-end the method contract tests run against (``test_method_contract.py``).

Each entry builds a small classifier in the form a method asks for (``variant``) and a batch
for it: (front-end, inputs, labels). A new front-end (PyTorch, issue 12) adds an entry here and
inherits every contract test.
"""

from __future__ import annotations

import numpy as np
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


FRONTENDS = {"fake": fake, "numpy": numpy_layers}
