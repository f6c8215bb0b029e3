"""Adam over ParamRefs: Kingma & Ba's rule by hand and against ``torch.optim.Adam``, the
step_for/step split, and what each method makes of its two moments: the widths it stores them
at, the memory they take, and the update's vector work and traffic in the trace."""

from __future__ import annotations

import numpy as np
import pytest
from frontends import FRONTENDS
from test_vectors import run

from accelsim.trace import Transfer
from accelsim.train.layers import Linear, Parameter, ReLU, Sequential, SoftmaxCrossEntropy
from accelsim.train.layers.loss import SoftmaxCrossEntropy as Loss
from accelsim.train.memory import training_memory
from accelsim.train.methods import METHODS
from accelsim.train.methods.base import build_optimizer
from accelsim.train.methods.moments import quantise_nonnegative
from accelsim.train.numpy_frontend import NumpyFrontend, NumpyParam
from accelsim.train.optim import SGD, Adam, UpdateStep
from accelsim.train.quant import quantise
from accelsim.train.workload import load_workload

ADAM = ["optimizer.name=adam", "optimizer.lr=0.002"]


def param(value, grad=None, name="w", dtype=np.float64):
    grad = None if grad is None else np.array(grad, dtype=dtype)
    return NumpyParam(Parameter(name, np.array(value, dtype=dtype), grad), "layer")


# ---- the rule ------------------------------------------------------------------------------------

def adam_by_hand(w, grads, *, lr, beta1, beta2, eps, decay):
    """Algorithm 1 of Kingma & Ba (2015) with L2 decay added to the gradient (PyTorch's Adam),
    in float64: the weights and both moments after each step."""
    m, v, out = np.zeros_like(w), np.zeros_like(w), []
    for t, g in enumerate(grads, start=1):
        d = g + decay * w
        m = beta1 * m + (1 - beta1) * d
        v = beta2 * v + (1 - beta2) * d * d
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append((w, m, v))
    return out


def test_adam_by_hand():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) * 10.0 ** -k for k in range(6)]  # shrinking gradients
    settings = {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6}
    p = param(w0)
    opt = Adam([p], weight_decay=0.01, **settings)
    for t, (g, (w, m, v)) in enumerate(zip(grads, adam_by_hand(
            w0, grads, decay=0.01, **settings), strict=True), start=1):
        p.set_grad(g.copy())
        opt.step()
        np.testing.assert_allclose(p.value(), w, rtol=1e-12)
        np.testing.assert_allclose(opt.state(p)["m"], m, rtol=1e-12)
        np.testing.assert_allclose(opt.state(p)["v"], v, rtol=1e-12)
        assert opt.steps_taken(p) == t
    assert opt.state_elements() == 10


def test_the_first_step_moves_every_weight_by_about_lr():
    """Bias correction: at t = 1, m_hat / sqrt(v_hat) = sign(g), whatever the gradient's size."""
    p = param([1.0, 1.0, 1.0], [3.0, -1e-3, 1e-6])
    Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.value(), [0.9, 1.0 + 0.1 * 1e-3 / (1e-3 + 1e-8),
                                           1.0 - 0.1 * 1e-6 / (1e-6 + 1e-8)])


@pytest.mark.parametrize("decay", [0.0, 0.05])
def test_adam_matches_torch(decay):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    steps = [[(rng.standard_normal(s) * 10.0 ** rng.integers(-5, 2)).astype(np.float32)
              for s in shapes] for _ in range(8)]
    ours = [param(w.copy(), name=f"p{i}", dtype=np.float32) for i, w in enumerate(init)]
    opt = Adam(ours, lr=0.01, beta1=0.85, beta2=0.99, eps=1e-7, weight_decay=decay)
    theirs = [torch.nn.Parameter(torch.tensor(w.copy())) for w in init]
    reference = torch.optim.Adam(theirs, lr=0.01, betas=(0.85, 0.99), eps=1e-7,
                                 weight_decay=decay)
    for grads in steps:
        for p, t, g in zip(ours, theirs, grads, strict=True):
            p.set_grad(g.copy())
            t.grad = torch.tensor(g.copy())
        opt.step()
        reference.step()
        for p, t in zip(ours, theirs, strict=True):
            assert p.value().dtype == np.float32
            np.testing.assert_allclose(p.value(), t.detach().numpy(), rtol=1e-5, atol=1e-7)
            state = reference.state[t]
            np.testing.assert_allclose(opt.state(p)["m"], state["exp_avg"].numpy(),
                                       rtol=1e-5, atol=1e-9)
            np.testing.assert_allclose(opt.state(p)["v"], state["exp_avg_sq"].numpy(),
                                       rtol=1e-5, atol=1e-12)
            assert opt.steps_taken(p) == int(state["step"])


