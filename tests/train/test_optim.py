"""SGD over ParamRefs: PyTorch's update rule by hand, the step_for/step split RCT relies on, the
state it exposes, and learning."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.train.layers import Linear, Parameter, ReLU, Sequential, SoftmaxCrossEntropy
from accelsim.train.numpy_frontend import NumpyFrontend, NumpyParam
from accelsim.train.optim import SGD


def param(value, grad=None, name="w"):
    grad = None if grad is None else np.array(grad, dtype=np.float64)
    return NumpyParam(Parameter(name, np.array(value, dtype=np.float64), grad), "layer")


def test_momentum_and_weight_decay_by_hand():
    p = param([1.0, -2.0], [0.5, 0.5])
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(3):
        d = p.grad() + 0.01 * w
        v = 0.9 * v + d  # from v = 0 the first step sets v = d, as PyTorch
        w = w - 0.1 * v
        opt.step()
        np.testing.assert_allclose(p.value(), w, rtol=1e-12)
        np.testing.assert_allclose(opt.state(p)["momentum"], v, rtol=1e-12)
    assert opt.state_elements() == 2


def test_plain_and_nesterov_steps():
    p = param([1.0], [2.0])
    SGD([p], lr=0.5).step()
    assert p.value()[0] == 0.0
    q = param([1.0], [2.0])
    opt = SGD([q], lr=0.5, momentum=0.5, nesterov=True)
    opt.step()  # v = 2, step = lr * (g + mu * v) = 0.5 * 3
    assert q.value()[0] == pytest.approx(-0.5)
    plain = SGD([param([1.0], [1.0])], lr=0.1)
    plain.step()
    assert plain.state_elements() == 0 and plain.state(plain.params[0]) == {}


def test_step_for_leaves_the_weights_alone_and_step_skips_parameters_without_gradients():
    p, idle = param([1.0], [1.0]), param([3.0], name="idle")
    storage = p.value()
    opt = SGD([p, idle], lr=0.25, momentum=0.5)
    assert opt.step_for(p)[0] == 0.25 and p.value()[0] == 1.0
    assert opt.state(p)["momentum"][0] == 1.0 and opt.state(idle) == {}
    opt.step()  # v = 0.5 * 1 + 1 = 1.5
    assert p.value()[0] == pytest.approx(1.0 - 0.25 * 1.5)
    assert p.value() is storage  # written in place
    assert idle.value()[0] == 3.0


def test_state_is_live_so_a_method_can_store_it_at_its_width():
    p = param([1.0, 1.0], [0.3, 0.7])
    opt = SGD([p], lr=0.1, momentum=0.5)
    opt.step()
    opt.state(p)["momentum"][...] = [0.25, 0.75]  # as a method rounds it in place
    opt.step()  # v = 0.5 * v + g
    np.testing.assert_allclose(opt.state(p)["momentum"], [0.425, 1.075])


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": 0.0}, "SGD: lr must be positive, got 0.0"),
    ({"lr": 0.1, "momentum": 1.0}, r"SGD: momentum must be in \[0, 1\), got 1.0"),
    ({"lr": 0.1, "weight_decay": -1}, "SGD: weight_decay must be >= 0, got -1"),
    ({"lr": 0.1, "nesterov": True}, "SGD: nesterov needs a momentum > 0"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD([param([1.0], [1.0])], **kwargs)


def test_no_parameters_and_no_gradient():
    with pytest.raises(ValueError, match="SGD got no parameters to optimise"):
        SGD([], lr=0.1)
    idle = param([1.0], name="idle")
    with pytest.raises(ValueError, match="SGD: parameter 'idle' has no gradient; run backward"):
        SGD([idle], lr=0.1).step_for(idle)


def test_a_small_network_learns(rng):
    """Two Gaussian blobs per class in 2-D: 60 SGD steps take the loss far below log(3)."""
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    labels = rng.integers(0, 3, 256)
    x = (centres[labels] + 0.4 * rng.standard_normal((256, 2))).astype(np.float32)
    net = Sequential([Linear(2, 16, rng=rng, name="h"), ReLU(), Linear(16, 3, rng=rng, name="o")])
    loss, opt = SoftmaxCrossEntropy(), SGD(NumpyFrontend(net).params(), lr=0.2, momentum=0.9,
                                           weight_decay=1e-4)
    first = loss.forward(net.forward(x), labels)
    for _ in range(60):
        last = loss.forward(net.forward(x), labels)
        net.backward(loss.backward())
        opt.step()
    assert first > 0.8 and last < 0.1


def test_training_is_deterministic_for_a_seed():
    def train(seed):
        rng = np.random.default_rng(seed)
        net = Sequential([Linear(4, 8, rng=rng, name="h"), ReLU(), Linear(8, 3, rng=rng)])
        x = rng.standard_normal((16, 4)).astype(np.float32)
        labels = rng.integers(0, 3, 16)
        loss, opt = SoftmaxCrossEntropy(), SGD(NumpyFrontend(net).params(), lr=0.1, momentum=0.9)
        for _ in range(5):
            loss.forward(net.forward(x), labels)
            net.backward(loss.backward())
            opt.step()
        return b"".join(p.value.tobytes() for p in net.parameters())

    assert train(3) == train(3)
    assert train(3) != train(4)
