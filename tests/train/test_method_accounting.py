"""What each method holds and moves, counted by hand on the fake front-end: parameter copies,
gradients and optimizer state (``Method.memory``), the update's DRAM traffic
(``Method.update_transfers``), and the training-memory model reading the fake's ``LayerInfo``.

The fake (``fake_frontend.py``), batch 8: fc1 6 -> 5 (30 weights + 5 biases), act1, fc2 5 -> 3
(15 + 3); the binary form has no biases and a 3-value scale after fc2.
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_frontend import FakeFrontend

from accelsim.train.memory import training_memory
from accelsim.train.methods import METHODS
from accelsim.train.workload import load_workload

BATCH = 8


def make(method: str, *overrides: str):
    cls = METHODS[method]
    frontend = FakeFrontend.build(np.random.default_rng(0), cls.variant)
    return cls(frontend, load_workload("mlp-digits", list(overrides)),
               np.random.default_rng(1)), frontend


def test_parameter_memory_per_method():
    fp32 = make("fp32")[0].memory()
    assert fp32["param_copies_bytes"] == {"weights": 53 * 4}
    assert fp32["weight_grads_bytes"] == fp32["optimizer_state_bytes"] == 53 * 4
    assert fp32["parameters"] == 53
    qat = make("qat")[0].memory()
    assert qat["param_copies_bytes"] == {"master_weights": 53 * 4, "weights": 35 + 18}
    rct, _ = make("rct")
    rct.layer_bits = {"fc1": 5, "fc2": 7}
    m = rct.memory()
    assert m["param_copies_bytes"] == {"weights": (35 * 5 + 7) // 8 + (18 * 7 + 7) // 8}
    assert m["weight_grads_bytes"] == m["optimizer_state_bytes"] == 53 * 2
    low = make("bnn-lowmem")[0].memory()
    # fc1, fc2: 16-bit latents and 1-bit weights; the scale: one 16-bit copy
    assert low["param_copies_bytes"] == {"master_weights": (30 + 15) * 2,
                                         "weights": 4 + 2 + 3 * 2}
    assert low["weight_grads_bytes"] == 4 + 2 + 1  # scaled signs: 1 bit each
    assert make("qat", "optimizer.momentum=0")[0].memory()["optimizer_state_bytes"] == 0


def summary(method: str) -> list[tuple]:
    obj, _ = make(method)
    return [(t.tensor, t.dir, t.bits, t.elements) for t in obj.update_transfers(3)
            if t.layer == "fc2"]


def test_update_transfers_per_method():
    assert summary("fp32") == [("weights", "read", 32, 18), ("weight_grads", "read", 32, 18),
                               ("optimizer_state", "read", 32, 18),
                               ("optimizer_state", "write", 32, 18), ("weights", "write", 32, 18)]
    assert summary("qat") == [("master_weights", "read", 32, 18),
                              ("weight_grads", "read", 32, 18),
                              ("optimizer_state", "read", 32, 18),
                              ("optimizer_state", "write", 32, 18),
                              ("master_weights", "write", 32, 18), ("weights", "write", 8, 18)]
    assert summary("rct") == [("weights", "read", 8, 18), ("weight_grads", "read", 16, 18),
                              ("optimizer_state", "read", 16, 18),
                              ("optimizer_state", "write", 16, 18), ("weights", "write", 8, 18)]
    assert summary("bnn-lowmem") == [("master_weights", "read", 16, 15),
                                     ("weight_grads", "read", 1, 15),
                                     ("optimizer_state", "read", 16, 15),
                                     ("optimizer_state", "write", 16, 15),
                                     ("master_weights", "write", 16, 15),
                                     ("weights", "write", 1, 15)]
    obj, _ = make("fp32")
    assert {t.iter for t in obj.update_transfers(3)} == {3}
    assert {t.phase for t in obj.update_transfers(3)} == {"update"}


def test_fp32_training_memory_counted_by_hand():
    """Static: 53 parameters (212 B) and their momentum (212 B). Kept: fc1's input 48 values
    (192 B), act1's mask 40 bits (5 B), fc2's input 40 values (160 B), the softmax 24 (96 B).
    Forward peak at act1: kept 197 + input 160 + output 160 = 517. Backward at fc2: kept 453 +
    error in 96 + error out 160 + fc2's gradients 72 = 781, the peak."""
    fp32, frontend = make("fp32")
    mem = training_memory(frontend.describe((BATCH, 6)), fp32).to_json()
    assert mem["batch_size"] == BATCH
    assert mem["kept_by_kind_bytes"] == {"activations": 352, "mask": 5, "softmax": 96}
    assert [(k["layer"], k["what"]) for k in mem["kept_by_layer"]] == [
        ("fc1", "activations"), ("act1", "mask"), ("fc2", "activations"), ("loss", "softmax")]
    assert mem["forward_peak_bytes"] == 424 + 517
    assert mem["peak_bytes"] == 424 + 781 and mem["peak_during"] == "backward, fc2"
    assert mem["weight_grads_bytes"] == 212


@pytest.mark.parametrize(("method", "kept"), [
    # fc1 keeps the 8-bit input (48 B), fc2 the +-1 signs (40 bits); the scale keeps its input
    # at the value width and the softmax sits at the error width (32, or 16 for lowmem)
    ("bnn", {"activations": 48 + 5, "sign_input": 40 * 4, "normalised": 24 * 4,
             "softmax": 24 * 4}),
    ("bnn-lowmem", {"activations": 48 + 5, "mask": 5, "normalised": 24 * 2, "softmax": 24 * 2}),
])
def test_binary_training_memory_reads_the_width_rules(method, kept):
    obj, frontend = make(method)
    mem = training_memory(frontend.describe((BATCH, 6)), obj).to_json()
    assert mem["kept_by_kind_bytes"] == kept


def test_a_width_rule_the_model_does_not_know_is_an_error():
    fp32, frontend = make("fp32")
    fc1, act, fc2 = frontend.describe((BATCH, 6))
    bad = act._replace(out_width="double")
    with pytest.raises(ValueError, match="unknown width rule 'double'"):
        training_memory((fc1, bad, fc2), fp32)