def test_step_for_leaves_the_weights_alone_and_step_skips_parameters_without_gradients():
    p, idle = param([1.0], [2.0]), param([3.0], name="idle")
    storage = p.value()
    opt = Adam([p, idle], lr=0.5)
    assert opt.state(p) == {} and opt.steps_taken(p) == 0
    assert opt.step_for(p)[0] == pytest.approx(0.5 * 2.0 / (2.0 + 1e-8))
    assert p.value()[0] == 1.0 and opt.steps_taken(p) == 1
    opt.step()
    assert p.value() is storage and opt.steps_taken(p) == 2
    assert idle.value()[0] == 3.0 and opt.state(idle) == {} and opt.steps_taken(idle) == 0


def test_state_is_live_so_a_method_can_store_it_at_its_width():
    p = param([1.0, 1.0], [0.5, 0.25])
    opt = Adam([p], lr=0.1, beta1=0.5, beta2=0.5)
    opt.step()  # m = 0.5 g, v = 0.5 g^2
    opt.state(p)["m"][...] = [1.0, 1.0]
    opt.state(p)["v"][...] = [4.0, 4.0]
    opt.step()
    np.testing.assert_allclose(opt.state(p)["m"], [0.75, 0.625])
    np.testing.assert_allclose(opt.state(p)["v"], [2.125, 2.03125])


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": 0.0}, "Adam: lr must be positive, got 0.0"),
    ({"lr": 0.1, "beta1": 1.0}, r"Adam: beta1 must be in \[0, 1\), got 1.0"),
    ({"lr": 0.1, "beta2": -0.1}, r"Adam: beta2 must be in \[0, 1\), got -0.1"),
    ({"lr": 0.1, "eps": 0.0}, "Adam: eps must be positive, got 0.0"),
    ({"lr": 0.1, "weight_decay": -1}, "Adam: weight_decay must be >= 0, got -1"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adam([param([1.0], [1.0])], **kwargs)


def test_no_parameters_and_no_gradient():
    with pytest.raises(ValueError, match="Adam got no parameters to optimise"):
        Adam([], lr=0.1)
    idle = param([1.0], name="idle")
    with pytest.raises(ValueError, match="Adam: parameter 'idle' has no gradient; run backward"):
        Adam([idle], lr=0.1).step_for(idle)


def test_what_it_keeps_and_computes():
    opt = Adam([param([1.0], [1.0])], lr=0.1)
    assert opt.state_kinds() == ("m", "v") and opt.nonnegative_state == {"v"}
    assert opt.vector_kind == "adam_update"
    assert opt.vector_steps() == (UpdateStep("state", ("grad", "state"), 3),
                                  UpdateStep("state", ("state",), 4),
                                  UpdateStep("weights", ("weights",), 6))
    decayed = Adam([param([1.0], [1.0])], lr=0.1, weight_decay=0.1)
    assert decayed.vector_steps()[0] == UpdateStep("state", ("grad", "state", "weights"), 5)
    sgd = SGD([param([1.0], [1.0])], lr=0.1, momentum=0.9)
    assert sgd.state_kinds() == ("momentum",) and sgd.vector_kind == "sgd_update"
    assert SGD([param([1.0], [1.0])], lr=0.1).state_kinds() == ()


def test_a_small_network_learns(rng):
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    labels = rng.integers(0, 3, 256)
    x = (centres[labels] + 0.4 * rng.standard_normal((256, 2))).astype(np.float32)
    net = Sequential([Linear(2, 16, rng=rng, name="h"), ReLU(), Linear(16, 3, rng=rng, name="o")])
    loss, opt = SoftmaxCrossEntropy(), Adam(NumpyFrontend(net).params(), lr=0.02)
    first = loss.forward(net.forward(x), labels)
    for _ in range(60):
        last = loss.forward(net.forward(x), labels)
        net.backward(loss.backward())
        opt.step()
    assert first > 0.8 and last < 0.1


# ---- the workload's optimizer -------------------------------------------------------------------

def test_the_workload_names_the_optimizer():
    params = [param([1.0], [1.0])]
    adam = build_optimizer(params, load_workload("mlp-digits", [
        "optimizer.name=adam", "optimizer.beta1=0.7", "optimizer.beta2=0.9",
        "optimizer.eps=1e-5", "optimizer.lr=0.001"]))
    assert isinstance(adam, Adam)
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps, adam.weight_decay) == (
        0.001, 0.7, 0.9, 1e-5, 0.0001)
    sgd = build_optimizer(params, load_workload("mlp-digits"))
    assert isinstance(sgd, SGD) and sgd.momentum == 0.9


