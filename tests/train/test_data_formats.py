"""CIFAR-10's binary version and image folders (``imagenet``): each read from a tiny tree
written here, against the python-version reader and against the shapes read without decoding."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from test_data import write_cifar

from accelsim.errors import WorkloadError
from accelsim.train.data import DatasetShape, dataset_shape, load_dataset
from accelsim.train.data import cifar as cifar_module
from accelsim.train.data import imagenet as imagenet_module

PIL = pytest.importorskip("PIL.Image")

# --- CIFAR-10, binary version ---------------------------------------------------------------

BIN_NAMES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def write_cifar_bin(directory, written):
    """The binary version of the python batches ``write_cifar`` returned."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (pixels, labels) in written.items():
        records = np.concatenate([np.array(labels, np.uint8)[:, None], pixels], axis=1)
        (directory / f"{name}.bin").write_bytes(records.tobytes())


def test_cifar10_binary_round_trip_equals_the_python_version(tmp_path):
    written = write_cifar(tmp_path / "cifar-10-batches-py", per_batch=3, test=2)
    write_cifar_bin(tmp_path / "bin" / "cifar-10-batches-bin", written)
    python = load_dataset("cifar10", seed=0, path=tmp_path / "cifar-10-batches-py")
    for path in (tmp_path / "bin", tmp_path / "bin" / "cifar-10-batches-bin"):  # parent or dir
        binary = load_dataset("cifar10", seed=0, path=path)
        assert binary.source == ("CIFAR-10 binary batches in "
                                 f"{tmp_path / 'bin' / 'cifar-10-batches-bin'}")
        for part in ("x_train", "y_train", "x_test", "y_test"):
            mine, theirs = getattr(binary, part), getattr(python, part)
            assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
            np.testing.assert_array_equal(mine, theirs)
    pixels, labels = written["data_batch_2"]
    np.testing.assert_array_equal(binary.x_train[3, 2] * 255, pixels[0, 2048:].reshape(32, 32))
    np.testing.assert_array_equal(binary.y_train[3:6], labels)
    assert binary.x_train.dtype == np.float32 and binary.x_train.max() <= 1.0


def test_cifar10_binary_limits_and_shapes(tmp_path):
    write_cifar_bin(tmp_path, write_cifar(tmp_path / "py", per_batch=4, test=3))
    params = {"path": tmp_path, "limit_train": 7, "limit_test": 2}
    data = load_dataset("cifar10", seed=0, **params)
    assert (len(data.x_train), len(data.x_test)) == (7, 2)
    assert dataset_shape("cifar10", params) == DatasetShape((3, 32, 32), 10, 7)
    assert dataset_shape("cifar10", {"path": tmp_path}).train_samples == 20
    with pytest.raises(WorkloadError, match=r"^dataset cifar10: limit_test=4 exceeds the 3 "
                                            r"samples in test_batch\.bin$"):
        dataset_shape("cifar10", {"path": tmp_path, "limit_test": 4})


def test_cifar10_binary_shape_reads_no_pixels(tmp_path, monkeypatch):
    for name in BIN_NAMES:  # sparse files of the official size
        with (tmp_path / name).open("wb") as handle:
            handle.truncate(10000 * 3073)

    def refuse(*args, **kwargs):
        raise AssertionError("opened")

    monkeypatch.setattr(cifar_module.Path, "open", refuse)
    monkeypatch.setattr(cifar_module, "read_binary_batch", refuse)
    assert dataset_shape("cifar10", {"path": tmp_path}) == DatasetShape((3, 32, 32), 10, 50000)


def bin_error(tmp_path, name, raw=None, *, remove=False) -> str:
    write_cifar_bin(tmp_path, write_cifar(tmp_path / "py", per_batch=2, test=2))
    if remove:
        (tmp_path / name).unlink()
    else:
        (tmp_path / name).write_bytes(raw)
    with pytest.raises(WorkloadError) as caught:
        load_dataset("cifar10", seed=0, path=tmp_path)
    text = str(caught.value)
    assert "\n" not in text and text.startswith("dataset cifar10: ")
    if not remove:  # the shape reader sees every size problem (labels are checked on load)
        try:
            dataset_shape("cifar10", {"path": tmp_path})
        except WorkloadError as error:
            assert str(error) == text
    return text


