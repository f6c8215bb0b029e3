"""The synthetic and npz data sets, and every data set's shape read without loading it
(``dataset_shape``) against the shape it has once loaded."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_data import write_cifar, write_mnist
from test_data_formats import write_tree

from accelsim.errors import WorkloadError
from accelsim.train.data import DatasetShape, dataset_names, dataset_shape, load_dataset
from accelsim.train.data import cifar as cifar_module
from accelsim.train.data import synthetic as synthetic_module

# --- synthetic: images and feature vectors ----------------------------------------------------


def test_synthetic_images_have_the_shape_classes_and_sizes_asked_for():
    data = load_dataset("synthetic", seed=4, shape=[3, 32, 32], classes=10, train_samples=50,
                        test_samples=20)
    assert data.x_train.shape == (50, 3, 32, 32) and data.x_test.shape == (20, 3, 32, 32)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.num_classes == 10 and data.input_shape == (3, 32, 32)
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert np.bincount(data.y_train, minlength=10).tolist() == [5] * 10  # balanced
    assert data.source == ("synthetic: 10 class prototypes with contrast and noise, seed 4")


def test_synthetic_defaults_and_any_rank():
    data = load_dataset("synthetic", seed=0)
    assert (data.input_shape, data.num_classes, len(data.x_train), len(data.x_test)) == (
        (3, 32, 32), 10, 1000, 200)
    flat = load_dataset("synthetic", seed=0, shape=[7], classes=3, train_samples=9,
                        test_samples=4)
    assert flat.x_train.shape == (9, 7) and set(flat.y_train) == {0, 1, 2}


def test_synthetic_is_fixed_by_its_seed():
    def make(seed):
        return load_dataset("synthetic", seed=seed, shape=[1, 8, 8], classes=4,
                            train_samples=40, test_samples=12)

    first, again, other = make(5), make(5), make(6)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, key), getattr(again, key))
    assert not np.array_equal(first.x_train, other.x_train)


def nearest_mean_accuracy(data) -> float:
    train = data.x_train.reshape(len(data.x_train), -1)
    test = data.x_test.reshape(len(data.x_test), -1)
    means = np.stack([train[data.y_train == c].mean(0) for c in range(data.num_classes)])
    guess = np.argmin(((test[:, None] - means) ** 2).sum(-1), axis=1)
    return float((guess == data.y_test).mean())


@pytest.mark.parametrize("shape", [[3, 16, 16], [1, 8, 8], [20]])
def test_synthetic_images_are_learnable(shape):
    """Nearest class mean, fitted on the training split, far above chance (10%) on the test
    split: the class is in the samples."""
    data = load_dataset("synthetic", seed=1, shape=shape, classes=10, train_samples=500,
                        test_samples=200)
    assert nearest_mean_accuracy(data) > 0.5


def test_synthetic_trains_a_model(tmp_path):
    from accelsim.train.trainer import train
    from accelsim.train.workload import load_workload

    workload = load_workload("mlp-digits", [
        "dataset.name=synthetic", "epochs=3", "model.params.hidden=32",
        "dataset.params={shape: [1, 8, 8], classes: 10, train_samples: 600, "
        "test_samples: 200}"])
    metrics = train(workload, "fp32", tmp_path)
    assert metrics["test_accuracy"] > 0.5


# --- synthetic: token sequences ---------------------------------------------------------------


def test_synthetic_tokens_are_next_token_windows():
    data = load_dataset("synthetic", seed=2, shape=[12], vocab=30, train_samples=300,
                        test_samples=50)
    assert data.x_train.shape == (300, 12) and data.x_train.dtype == np.int64
    assert data.y_train.shape == (300,) and data.num_classes == 30
    assert data.x_train.min() >= 0 and data.x_train.max() < 30 and data.y_test.max() < 30
    again = load_dataset("synthetic", seed=2, shape=[12], vocab=30, train_samples=300,
                         test_samples=50)
    np.testing.assert_array_equal(data.x_test, again.x_test)


def test_synthetic_tokens_are_learnable():
    """A bigram table from the training windows predicts the next token far above chance."""
    data = load_dataset("synthetic", seed=3, shape=[8], vocab=20, train_samples=4000,
                        test_samples=500)
    pairs = np.zeros((20, 20))
    np.add.at(pairs, (data.x_train[:, :-1].ravel(), data.x_train[:, 1:].ravel()), 1)
    np.add.at(pairs, (data.x_train[:, -1], data.y_train), 1)
    accuracy = (pairs.argmax(1)[data.x_test[:, -1]] == data.y_test).mean()
    assert accuracy > 0.3  # chance: 0.05


def test_synthetic_tokens_train_the_character_model(tmp_path):
    from accelsim.train.trainer import train
    from accelsim.train.workload import load_workload

    workload = load_workload("charlm-text", [
        "dataset.name=synthetic", "epochs=1", "model.params.hidden=32",
        "dataset.params={shape: [16], vocab: 24, train_samples: 1024, test_samples: 256}"])
    metrics = train(workload, "fp32", tmp_path)
    assert metrics["dataset"]["classes"] == 24 and metrics["final"]["test_loss"] < np.log(24)


@pytest.mark.parametrize(("params", "message"), [
    ({"shape": 32}, r"shape must be a list of 1 to 4 sizes \(e.g. \[3, 32, 32\]\), got 32"),
    ({"shape": []}, r"shape must be a list of 1 to 4 sizes"),
    ({"shape": [1, 2, 3, 4, 5]}, r"shape must be a list of 1 to 4 sizes"),
    ({"shape": [3, 0, 32]}, r"shape must be in \[1, 65536\], got 0"),
    ({"shape": [3, "32", 32]}, r"shape must be an integer, got '32'"),
    ({"shape": [4096, 4096, 2]}, r"shape \[4096, 4096, 2\] has 33554432 values a sample, "
                                 r"above the limit of 16777216"),
    ({"classes": 1}, r"classes must be in \[2, 65536\], got 1"),
    ({"classes": 2.5}, r"classes must be an integer, got 2.5"),
    ({"train_samples": 0}, r"train_samples must be in \[1, 10000000\], got 0"),
    ({"test_samples": True}, r"test_samples must be an integer, got true"),
    ({"train_samples": 10_000_001}, r"train_samples must be in \[1, 10000000\], got 10000001"),
    ({"vocab": 1, "shape": [8]}, r"vocab must be in \[2, 65536\], got 1"),
    ({"vocab": 10, "shape": [3, 8]}, r"shape must be \[context\] for token sequences "
                                     r"\(vocab=10\), got \[3, 8\]"),
    ({"vocab": 10, "shape": [8], "classes": 5}, r"classes must equal vocab \(10\) for token "
                                                r"sequences \(the label is the next token\), "
                                                r"got 5"),
    ({"colour": 1}, r"unknown param 'colour'; valid: classes, shape, test_samples, "
                    r"train_samples, vocab"),
])
def test_synthetic_bad_params(params, message):
    for read in (lambda: load_dataset("synthetic", seed=0, **params),
                 lambda: dataset_shape("synthetic", params)):
        with pytest.raises(WorkloadError, match=rf"^dataset synthetic: {message}"):
            read()


@pytest.mark.parametrize(("params", "message"), [
    ({"train_samples": 1_281_167, "shape": [3, 224, 224], "classes": 1000},
     r"train_samples \+ test_samples \(1281167 \+ 200\) of shape \[3, 224, 224\] make "
     r"192881611776 values, above the limit of 134217728"),
    ({"classes": 60000, "shape": [3, 32, 32], "train_samples": 1, "test_samples": 1},
     r"classes=60000 prototypes of shape \[3, 32, 32\] make 184320000 values"),
])
def test_synthetic_too_large_to_load_has_shapes_all_the_same(params, message):
    """The loader refuses to build more than 2**27 values; the shape reader, which builds
    nothing, gives the shapes (an ImageNet epoch for a shape-only trace)."""
    with pytest.raises(WorkloadError, match=rf"^dataset synthetic: {message}"):
        load_dataset("synthetic", seed=0, **params)
    shape = dataset_shape("synthetic", params)
    assert shape == DatasetShape(tuple(params["shape"]), params["classes"],
                                 params["train_samples"])


# --- npz: your own arrays ---------------------------------------------------------------------


def arrays(*, features=(1, 4, 4), train=12, test=5, classes=3, seed=0, tokens=False):
    rng = np.random.default_rng(seed)
    if tokens:
        x_train, x_test = (rng.integers(0, 50, (n, *features)) for n in (train, test))
    else:
        x_train, x_test = (rng.random((n, *features)) for n in (train, test))
    return {"x_train": x_train, "y_train": np.arange(train) % classes,
            "x_test": x_test, "y_test": rng.integers(0, classes, test)}


def write_npz(path, values, *, compressed=False):
    (np.savez_compressed if compressed else np.savez)(path, **values)
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_round_trip(tmp_path, compressed):
    values = arrays()
    file = write_npz(tmp_path / "mine.npz", {**values, "notes": np.arange(3)},
                     compressed=compressed)
    data = load_dataset("npz", seed=0, path=str(file))
    for key, array in values.items():
        np.testing.assert_allclose(getattr(data, key), array, rtol=1e-6)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.input_shape == (1, 4, 4) and data.num_classes == 3
    assert data.source == f"arrays in {file}"
    assert load_dataset("npz", seed=7, path=file).x_test.tobytes() == data.x_test.tobytes()


def test_npz_token_ids_and_the_classes_param(tmp_path):
    file = write_npz(tmp_path / "tokens.npz", arrays(features=(6,), tokens=True))
    data = load_dataset("npz", seed=0, path=file, classes=8)
    assert data.x_train.dtype == np.int64 and data.x_train.shape == (12, 6)
    assert data.num_classes == 8


def test_npz_trains_a_model(tmp_path):
    from accelsim.train.trainer import train
    from accelsim.train.workload import load_workload

    source = load_dataset("synthetic", seed=0, shape=[1, 8, 8], classes=10,
                          train_samples=300, test_samples=100)
    file = write_npz(tmp_path / "digits.npz", {key: getattr(source, key) for key in
                                               ("x_train", "y_train", "x_test", "y_test")})
    workload = load_workload("mlp-digits", ["dataset.name=npz", "epochs=1",
                                            f"dataset.params={{path: {file}}}"])
    metrics = train(workload, "qat", tmp_path / "run")
    assert metrics["dataset"]["train"] == 300 and metrics["dataset"]["classes"] == 10


def npz_error(tmp_path, values=None, raw=None, *, headers=True, **params) -> str:
    """The one-line error loading a bad archive gives (without the prefix naming the file);
    when the problem shows in the headers or labels (``headers``), ``dataset_shape`` gives
    the same error, else it reads the shapes without complaint."""
    file = tmp_path / "bad.npz"
    if raw is not None:
        file.write_bytes(raw)
    elif values is not None:
        write_npz(file, values)
    with pytest.raises(WorkloadError) as caught:
        load_dataset("npz", seed=0, path=file, **params)
    message = str(caught.value)
    assert "\n" not in message
    if headers:
        with pytest.raises(WorkloadError) as shape_caught:
            dataset_shape("npz", {"path": file, **params})
        assert str(shape_caught.value) == message
    else:
        dataset_shape("npz", {"path": file, **params})
    prefix = f"dataset npz: {file}: "
    assert message.startswith(prefix), message
    return message[len(prefix):]


def test_npz_path_errors(tmp_path):
    with pytest.raises(WorkloadError, match=r"^dataset npz: needs a path param, an \.npz file "
                                            r"holding x_train, y_train, x_test, y_test$"):
        load_dataset("npz", seed=0)
    with pytest.raises(WorkloadError, match=r"^dataset npz: path must be a string, got 3$"):
        load_dataset("npz", seed=0, path=3)
    with pytest.raises(WorkloadError, match=r"^dataset npz: path '.*nowhere.npz' is not a "
                                            r"file$"):
        dataset_shape("npz", {"path": str(tmp_path / "nowhere.npz")})
    with pytest.raises(WorkloadError, match=r"^dataset npz: classes must be in \[2, 1048576\], "
                                            r"got 1$"):
        load_dataset("npz", seed=0, path=write_npz(tmp_path / "a.npz", arrays()), classes=1)


def test_npz_not_an_archive(tmp_path):
    assert npz_error(tmp_path, raw=b"x_train,y_train\n1,2\n") == (
        "not an .npz archive (not a zip file; write it with numpy.savez)")


def test_npz_missing_arrays(tmp_path):
    values = arrays()
    del values["y_test"], values["x_test"]
    assert npz_error(tmp_path, values) == (
        "no x_test or y_test array (it holds x_train, y_train)")


def test_npz_object_arrays_are_never_unpickled(tmp_path):
    values = arrays()
    values["x_train"] = np.array([{"evil": 1}] * 12, dtype=object)
    assert npz_error(tmp_path, values) == (
        "x_train holds Python objects (a pickled object array); only numeric arrays are read "
        "(allow_pickle=False)")


def test_npz_corrupt_member(tmp_path):
    file = tmp_path / "bad.npz"
    with zipfile.ZipFile(file, "w") as archive:
        for key, array in arrays().items():
            archive.writestr(f"{key}.npy", b"not an npy file" if key == "y_test" else
                             _npy_bytes(array))
    assert npz_error(tmp_path, raw=file.read_bytes()).startswith(
        "y_test is not a readable .npy array (")


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(("change", "message"), [
    ({"x_train": np.array([["a"] * 16] * 12)},
     "x_train has dtype <U1; inputs must be floats or integers (token ids)"),
    ({"x_train": np.zeros(12)}, "x_train has shape [12]; inputs need a sample axis and at "
                                "least one more"),
    ({"y_train": np.zeros(12)}, "y_train has dtype float64; labels must be integers"),
    ({"y_test": np.zeros((5, 1), dtype=np.int64)}, "y_test has shape [5, 1]; labels must be "
                                                   "1-D"),
    ({"x_test": np.zeros((0, 1, 4, 4)), "y_test": np.zeros(0, dtype=np.int64)},
     "x_test is empty"),
    ({"x_train": np.zeros((12, 0)), "x_test": np.zeros((5, 0))},
     "x_train has shape [12, 0]; its samples are empty"),
    ({"y_train": np.zeros(11, dtype=np.int64)}, "x_train holds 12 samples but y_train 11 "
                                                "labels"),
    ({"x_test": np.zeros((5, 1, 4, 3))}, "x_test samples have shape [1, 4, 3], x_train "
                                         "samples [1, 4, 4]"),
    ({"y_test": np.array([0, 1, -1, 0, 1])}, "y_test has label -1; labels must be >= 0"),
    ({"y_train": np.zeros(12, dtype=np.int64), "y_test": np.zeros(5, dtype=np.int64)},
     "every label is 0; training needs at least two classes (or set the classes param)"),
    ({"y_train": np.full(12, 1 << 21)}, "y_train has label 2097152, above the limit of "
                                        "1048575"),
])
def test_npz_bad_arrays(tmp_path, change, message):
    assert npz_error(tmp_path, {**arrays(), **change}) == message


def test_npz_labels_beyond_the_classes_param(tmp_path):
    assert npz_error(tmp_path, arrays(classes=3), classes=2) == (
        "y_train has label 2, outside 0..1 (classes=2)")


def test_npz_bad_values_are_found_when_loading(tmp_path):
    values = arrays()
    values["x_test"][3, 0, 1, 1] = np.nan
    assert npz_error(tmp_path, values, headers=False) == (
        "x_test holds 1 values that are not finite in float32 (NaN, inf or beyond 3.4e38), "
        "the first in sample 3")
    values["x_test"][3, 0, 1, 1] = 1e300  # finite in float64, inf in float32
    assert npz_error(tmp_path, values, headers=False).startswith("x_test holds 1 values that")
    tokens = arrays(features=(6,), tokens=True)
    tokens["x_train"][2, 0] = -4
    assert npz_error(tmp_path, tokens, headers=False) == (
        "x_train holds token id -4; integer inputs are ids for an embedding and must be >= 0")
    tokens["x_train"] = np.full((12, 6), 2**63, dtype=np.uint64)
    assert npz_error(tmp_path, tokens, headers=False) == (
        "x_train holds token id 9223372036854775808, beyond int64")


def member_archive(file, x_train: bytes) -> bytes:
    """An archive whose x_train member is ``x_train`` (raw .npy bytes), the rest valid."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays().items():
            archive.writestr(f"{key}.npy", x_train if key == "x_train" else _npy_bytes(array))
    return file.read_bytes()


