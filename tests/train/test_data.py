"""Data sets: the registry, digits (real and synthetic), the MNIST and CIFAR-10 readers on files
written here, the text corpus, and mini-batches."""

from __future__ import annotations

import gzip
import math
import os
import pickle
import sys

import numpy as np
import pytest

from accelsim.errors import WorkloadError
from accelsim.train.data import (
    Dataset,
    batch_count,
    batches,
    dataset_names,
    dataset_params,
    load_dataset,
)
from accelsim.train.data.text import python_corpus

# --- registry and the Dataset record --------------------------------------------------------


def test_registry_names_every_loader():
    assert dataset_names() == ["cifar10", "digits", "imagenet", "mnist", "npz", "synthetic",
                               "text"]
    assert dataset_params("digits") == {"test_fraction": 0.2, "upsample": 1, "synthetic": False}


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(WorkloadError, match=r"unknown dataset 'places365'; valid: cifar10, "
                                            r"digits, imagenet, mnist, npz, synthetic, text"):
        load_dataset("places365", seed=0)


def test_unknown_param_lists_valid_params():
    with pytest.raises(WorkloadError, match=r"dataset digits: unknown param 'upsampel'; valid: "
                                            r"synthetic, test_fraction, upsample"):
        load_dataset("digits", seed=0, upsampel=4)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seed(seed):
    from accelsim.errors import shown

    with pytest.raises(WorkloadError, match=rf"dataset digits: seed must be an integer >= 0, "
                                            rf"got {shown(seed)}"):
        load_dataset("digits", seed=seed, synthetic=True)


def test_dataset_arrays_are_read_only_and_paired():
    data = load_dataset("digits", seed=0, synthetic=True)
    with pytest.raises(ValueError, match="read-only"):
        data.x_train[0] = 0.0
    with pytest.raises(WorkloadError, match="dataset d: test split has 2 inputs and 3 labels"):
        Dataset(name="d", x_train=np.zeros((1, 2)), y_train=np.zeros(1, np.int64),
                x_test=np.zeros((2, 2)), y_test=np.zeros(3, np.int64), num_classes=2, source="")
    with pytest.raises(WorkloadError, match="decode needs a text data set"):
        data.decode(np.zeros(3, np.int64))


# --- digits ---------------------------------------------------------------------------------


def check_digit_images(data: Dataset, side: int = 8) -> None:
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert x.shape == (len(y), 1, side, side) and x.dtype == np.float32
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
        assert x.min() == 0.0 and x.max() == 1.0
        np.testing.assert_array_equal(x * 16, np.round(x * 16))  # on scikit-learn's 1/16 grid
    assert data.num_classes == 10 and data.input_shape == (1, side, side)
    assert data.uniform_loss == pytest.approx(math.log(10))


def check_stratified(data: Dataset, fraction: float) -> None:
    train = np.bincount(data.y_train, minlength=10)
    test = np.bincount(data.y_test, minlength=10)
    np.testing.assert_array_equal(test, np.round((train + test) * fraction))


def test_digits_from_scikit_learn():
    pytest.importorskip("sklearn")
    data = load_dataset("digits", seed=0)
    assert data.source == "scikit-learn load_digits"
    check_digit_images(data)
    assert (len(data.y_train), len(data.y_test)) == (1438, 359)
    check_stratified(data, 0.2)
    again, other = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    np.testing.assert_array_equal(data.x_train, again.x_train)
    np.testing.assert_array_equal(data.y_test, again.y_test)
    assert not np.array_equal(data.y_test, other.y_test)


def test_digits_test_fraction():
    data = load_dataset("digits", seed=3, test_fraction=0.5, synthetic=True)
    assert len(data.y_train) + len(data.y_test) == 1797
    check_stratified(data, 0.5)