RECORD = bytes([3]) + bytes(3072)


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("data_batch_3.bin", None, r"missing data_batch_3\.bin in "),
    ("data_batch_3.bin", b"", r"data_batch_3\.bin has 0 bytes, expected 1 to 10000 records of "
                              r"3073 bytes \(a label byte and 3072 pixels\)"),
    ("test_batch.bin", RECORD * 2 + b"x", r"test_batch\.bin has 6147 bytes, expected 1 to "),
    ("data_batch_5.bin", RECORD[:-1], r"data_batch_5\.bin has 3072 bytes"),
    ("data_batch_1.bin", RECORD + bytes([10]) + bytes(3072),
     r"data_batch_1\.bin has label 10 in record 1, outside 0\.\.9"),
    ("test_batch.bin", bytes([255]) + bytes(3072), r"test_batch\.bin has label 255 in record 0"),
])
def test_cifar10_binary_bad_files(tmp_path, name, raw, message):
    text = bin_error(tmp_path, name, raw, remove=raw is None)  # one line naming the file
    assert re.search(message, text), text
    assert str(tmp_path) in text


def test_cifar10_binary_too_large_is_refused_unread(tmp_path, monkeypatch):
    write_cifar_bin(tmp_path, write_cifar(tmp_path / "py", per_batch=2, test=2))
    with (tmp_path / "test_batch.bin").open("wb") as handle:
        handle.truncate(10001 * 3073)  # sparse; one record too many
    opened = []
    real_open = cifar_module.Path.open
    monkeypatch.setattr(cifar_module.Path, "open",
                        lambda self, *a, **k: opened.append(self.name) or real_open(self, *a, **k))
    for call in (lambda: load_dataset("cifar10", seed=0, path=tmp_path),
                 lambda: dataset_shape("cifar10", {"path": tmp_path})):
        with pytest.raises(WorkloadError, match=r"test_batch\.bin has 30733073 bytes, expected "
                                                r"1 to 10000 records"):
            call()
    assert "test_batch.bin" not in opened and "data_batch_5.bin" in opened


def test_cifar10_directory_without_either_version(tmp_path):
    with pytest.raises(WorkloadError, match=r"^dataset cifar10: missing data_batch_1 in "):
        load_dataset("cifar10", seed=0, path=tmp_path)
    (tmp_path / "cifar-10-batches-bin").mkdir()
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(RECORD)
    with pytest.raises(WorkloadError, match=r"^dataset cifar10: missing data_batch_1\.bin in "
                                            r".*cifar-10-batches-bin$"):
        load_dataset("cifar10", seed=0, path=tmp_path)


# --- image folders (imagenet) ---------------------------------------------------------------

CLASSES = ("ant", "bee", "cat")


def write_tree(root, *, train=(3, 2, 3), val=(1, 2, 0), seed=0):
    """train/<class>/ and val/<class>/ with that many images of each class, alternating PNG
    and JPEG, of odd sizes (portrait and landscape). Returns root."""
    rng = np.random.default_rng(seed)
    for split, counts in (("train", train), ("val", val)):
        for name, count in zip(CLASSES, counts, strict=False):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                height, width = (int(v) for v in rng.integers(20, 60, 2))
                pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
                suffix = (".png", ".JPEG", ".jpg")[index % 3]
                PIL.fromarray(pixels).save(folder / f"{index:02d}{suffix}")
    (root / "train" / "ant" / "notes.txt").write_text("ignored")
    return root