def test_npz_an_array_must_hold_what_its_header_declares(tmp_path):
    """A header declaring a billion values over a few bytes (or a zip bomb of zeros behind a
    small header) is refused before numpy allocates anything."""
    import io

    real = _npy_bytes(np.zeros((12, 1, 4, 4)))
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (12, 1, 4, 4_000_000)})
    huge = buffer.getvalue() + real[-12 * 16 * 8:]
    assert npz_error(tmp_path, raw=member_archive(tmp_path / "m.npz", huge)) == (
        "x_train declares [12, 1, 4, 4000000] of float64 (1536000000 bytes) but holds 1536 "
        "bytes of data")
    assert npz_error(tmp_path, raw=member_archive(tmp_path / "m.npz", real + b"\0" * 8)) == (
        "x_train declares [12, 1, 4, 4] of float64 (1536 bytes) but holds 1544 bytes of data")


def test_npz_is_bounded(tmp_path, monkeypatch):
    from accelsim.train.data import npz as npz_module

    monkeypatch.setattr(npz_module, "MAX_VALUES", 200)
    assert npz_error(tmp_path, arrays()) == (
        "the arrays hold 289 values (x_train [12, 1, 4, 4], y_train [12], x_test [5, 1, 4, 4], "
        "y_test [5]), above the limit of 200")