# ---- each method's moments: widths, memory, vector work and traffic -----------------------------

def trained(method: str, *overrides: str, steps: int = 3, kind: str = "numpy"):
    """A method with Adam after ``steps`` updates on one batch, and the gradients of the last."""
    cls = METHODS[method]
    frontend, x, y = FRONTENDS[kind](cls.variant, np.random.default_rng(0))
    m = cls(frontend, load_workload("mlp-digits", [*ADAM, *overrides]),
            np.random.default_rng(1))
    for iteration in range(steps):
        m.begin_batch()
        m.before_forward()
        loss = Loss()
        loss.forward(frontend.forward(x), y)
        frontend.backward(loss.backward())
        m.after_backward()
        m.update(iteration)
    return m


@pytest.mark.parametrize("kind", sorted(FRONTENDS))
@pytest.mark.parametrize(("method", "bits"), [("fp32", 32), ("qat", 32), ("bnn", 32),
                                              ("rct", 16), ("bnn-lowmem", 16)])
def test_each_method_stores_both_moments_at_its_state_width(method, bits, kind):
    m = trained(method, kind=kind)
    assert isinstance(m.optimizer, Adam) and m.state_bits == bits
    for p in m.params:
        state = m.optimizer.state(p)
        assert set(state) == {"m", "v"} and m.optimizer.steps_taken(p) == 3
        first, second = state["m"], state["v"]
        assert first.dtype == second.dtype == p.value().dtype
        assert second.min() >= 0.0
        if bits < 32:  # m on the signed fixed-point grid, v on the unsigned float grid
            np.testing.assert_array_equal(quantise(first, bits).values, first)
            np.testing.assert_array_equal(quantise_nonnegative(second, bits), second)
            assert not np.any((second == 0) & (first != 0))  # no m / (0 + eps) blow-up
        else:  # fp32: v is not on a 16-bit grid
            assert not np.array_equal(quantise_nonnegative(second, 16), second)


def test_a_narrower_state_width_narrows_both_moments():
    m = trained("rct", "methods.rct.state_bits=8")
    for p in m.params:
        state = m.optimizer.state(p)
        np.testing.assert_array_equal(quantise(state["m"], 8).values, state["m"])
        np.testing.assert_array_equal(quantise_nonnegative(state["v"], 8), state["v"])
        assert len(np.unique(state["v"])) <= 2 ** 8