def test_imagenet_loads_a_folder_tree(tmp_path):
    root = write_tree(tmp_path)
    data = load_dataset("imagenet", seed=0, path=root, size=32)
    assert data.x_train.shape == (8, 3, 32, 32) and data.x_test.shape == (3, 3, 32, 32)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert data.num_classes == 3 and data.source == f"image folders in {root}"
    # class by class in turn: ant bee cat ant bee cat ant cat; val: ant bee bee
    assert data.y_train.tolist() == [0, 1, 2, 0, 1, 2, 0, 2]
    assert data.y_test.tolist() == [0, 1, 1]
    with PIL.open(root / "train" / "bee" / "01.JPEG") as image:  # the 5th training image
        expected = imagenet_module.decode(PIL, root / "train" / "bee" / "01.JPEG", 32)
        assert image.size != (32, 32)
    np.testing.assert_array_equal(data.x_train[4] * 255,
                                  expected.transpose(2, 0, 1).astype(np.float32))
    again = load_dataset("imagenet", seed=7, path=root, size=32)  # the seed changes nothing
    np.testing.assert_array_equal(again.x_train, data.x_train)
    np.testing.assert_array_equal(again.y_test, data.y_test)


def test_imagenet_resizes_the_shorter_side_then_crops_the_centre(tmp_path):
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, 36:44] = 255  # a white stripe at the centre of a landscape image
    PIL.fromarray(pixels).save(tmp_path / "wide.png")
    out = imagenet_module.decode(PIL, tmp_path / "wide.png", 28)  # shorter side to 32, 64 wide
    assert out.shape == (28, 28, 3) and out.dtype == np.uint8
    assert out[:, 14].min() == 255 and out[:, 0].max() == 0 and out[:, -1].max() == 0


def test_imagenet_caps_and_classes(tmp_path):
    root = write_tree(tmp_path)
    params = {"path": root, "size": 16, "classes": 2, "train_samples": 4, "test_samples": 2}
    data = load_dataset("imagenet", seed=0, **params)
    assert data.y_train.tolist() == [0, 1, 0, 1] and data.y_test.tolist() == [0, 1]
    assert data.num_classes == 2
    assert dataset_shape("imagenet", params) == DatasetShape((3, 16, 16), 2, 4)