# --- dataset_shape: every data set, without loading it ----------------------------------------


def loaded(name: str, params: dict) -> DatasetShape:
    data = load_dataset(name, seed=0, **params)
    return DatasetShape(data.input_shape, data.num_classes, len(data.x_train))


def shape_cases(tmp_path) -> list[tuple[str, dict]]:
    for folder in ("mnist", "mnist-gz"):
        (tmp_path / folder).mkdir()
    write_mnist(tmp_path / "mnist", train=9, test=4)
    write_mnist(tmp_path / "mnist-gz", train=7, test=3, gz=True, side=20)
    write_cifar(tmp_path / "cifar" / "cifar-10-batches-py", per_batch=3, test=2)
    npz_file = write_npz(tmp_path / "mine.npz", arrays(features=(2, 3)))
    images = write_tree(tmp_path / "images")
    return [
        ("digits", {}),
        ("digits", {"synthetic": True, "upsample": 4}),
        ("digits", {"test_fraction": 0.33}),
        ("digits", {"synthetic": True, "test_fraction": 0.5}),
        ("mnist", {"path": str(tmp_path / "mnist")}),
        ("mnist", {"path": str(tmp_path / "mnist-gz"), "limit_train": 5, "num_classes": 12}),
        ("cifar10", {"path": str(tmp_path / "cifar")}),
        ("cifar10", {"path": str(tmp_path / "cifar"), "limit_train": 10, "limit_test": 1}),
        ("text", {}),
        ("text", {"context": 8, "max_chars": 5000, "stride": 3, "test_fraction": 0.25}),
        ("synthetic", {}),
        ("synthetic", {"shape": [5], "classes": 4, "train_samples": 33, "test_samples": 2}),
        ("synthetic", {"shape": [10], "vocab": 17, "train_samples": 21}),
        ("npz", {"path": str(npz_file)}),
        ("npz", {"path": str(npz_file), "classes": 9}),
        ("imagenet", {"path": str(images), "size": 16}),
        ("imagenet", {"path": str(images), "size": 8, "classes": 2, "train_samples": 3}),
    ]