def test_synthetic_digits_forced():
    data = load_dataset("digits", seed=0, synthetic=True)
    assert data.source == "synthetic digits (forced by synthetic=true)"
    check_digit_images(data)
    assert (len(data.y_train), len(data.y_test)) == (1437, 360)
    counts = np.bincount(np.concatenate([data.y_train, data.y_test]))
    assert counts.min() >= 179 and counts.max() <= 180
    check_stratified(data, 0.2)
    again, other = (load_dataset("digits", seed=s, synthetic=True) for s in (0, 7))
    np.testing.assert_array_equal(data.x_train, again.x_train)
    assert not np.array_equal(data.y_train, other.y_train)

    def everything(d):  # the seed only changes the split, not the set
        rows = np.concatenate([d.x_train, d.x_test]).reshape(1797, -1)
        return rows[np.lexsort(rows.T)]

    np.testing.assert_array_equal(everything(data), everything(other))


def test_synthetic_digits_learnable_not_trivial():
    data = load_dataset("digits", seed=0, synthetic=True)
    train, test = data.x_train.reshape(len(data.x_train), -1), data.x_test.reshape(360, -1)
    means = np.stack([train[data.y_train == c].mean(0) for c in range(10)])
    guess = np.argmin(((test[:, None] - means) ** 2).sum(-1), axis=1)
    accuracy = (guess == data.y_test).mean()
    assert 0.6 < accuracy < 0.97  # nearest class mean: well above chance, short of perfect


def test_digits_fall_back_when_scikit_learn_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    data = load_dataset("digits", seed=0)
    assert data.source.startswith("synthetic fallback (scikit-learn not installed: ")
    check_digit_images(data)
    forced = load_dataset("digits", seed=0, synthetic=True)
    np.testing.assert_array_equal(data.x_train, forced.x_train)


@pytest.mark.parametrize("synthetic", [True, False])
def test_digits_upsample_repeats_pixels(synthetic):
    if not synthetic:
        pytest.importorskip("sklearn")
    small = load_dataset("digits", seed=2, synthetic=synthetic)
    big = load_dataset("digits", seed=2, synthetic=synthetic, upsample=4)
    check_digit_images(big, side=32)
    np.testing.assert_array_equal(big.x_test, small.x_test.repeat(4, 2).repeat(4, 3))
    np.testing.assert_array_equal(big.y_train, small.y_train)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("test_fraction", -0.1, r"test_fraction must be a number in \(0, 1\), got -0.1"),
    ("test_fraction", 0, r"test_fraction must be a number in \(0, 1\), got 0"),
    ("test_fraction", 1.0, r"test_fraction must be a number in \(0, 1\), got 1.0"),
    ("test_fraction", "0.2", r"test_fraction must be a number in \(0, 1\), got '0.2'"),
    ("test_fraction", 0.0001, r"test_fraction=0.0001 leaves 1797 train and 0 test samples"),
    ("upsample", 0, r"upsample must be in \[1, 16\], got 0"),
    ("upsample", 2.5, r"upsample must be an integer, got 2.5"),
    ("upsample", True, r"upsample must be an integer, got true"),
    ("synthetic", "yes", r"synthetic must be true or false, got 'yes'"),
])
def test_digits_bad_params(key, value, message):
    params = {"synthetic": True, key: value}
    with pytest.raises(WorkloadError, match=rf"^dataset digits: {message}$"):
        load_dataset("digits", seed=0, **params)