def test_imagenet_shape_reader_decodes_nothing(tmp_path, monkeypatch):
    root = write_tree(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(imagenet_module, "decode", refuse)
    monkeypatch.setattr(imagenet_module, "_pillow", refuse)
    assert dataset_shape("imagenet", {"path": root, "size": 48}) == DatasetShape((3, 48, 48), 3, 8)
    assert dataset_shape("imagenet", {"path": root, "classes": 2}) == DatasetShape(
        (3, 224, 224), 2, 5)
    with pytest.raises(WorkloadError, match=r"^dataset imagenet: test_samples=4 exceeds the 3 "
                                            r"samples in .*val$"):
        dataset_shape("imagenet", {"path": root, "test_samples": 4})


def test_imagenet_shape_without_the_files_is_imagenet_1k():
    assert dataset_shape("imagenet", {}) == DatasetShape((3, 224, 224), 1000, 1_281_167)
    assert dataset_shape("imagenet", {"path": "/no/such/dir", "size": 160,
                                      "train_samples": 4096}) == ((3, 160, 160), 1000, 4096)
    assert dataset_shape("imagenet", {"classes": 100}).classes == 100
    with pytest.raises(WorkloadError, match=r"^dataset imagenet: train_samples=2000000 exceeds "
                                            r"the 1281167 samples in the official training set$"):
        dataset_shape("imagenet", {"train_samples": 2_000_000})
    with pytest.raises(WorkloadError, match=r"^dataset imagenet: classes must be in "
                                            r"\[2, 1000\], got 1001$"):
        dataset_shape("imagenet", {"classes": 1001})


def test_imagenet_without_pillow_says_how_to_install_it(tmp_path, monkeypatch):
    root = write_tree(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(WorkloadError, match=r"^dataset imagenet: decoding images needs Pillow "
                                            r"\(pip install 'accelsim\[imagenet\]'\)$"):
        load_dataset("imagenet", seed=0, path=root, size=16)
    assert dataset_shape("imagenet", {"path": root}).train_samples == 8  # no Pillow needed


def test_imagenet_memory_cap_suggests_train_samples(tmp_path, monkeypatch):
    root = write_tree(tmp_path)
    monkeypatch.setattr(imagenet_module, "MAX_VALUES", 10 * 3 * 16 * 16)
    with pytest.raises(WorkloadError, match=r"^dataset imagenet: 8 train and 3 test images at "
                                            r"16x16 are 8448 values, beyond the loader's limit "
                                            r"of 7680 .*; set train_samples and test_samples"):
        load_dataset("imagenet", seed=0, path=root, size=16)
    assert len(load_dataset("imagenet", seed=0, path=root, size=16,
                            train_samples=7).x_train) == 7


def tree_error(root, **params) -> str:
    with pytest.raises(WorkloadError) as caught:
        load_dataset("imagenet", seed=0, path=root, size=16, **params)
    text = str(caught.value)
    assert "\n" not in text and text.startswith("dataset imagenet: ")
    try:  # the shape reader reports the same (decoding errors aside)
        dataset_shape("imagenet", {"path": root, "size": 16, **params})
    except WorkloadError as error:
        assert str(error) == text
    return text


def test_imagenet_bad_trees(tmp_path):
    assert "needs a path param" in tree_error(None)
    assert "missing train folder in" in tree_error(tmp_path)
    root = write_tree(tmp_path / "a")
    (root / "val" / "dog").mkdir()
    assert f"{root / 'val' / 'dog'} is not a class of {root / 'train'}" in tree_error(root)
    root = write_tree(tmp_path / "b")
    PIL.new("RGB", (4, 4)).save(root / "val" / "ILSVRC2012_val_00000001.JPEG")
    assert f"{root / 'val'} holds images outside class folders (ILSVRC2012_val_00000001.JPEG, " \
           f"...); sort them into val/<class>/" in tree_error(root)
    root = write_tree(tmp_path / "c")
    (root / "train" / "dog").mkdir()
    assert f"{root / 'train' / 'dog'} holds no images (.jpeg, .jpg, .png)" in tree_error(root)
    root = write_tree(tmp_path / "d", train=(2,), val=(1,))
    assert "has 1 class folders, need at least 2" in tree_error(root)
    root = write_tree(tmp_path / "e", val=(0, 0, 0))
    assert f"{root / 'val'} holds no images of the 3 classes kept" in tree_error(root)
    root = write_tree(tmp_path / "f")
    assert "classes=4 exceeds the 3 class folders in" in tree_error(root, classes=4)
    assert "train_samples=9 exceeds the 8 samples in" in tree_error(root, train_samples=9)
    (root / "train" / "cat" / "03.png").write_bytes(b"not an image")
    text = tree_error(root)
    assert f"cannot decode {root / 'train' / 'cat' / '03.png'} (UnidentifiedImageError" in text


@pytest.mark.parametrize(("params", "message"), [
    ({"size": 0}, r"size must be in \[1, 1024\], got 0"),
    ({"size": "224"}, r"size must be an integer, got '224'"),
    ({"classes": 1}, r"classes must be (>= 2|in \[2, 1000\]), got 1"),
    ({"train_samples": 0}, r"train_samples must be >= 1, got 0"),
    ({"test_samples": 1.5}, r"test_samples must be an integer, got 1\.5"),
])
def test_imagenet_bad_params(tmp_path, params, message):
    root = write_tree(tmp_path)
    for path in (root, None):
        with pytest.raises(WorkloadError, match=rf"^dataset imagenet: {message}$"):
            dataset_shape("imagenet", {"path": path, **params})
    with pytest.raises(WorkloadError, match=rf"^dataset imagenet: {message}$"):
        load_dataset("imagenet", seed=0, path=root, **params)
