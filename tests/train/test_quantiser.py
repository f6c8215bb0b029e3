"""The operand quantiser a method installs as a GEMM hook: a tensor two GEMMs of a batch share
is quantised once, the same values and the same stochastic draw reaching both."""

import numpy as np

from accelsim.train.gemm import GemmOp
from accelsim.train.methods import METHODS
from accelsim.train.numpy_frontend import NumpyFrontend
from accelsim.train.quant import quantise
from accelsim.train.workload import load_workload


def qat():
    frontend = NumpyFrontend.build("mlp", {"hidden": 8}, (1, 8, 8), 10, np.random.default_rng(0))
    return METHODS["qat"](frontend, load_workload("mlp-digits"), np.random.default_rng(1))


def test_quantiser_reuses_a_tensor_across_gemms_exactly():
    method = qat()
    hook = method.observer()
    rng = np.random.default_rng(3)
    cols = rng.normal(size=(25, 40)).astype(np.float32)  # a patch matrix [K, P]
    errors = rng.normal(size=(40, 6)).astype(np.float32)
    weights = quantise(rng.normal(size=(25, 6)).astype(np.float32), 8).values
    fwd = GemmOp("fc1", "fwd", m=40, n=6, k=25)
    _, qa_fwd, qb = hook.operands(fwd, cols.T, weights)  # A is the transposed view
    assert np.array_equal(qa_fwd, quantise(cols.T, 8).values)
    assert qb is weights  # already on its grid: passed through
    bwd_w = GemmOp("fc1", "bwd_weight", m=25, n=6, k=40)
    _, qa_bw, qe_bw = hook.operands(bwd_w, cols, errors)
    assert np.array_equal(qa_bw, qa_fwd.T)  # the same quantised patch matrix
    bwd_d = GemmOp("fc1", "bwd_data", m=40, n=25, k=6)
    _, qe_bd, _ = hook.operands(bwd_d, errors, weights.T)
    assert np.array_equal(qe_bd, qe_bw)  # one stochastic draw for the one error tensor
    method.begin_batch()
    _, qe_next, _ = hook.operands(bwd_d, errors, weights.T)
    assert not np.array_equal(qe_next, qe_bw)  # a new batch draws afresh
