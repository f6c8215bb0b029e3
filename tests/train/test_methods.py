"""Training methods on the numpy front-end: parameter memory of a real network by hand and a
binary trace end to end. Each method's policy against every front-end is in
``test_method_contract.py``, its accounting by hand in ``test_method_accounting.py``."""

import numpy as np

from accelsim.train.methods import METHODS
from accelsim.train.numpy_frontend import NumpyFrontend
from accelsim.train.workload import load_workload


def make(method):
    w = load_workload("mlp-digits")
    frontend = NumpyFrontend.build("mlp", {"hidden": 8}, (1, 8, 8), 10, np.random.default_rng(0))
    return METHODS[method](frontend, w, np.random.default_rng(1)), frontend


# mlp 64 -> 8 -> 10: fc1 has 64*8 + 8 = 520 parameters, fc2 8*10 + 10 = 90.
def test_memory_counted_by_hand():
    fp32, _ = make("fp32")
    assert fp32.memory()["param_memory_bytes"] == 610 * 4
    assert fp32.memory()["optimizer_state_bytes"] == 610 * 4
    qat, _ = make("qat")
    m = qat.memory()
    assert m["param_copies_bytes"] == {"master_weights": 610 * 4, "weights": 610}
    assert m["param_memory_bytes"] == 610 * 5
    rct, _ = make("rct")
    rct.layer_bits = {"fc1": 5, "fc2": 7}
    m = rct.memory()
    assert m["param_copies_bytes"] == {"weights": (520 * 5 + 7) // 8 + (90 * 7 + 7) // 8}
    assert m["weight_grads_bytes"] == 610 * 2 and m["optimizer_state_bytes"] == 610 * 2


def test_binary_gemms_are_one_bit_except_the_input(tmp_path):
    from accelsim.trace import Gemm, read_trace
    from accelsim.train.trainer import train

    w = load_workload("mlp-digits", ["epochs=1", "dataset.params.synthetic=true"])
    metrics = train(w, "bnn-lowmem", tmp_path)
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    first = {(op.layer, op.phase): op for op in ops if isinstance(op, Gemm) and op.iter == 0}
    assert (first["fc1", "fwd"].a_bits, first["fc1", "fwd"].b_bits) == (8, 1)
    assert (first["fc2", "fwd"].a_bits, first["fc2", "fwd"].b_bits) == (1, 1)
    assert (first["fc2", "bwd_data"].a_bits, first["fc2", "bwd_data"].b_bits) == (16, 1)
    assert first["fc2", "bwd_weight"].out_bits == 1  # scaled-sign gradients
    assert metrics["training_memory"]["kept_by_kind_bytes"]["mask"] > 0
