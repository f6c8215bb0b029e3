"""The training-memory model against bytes counted by hand, on numpy networks (read through
the front-end's LayerInfo)."""

import numpy as np
import pytest

from accelsim.train.memory import training_memory
from accelsim.train.methods import METHODS
from accelsim.train.numpy_frontend import NumpyFrontend
from accelsim.train.workload import load_workload


def tiny(method, variant=None, batch=5):
    w = load_workload("mlp-digits")
    frontend = NumpyFrontend.build("mlp", {"hidden": 3}, (1, 2, 2), 2, np.random.default_rng(0),
                                   variant=variant)
    return training_memory(frontend.describe((batch, 1, 2, 2)),
                           METHODS[method](frontend, w, np.random.default_rng(1)))


def test_fp32_counted_by_hand():
    """Flatten -> fc1 (4->3, bias) -> ReLU -> fc2 (3->2, bias), batch 5, 32-bit everything.

    Parameters 15 + 8 = 23 (92 B), momentum 92 B. Kept for backward: fc1's input 20 values
    (80 B), ReLU's mask 15 bits (2 B), fc2's input 15 values (60 B), the softmax 10 (40 B).
    Forward peak at relu1: kept 82 + input 60 + output 60 = 202 (a GEMM layer's input is the
    tensor it keeps, counted once: at fc2, 142 + output 40 = 182). Backward at fc2: kept 182 +
    error in 60 + error out 40 + fc2's gradients 32 = 314; at relu1: 122 + 60 + 60 + 32 = 274;
    at fc1 (no input gradient): 120 + 60 + 0 + 92 = 272. Peak 314 + 184 = 498.
    """
    mem = tiny("fp32").to_json()
    assert mem["param_memory_bytes"] == 92 and mem["optimizer_state_bytes"] == 92
    assert mem["kept_by_kind_bytes"] == {"activations": 140, "mask": 2, "softmax": 40}
    assert mem["weight_grads_bytes"] == 92
    assert mem["peak_bytes"] == 498 and mem["peak_during"] == "backward, fc2"
    assert mem["forward_peak_bytes"] == 184 + 202  # the kept input counted once


def test_qat_keeps_activations_at_its_width():
    mem = tiny("qat").to_json()
    # fc1's input: the 8-bit network input (20 B); fc2's input: 15 8-bit values (15 B).
    assert mem["kept_by_kind_bytes"]["activations"] == 35
    assert mem["param_copies_bytes"] == {"master_weights": 92, "weights": 23}


def test_binary_networks_counted_by_hand():
    """Binary MLP: fc1 (4->3) -> bn1 -> sign1 -> fc2 (3->2) -> bn_out, no biases, batch 5."""
    std = tiny("bnn", "bnn").to_json()
    low = tiny("bnn-lowmem", "bnn-lowmem").to_json()
    # fc1 keeps the 8-bit input (20 B); fc2 keeps sign1's +-1 output, 15 bits (2 B).
    assert std["kept_by_kind_bytes"]["activations"] == 22 == low["kept_by_kind_bytes"]["activations"]
    # Standard: bn1's normalised values (15 x 32 bits) and bn_out's (10 x 32), sign1's input.
    assert std["kept_by_kind_bytes"]["normalised"] == 100
    assert std["kept_by_kind_bytes"]["sign_input"] == 60
    # Low-memory: one bit each, and sign1 keeps a 1-bit mask.
    assert low["kept_by_kind_bytes"]["normalised"] == 2 + 2
    assert low["kept_by_kind_bytes"]["mask"] == 2
    # Weights: 12 + 6 binarised (latent 32 or 16 bits, plus 1-bit copies); norms' 2x(3+2).
    assert std["param_copies_bytes"] == {"master_weights": 72, "weights": 3 + 40}
    assert low["param_copies_bytes"] == {"master_weights": 36, "weights": 3 + 20}
    assert low["peak_bytes"] < std["peak_bytes"]


def test_memory_grows_with_batch_but_parameters_do_not():
    small, large = tiny("fp32", batch=5).to_json(), tiny("fp32", batch=50).to_json()
    assert large["param_memory_bytes"] == small["param_memory_bytes"]
    assert large["kept_for_backward_bytes"] == pytest.approx(
        10 * small["kept_for_backward_bytes"], rel=0.05)
    assert large["peak_bytes"] > small["peak_bytes"]
