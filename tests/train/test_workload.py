"""Workload files: presets load, every error path names its key, overrides apply."""

import pytest

from accelsim.errors import WorkloadError
from accelsim.method_names import METHODS as DECLARED
from accelsim.train.methods import METHODS
from accelsim.train.workload import WORKLOAD_DIR, load_workload, workload_from_dict

BASE = {"name": "w", "dataset": {"name": "digits"}, "model": {"name": "mlp"}}


@pytest.mark.parametrize("name", ["lenet5-digits", "mlp-digits", "charlm-text"])
def test_presets_load(name):
    assert load_workload(name).name == name
    assert (WORKLOAD_DIR / f"{name}.yaml").is_file()


def test_declared_methods_match_the_registry():
    assert set(METHODS) == set(DECLARED)


def test_overrides():
    w = load_workload("lenet5-digits", ["epochs=2", "methods.rct.tradeoff=1.5",
                                        "optimizer.lr=0.01"])
    assert (w.epochs, w.methods.rct.tradeoff, w.optimizer.lr) == (2, 1.5, 0.01)


@pytest.mark.parametrize(("change", "message"), [
    ({"epochs": 0}, r"epochs: 0 is below the minimum 1"),
    ({"batch_size": "big"}, r"batch_size: expected an integer"),
    ({"optimizer": {"lr": -1}}, r"optimizer\.lr: -1 must be greater than 0"),
    ({"optimizer": {"momentum": 1.5}}, r"optimizer\.momentum: 1\.5 is above the maximum"),
    ({"methods": {"qat": {"weight_bits": 40}}}, r"methods\.qat\.weight_bits: 40 is above"),
    ({"methods": {"rct": {"min_bits": 9, "max_bits": 6}}}, r"min_bits: 9 exceeds"),
    ({"methods": {"rct": {"init_bits": 20}}}, r"init_bits: 20 is outside \[4, 16\]"),
    ({"methods": {"rct": {"t_min": 2.0}}}, r"t_min: 2 must be below methods\.rct\.t_max"),
    ({"methods": {"sgd": {}}}, r"methods\.sgd: unknown key"),
    ({"methods": {"bnn_lowmem": {"grad_bits": 0}}}, r"methods\.bnn_lowmem\.grad_bits: 0 is below"),
    ({"dataset": {"name": "digits", "params": [1]}}, r"dataset\.params: expected a mapping"),
    ({"learning_rate": 0.1}, r"learning_rate: unknown key"),
])
def test_bad_workloads(change, message):
    with pytest.raises(WorkloadError, match=message):
        workload_from_dict({**BASE, **change})


def test_missing_required_keys():
    with pytest.raises(WorkloadError, match=r"dataset: required key is missing.*model: required"):
        workload_from_dict({"name": "w"})


def test_unknown_preset_and_bad_yaml(tmp_path):
    with pytest.raises(WorkloadError, match=r"no such workload file or preset 'nope'"):
        load_workload("nope")
    bad = tmp_path / "w.yaml"
    bad.write_text("name: [\n")
    with pytest.raises(WorkloadError, match=r"w\.yaml: YAML syntax error"):
        load_workload(bad)


def test_a_model_is_built_in_or_torch_and_a_relative_factory_is_anchored(tmp_path):
    """model.name xor model.torch; 'file.py:fn' resolves beside the workload, from any folder;
    a module path stays as written."""
    import yaml

    from accelsim.errors import WorkloadError
    from accelsim.train.workload import load_workload

    base = {"name": "w", "dataset": {"name": "synthetic", "params": {}}, "epochs": 1}
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump({**base, "model": {"torch": "models.py:build"}}))
    assert load_workload(path).model.torch == f"{(tmp_path / 'models.py').resolve()}:build"
    path.write_text(yaml.safe_dump({**base, "model": {"torch": "pkg.zoo:resnet20"}}))
    assert load_workload(path).model.torch == "pkg.zoo:resnet20"
    for model, word in (({"name": "mlp", "torch": "m.py:f"}, "not both"), ({}, "not neither")):
        path.write_text(yaml.safe_dump({**base, "model": model}))
        with pytest.raises(WorkloadError, match=word):
            load_workload(path)


def test_adam_is_a_choice_of_optimizer():
    from accelsim.train.workload import load_workload

    w = load_workload("lenet5-digits", ["optimizer.name=adam", "optimizer.beta2=0.99"])
    assert (w.optimizer.name, w.optimizer.beta2, w.optimizer.eps) == ("adam", 0.99, 1e-8)