# --- MNIST (IDX files written here) ---------------------------------------------------------


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    magic = (0x08 << 8 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory, *, train=6, test=4, gz=False, sep="-", side=28, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for stem, n in (("train", train), ("t10k", test)):
        arrays[stem] = (rng.integers(0, 256, (n, side, side)), rng.integers(0, 10, n))
        for kind, array in zip(("images", "labels"), arrays[stem], strict=True):
            name = f"{stem}-{kind}{sep}idx{array.ndim}-ubyte" + (".gz" if gz else "")
            data = idx_bytes(array)
            (directory / name).write_bytes(gzip.compress(data) if gz else data)
    return arrays


@pytest.mark.parametrize(("gz", "sep"), [(False, "-"), (True, "-"), (False, ".")])
def test_mnist_reads_idx_files(tmp_path, gz, sep):
    arrays = write_mnist(tmp_path, gz=gz, sep=sep)
    data = load_dataset("mnist", seed=0, path=str(tmp_path))
    assert data.x_train.shape == (6, 1, 28, 28) and data.x_test.shape == (4, 1, 28, 28)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    np.testing.assert_allclose(data.x_test[:, 0] * 255, arrays["t10k"][0], atol=1e-4)
    np.testing.assert_array_equal(data.y_train, arrays["train"][1])
    assert data.num_classes == 10 and data.source == f"IDX files in {tmp_path}"


def test_mnist_limits_keep_the_first_samples(tmp_path):
    arrays = write_mnist(tmp_path)
    data = load_dataset("mnist", seed=0, path=tmp_path, limit_train=2, limit_test=3)
    np.testing.assert_array_equal(data.y_train, arrays["train"][1][:2])
    assert len(data.y_test) == 3
    with pytest.raises(WorkloadError, match=r"dataset mnist: limit_train=7 exceeds the 6 "
                                            r"samples in train-images-idx3-ubyte"):
        load_dataset("mnist", seed=0, path=tmp_path, limit_train=7)
    with pytest.raises(WorkloadError, match=r"dataset mnist: limit_test must be >= 1, got 0"):
        load_dataset("mnist", seed=0, path=tmp_path, limit_test=0)


def test_mnist_path_errors(tmp_path):
    with pytest.raises(WorkloadError, match=r"dataset mnist: needs a path param, a directory "
                                            r"holding train-images-idx3-ubyte"):
        load_dataset("mnist", seed=0)
    with pytest.raises(WorkloadError, match=r"dataset mnist: path '.*nowhere' is not a "
                                            r"directory"):
        load_dataset("mnist", seed=0, path=str(tmp_path / "nowhere"))
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(WorkloadError, match=r"dataset mnist: no t10k-labels-idx1-ubyte \(or "
                                            r"\.gz\) in "):
        load_dataset("mnist", seed=0, path=tmp_path)


def corrupt(tmp_path, name, data):
    write_mnist(tmp_path)
    (tmp_path / name).write_bytes(data)
    with pytest.raises(WorkloadError) as caught:
        load_dataset("mnist", seed=0, path=tmp_path)
    return str(caught.value)


def test_mnist_bad_magic_number(tmp_path):
    message = corrupt(tmp_path, "train-images-idx3-ubyte",
                      idx_bytes(np.zeros((2, 28, 28)), magic=0x0802))
    assert message.endswith("train-images-idx3-ubyte has magic number 0x00000802, expected "
                            "0x00000803 (unsigned bytes, 3 dimensions)")


def test_mnist_truncated_and_short_files(tmp_path):
    whole = idx_bytes(np.zeros((6, 28, 28)))
    assert corrupt(tmp_path, "train-images-idx3-ubyte", whole[:-5]).endswith(
        "train-images-idx3-ubyte has 4715 bytes, its header [6, 28, 28] needs 4720")
    assert corrupt(tmp_path, "train-labels-idx1-ubyte", b"\0\0").endswith(
        "train-labels-idx1-ubyte has 2 bytes, too short for an IDX header")


def test_mnist_counts_and_labels_checked(tmp_path):
    assert corrupt(tmp_path, "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(3))).endswith(
        "t10k-images-idx3-ubyte holds 4 images but t10k-labels-idx1-ubyte holds 3 labels")
    assert corrupt(tmp_path, "train-labels-idx1-ubyte", idx_bytes(np.full(6, 12))) == (
        "dataset mnist: train-labels-idx1-ubyte has label 12, beyond num_classes=10")


def test_mnist_corrupt_gzip(tmp_path):
    write_mnist(tmp_path, gz=True)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(WorkloadError, match=r"dataset mnist: cannot read .*train-images-"
                                            r"idx3-ubyte\.gz: "):
        load_dataset("mnist", seed=0, path=tmp_path)


# --- CIFAR-10 (python batches written here) -------------------------------------------------


def write_cifar(directory, *, per_batch=3, test=2, str_keys=False, seed=0):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        batch = {"data": data, "labels": labels} if str_keys else {
            b"batch_label": name.encode(), b"data": data, b"labels": labels,
            b"filenames": [b"x.png"] * n}
        (directory / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = (data, labels)
    return written


@pytest.mark.parametrize("str_keys", [False, True])
def test_cifar10_reads_python_batches(tmp_path, str_keys):
    written = write_cifar(tmp_path, str_keys=str_keys)
    data = load_dataset("cifar10", seed=0, path=tmp_path)
    assert data.x_train.shape == (15, 3, 32, 32) and data.x_test.shape == (2, 3, 32, 32)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    pixels, labels = written["data_batch_2"]
    green = pixels[0, 1024:2048].reshape(32, 32)  # planes are R, G, B, each row-major
    np.testing.assert_allclose(data.x_train[3, 1] * 255, green, atol=1e-4)
    np.testing.assert_array_equal(data.y_train[3:6], labels)
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0


def test_cifar10_accepts_the_archive_parent_and_limits(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py")
    data = load_dataset("cifar10", seed=0, path=tmp_path, limit_train=4, limit_test=1)
    assert (len(data.y_train), len(data.y_test)) == (4, 1)
    assert data.source.endswith("cifar-10-batches-py")
    with pytest.raises(WorkloadError, match=r"dataset cifar10: limit_test=3 exceeds the 2 "
                                            r"samples in test_batch"):
        load_dataset("cifar10", seed=0, path=tmp_path, limit_test=3)


def cifar_error(tmp_path, name, batch=None, raw=None):
    write_cifar(tmp_path)
    target = tmp_path / name
    if raw is None and batch is None:
        target.unlink()
    else:
        target.write_bytes(raw if raw is not None else pickle.dumps(batch))
    with pytest.raises(WorkloadError) as caught:
        load_dataset("cifar10", seed=0, path=tmp_path)
    return str(caught.value)


class Hostile:
    def __reduce__(self):
        return (os.getcwd, ())


GOOD = np.zeros((2, 3072), np.uint8)


@pytest.mark.parametrize(("batch", "raw", "message"), [
    (None, None, r"missing data_batch_3 in "),
    (None, b"garbage", r"data_batch_3 is not a CIFAR-10 python batch \(UnpicklingError: "),
    (Hostile(), None, r"data_batch_3 is not a CIFAR-10 python batch \(UnpicklingError: "
                      r"refusing to load global .*getcwd\)"),
    ([1, 2], None, r"data_batch_3 holds a list, expected a dict with data and labels"),
    ({b"data": GOOD}, None, r"data_batch_3 has no 'labels' entry \(keys: data\)"),
    ({b"data": GOOD[:, :100], b"labels": [0, 1]}, None,
     r"data_batch_3 data is uint8 array \[2, 100\], expected uint8 \[N, 3072\]"),
    ({b"data": GOOD.tolist(), b"labels": [0, 1]}, None,
     r"data_batch_3 data is list, expected uint8"),
    ({b"data": GOOD, b"labels": [0]}, None, r"data_batch_3 has 2 images but 1 labels"),
    ({b"data": GOOD, b"labels": [0, 10]}, None, r"data_batch_3 has label 10, outside 0..9"),
    ({b"data": GOOD, b"labels": ["a", "b"]}, None, r"data_batch_3 labels are not integers"),
])
def test_cifar10_bad_batches(tmp_path, batch, raw, message):
    text = cifar_error(tmp_path, "data_batch_3", batch=batch, raw=raw)
    assert text.startswith("dataset cifar10: ")
    assert "\n" not in text
    assert __import__("re").search(message, text), text


# --- text -----------------------------------------------------------------------------------


def test_text_corpus_windows_and_vocab():
    data = load_dataset("text", seed=0, max_chars=20_000)
    corpus, _ = python_corpus()
    vocab = sorted(set(corpus[:20_000]))
    assert list(data.vocab) == vocab and data.num_classes == len(vocab)
    assert data.x_train.shape == (18_000 - 16, 16) and data.x_test.shape == (2_000 - 16, 16)
    assert data.x_train.dtype == np.int64 and data.y_train.dtype == np.int64
    assert data.decode(data.x_train[0]) + data.decode(data.y_train[:1]) == corpus[:17]
    assert data.decode(data.x_test[0]) == corpus[18_000:18_016]
    np.testing.assert_array_equal(data.x_train[1, :-1], data.x_train[0, 1:])
    assert data.y_train[0] == data.x_train[1, -1]
    assert data.uniform_loss == pytest.approx(math.log(len(vocab)))
    assert data.prior_loss() < data.uniform_loss - 0.5  # character counts alone beat uniform
    assert "pydoc_data.topics" in data.source or "pydoc_data unavailable" in data.source


def test_text_is_deterministic_and_seed_free():
    first, second = (load_dataset("text", seed=s, max_chars=5_000) for s in (0, 9))
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)
    assert first.vocab == second.vocab


def test_text_context_and_stride():
    data = load_dataset("text", seed=0, context=8, stride=4, max_chars=4_000,
                        test_fraction=0.25)
    assert data.x_train.shape == (len(range(0, 3_000 - 8, 4)), 8)
    np.testing.assert_array_equal(data.x_train[1, :4], data.x_train[0, 4:])
    assert data.y_train[0] == data.x_train[1, 4]


def test_text_falls_back_to_docstrings(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", None)
    data = load_dataset("text", seed=0, max_chars=30_000)
    assert "pydoc_data unavailable" in data.source
    assert data.source.startswith("docstrings of ")
    assert data.x_train.shape == (27_000 - 16, 16) and len(data.vocab) > 60


@pytest.mark.parametrize(("params", "message"), [
    ({"context": 0}, r"context must be >= 1, got 0"),
    ({"max_chars": -5}, r"max_chars must be >= 1, got -5"),
    ({"test_fraction": 1.5}, r"test_fraction must be a number in \(0, 1\), got 1.5"),
    ({"stride": 0}, r"stride must be >= 1, got 0"),
    ({"max_chars": 100}, r"the test text has 10 characters, not more than context=16 "
                         r"\(max_chars=100, test_fraction=0.1\)"),
])
def test_text_bad_params(params, message):
    with pytest.raises(WorkloadError, match=rf"^dataset text: {message}$"):
        load_dataset("text", seed=0, **params)


# --- mini-batches ---------------------------------------------------------------------------


def test_batches_cover_every_sample_once():
    x, y = np.arange(10)[:, None] * 1.0, np.arange(10)
    got = list(batches(x, y, 4, rng=np.random.default_rng(0)))
    assert [len(yb) for _, yb in got] == [4, 4, 2] == [len(xb) for xb, _ in got]
    assert sorted(np.concatenate([yb for _, yb in got])) == list(range(10))
    assert all((xb[:, 0] == yb).all() for xb, yb in got)
    again = list(batches(x, y, 4, rng=np.random.default_rng(0)))
    assert all((a[1] == b[1]).all() for a, b in zip(got, again, strict=True))
    assert batch_count(10, 4) == 3 and batch_count(10, 4, drop_last=True) == 2


def test_batches_in_order_and_drop_last():
    x, y = np.zeros((10, 2)), np.arange(10)
    got = [yb.tolist() for _, yb in batches(x, y, 3, rng=None, shuffle=False, drop_last=True)]
    assert got == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


@pytest.mark.parametrize(("args", "kw", "message"), [
    ((np.zeros(4), np.zeros(4), 0), {"rng": None, "shuffle": False},
     r"batch_size must be an integer >= 1, got 0"),
    ((np.zeros(4), np.zeros(3), 2), {"rng": None, "shuffle": False},
     r"batches: 4 inputs but 3 labels"),
    ((np.zeros(4), np.zeros(4), 2), {"rng": None},
     r"batches: shuffle=True needs an rng"),
])
def test_batches_bad_arguments(args, kw, message):
    with pytest.raises(WorkloadError, match=message):
        list(batches(*args, **kw))