def test_dataset_shape_is_the_loaded_shape_for_every_data_set(tmp_path):
    cases = shape_cases(tmp_path)
    assert {name for name, _ in cases} == set(dataset_names())
    for name, params in cases:
        assert dataset_shape(name, params) == loaded(name, params), (name, params)


def test_dataset_shape_without_scikit_learn(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    for params in ({}, {"test_fraction": 0.3}):
        assert dataset_shape("digits", params) == loaded("digits", params)


def test_dataset_shape_builds_no_samples(tmp_path, monkeypatch):
    """The synthetic generator never runs, an official-size CIFAR batch is never unpickled,
    and MNIST's image files are read only for their headers."""
    def refuse(*args, **kwargs):
        raise AssertionError("loaded")

    monkeypatch.setattr(synthetic_module, "_images", refuse)
    monkeypatch.setattr(synthetic_module, "_sequences", refuse)
    assert dataset_shape("synthetic", {"train_samples": 10_000_000, "shape": [3, 2, 2]}) == (
        DatasetShape((3, 2, 2), 10, 10_000_000))
    directory = tmp_path / "cifar"
    directory.mkdir()
    official = cifar_module.BATCH_IMAGES * cifar_module.PIXELS + 300_000
    for name in (*cifar_module.TRAIN_BATCHES, cifar_module.TEST_BATCH):
        with (directory / name).open("wb") as handle:
            handle.truncate(official)  # sparse: the size of an official batch
    monkeypatch.setattr(cifar_module, "read_batch", refuse)
    assert dataset_shape("cifar10", {"path": directory}) == DatasetShape((3, 32, 32), 10,
                                                                         50_000)
    assert dataset_shape("cifar10", {"path": directory, "limit_train": 128}).train_samples == 128
    with pytest.raises(WorkloadError, match=r"^dataset cifar10: limit_test=10001 exceeds the "
                                            r"10000 samples in test_batch$"):
        dataset_shape("cifar10", {"path": directory, "limit_test": 10001})


def test_dataset_shape_reports_what_the_loader_reports(tmp_path):
    with pytest.raises(WorkloadError, match=r"unknown dataset 'places365'; valid: cifar10, "
                                            r"digits, imagenet, mnist, npz, synthetic, text"):
        dataset_shape("places365", {})
    with pytest.raises(WorkloadError, match=r"^dataset digits: unknown param 'upsampel'"):
        dataset_shape("digits", {"upsampel": 2})
    assert dataset_shape("mnist", {}) == ((1, 28, 28), 10, 60000)  # no files: the official
    assert dataset_shape("cifar10", {"path": str(tmp_path / "absent")}) == ((3, 32, 32), 10,
                                                                          50000)
    write_mnist(tmp_path, train=6)
    with pytest.raises(WorkloadError, match=r"^dataset mnist: limit_train=7 exceeds the 6 "
                                            r"samples in train-images-idx3-ubyte$"):
        dataset_shape("mnist", {"path": tmp_path, "limit_train": 7})
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(
        (0x0801).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(5))
    with pytest.raises(WorkloadError, match=r"^dataset mnist: train-images-idx3-ubyte holds 6 "
                                            r"images but train-labels-idx1-ubyte holds 5 "
                                            r"labels$"):
        dataset_shape("mnist", {"path": tmp_path})
    with pytest.raises(WorkloadError, match=r"^dataset text: the test text has 2 characters, "
                                            r"not more than context=16"):
        dataset_shape("text", {"max_chars": 20})
    with pytest.raises(WorkloadError, match=r"^dataset digits: test_fraction=0.0001 leaves "
                                            r"1797 train and 0 test samples$"):
        dataset_shape("digits", {"test_fraction": 0.0001, "synthetic": True})


# --- fuzzing: whatever the input, a data set or one WorkloadError -----------------------------

PARAM_VALUES = st.none() | st.booleans() | st.integers(-3, 2**40) | st.floats(allow_nan=True) \
    | st.text(max_size=5) | st.lists(st.integers(-2, 70_000) | st.text(max_size=2), max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["shape", "classes", "train_samples", "test_samples",
                                        "vocab", "size"]), PARAM_VALUES, max_size=5))
def test_fuzz_synthetic_params(params):
    try:
        shape = dataset_shape("synthetic", params)
    except WorkloadError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("dataset synthetic: ")
    else:
        assert shape.classes >= 2 and shape.train_samples >= 1 and min(shape.input_shape) >= 1


@pytest.fixture(scope="module")
def valid_archive(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("npz") / "valid.npz"
    return write_npz(path, arrays(), compressed=True).read_bytes()


@settings(max_examples=200, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_npz_archives(tmp_path, valid_archive, data):
    raw = bytearray(valid_archive)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    file = tmp_path / "fuzzed.npz"
    file.write_bytes(bytes(raw[:cut]))
    for read in (lambda: load_dataset("npz", seed=0, path=file),
                 lambda: dataset_shape("npz", {"path": file})):
        try:
            read()
        except WorkloadError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(f"dataset npz: {file}: ")