@pytest.mark.parametrize("method", ["fp32", "qat", "rct", "bnn", "bnn-lowmem"])
def test_memory_counts_both_moments(method):
    cls = METHODS[method]

    def memory(*overrides):
        frontend = NumpyFrontend.build("mlp", {"hidden": 3}, (1, 2, 2), 2,
                                       np.random.default_rng(0), variant=cls.variant)
        m = cls(frontend, load_workload("mlp-digits", list(overrides)),
                np.random.default_rng(1))
        return m, training_memory(frontend.describe((5, 1, 2, 2)), m).to_json()

    m, adam = memory(*ADAM)
    _, sgd = memory()
    _, plain = memory("optimizer.momentum=0")
    parameters = sum(int(np.prod(p.shape)) for p in m.params)
    state = -(-parameters * m.state_bits // 8)
    assert adam["optimizer_state_bytes"] == 2 * state and m.memory()[
        "optimizer_state_bytes"] == 2 * state
    assert sgd["optimizer_state_bytes"] == state and plain["optimizer_state_bytes"] == 0
    assert adam["param_memory_bytes"] == sgd["param_memory_bytes"]
    assert adam["peak_bytes"] - sgd["peak_bytes"] == state  # the second moment


@pytest.mark.parametrize(("method", "bits", "kinds"), [
    ("fp32", 32, ["adam_update", "adam_update", "adam_update"]),
    ("qat", 32, ["adam_update", "adam_update", "adam_update", "quantize"]),
    ("rct", 16, ["adam_update", "adam_update", "rct_update", "quantize", "quantize"]),
    ("bnn-lowmem", 16, ["adam_update", "adam_update", "adam_update", "clip",
                        "quantize", "quantize", "quantize", "binarize"]),  # fp16 latents
])
def test_the_update_prices_both_moments(method, bits, kinds):
    r = run("mlp", method, *ADAM)
    m = r.method
    layer = "fc1"
    update = [v for v in r.vectors if v.layer == layer and v.phase == "update"]
    assert [v.kind for v in update] == kinds
    state = [v for v in update if v.tensor == "optimizer_state"]
    count = m.layer_elements(layer)
    decay = 2  # mlp-digits' weight decay
    expected = [(count, bits, 3 + decay), (count, bits, 4)]
    if bits < 32:  # m back onto its grid (6 ops at 16 bits), v onto its own (9)
        expected += [(count, bits, 6), (count, bits, 9)]
    assert [(v.elements, v.out_bits, v.ops) for v in state] == expected
    step = next(v for v in update if v.tensor != "optimizer_state")
    assert step.ops == (6 + 2 + 7 + 10 if method == "rct" else 6)  # rct: + Gavg, noise guard,
    # stochastic rounding
    moves = [(t.dir, t.bits, t.elements) for t in r.ops if isinstance(t, Transfer)
             and t.layer == layer and t.phase == "update" and t.tensor == "optimizer_state"]
    assert moves == [("read", bits, count)] * 2 + [("write", bits, count)] * 2  # m, v


def test_sgd_updates_are_priced_as_before():
    r = run("mlp", "rct")
    update = [(v.kind, v.ops) for v in r.vectors if v.layer == "fc1" and v.phase == "update"]
    assert update == [("sgd_update", 4), ("rct_update", 21), ("quantize", 6)]
    plain = run("mlp", "rct", "optimizer.momentum=0")
    assert [v.kind for v in plain.vectors if v.layer == "fc1" and v.phase == "update"] == [
        "rct_update"]
    assert not [t for t in plain.ops if isinstance(t, Transfer)
                and t.tensor == "optimizer_state"]


def test_training_with_adam_end_to_end(tmp_path):
    from accelsim.trace import read_trace
    from accelsim.trace.records import Vector
    from accelsim.train.trainer import train

    workload = load_workload("mlp-digits", [*ADAM, "epochs=1", "dataset.params.synthetic=true",
                                            "model.params.hidden=16"])
    metrics = train(workload, "rct", tmp_path)
    assert metrics["optimizer"]["name"] == "adam"
    assert metrics["test_accuracy"] > 0.5
    _, ops = read_trace(tmp_path / "trace.jsonl.gz")
    kinds = {op.kind for op in ops if isinstance(op, Vector) and op.phase == "update"}
    assert {"adam_update", "rct_update", "quantize"} <= kinds and "sgd_update" not in kinds
