"""A reader for CIFAR-10's "python version" and "binary version" batches, for users who have
them on disk.

What it owns: the ``cifar10`` loader, its shape reader, the two batch formats (a reader and an
image counter each) and a restricted unpickler. No download: ``path`` names the
``cifar-10-batches-py`` or ``cifar-10-batches-bin`` directory of an official archive (or their
parent; the format is told by which batch files exist, the python version first), holding
``data_batch_1`` .. ``data_batch_5`` (50000 training images) and ``test_batch`` (10000), with a
``.bin`` suffix in the binary version.

Python version: each batch is a pickled dict with ``data``, a uint8 array (N, 3072) holding each image's red,
green and blue 32x32 planes in row-major order, and ``labels``, N ints in 0..9 (keys are bytes
in the official files, written by Python 2; str keys are accepted too). The unpickler resolves
only the handful of globals a numpy array needs, so a hostile file cannot run code.

Binary version: each batch is a run of 3073-byte records, a label byte (0..9) then the same
3072 pixel bytes. Its image count is its size over 3073, so its shape needs no pixel read;
a file's size is checked before it is read, and no more than that size is read.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.data.base import (
    Dataset,
    DatasetShape,
    check_dir,
    check_limit,
    limited,
    register,
    register_shape,
    take,
)

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
ARCHIVE_DIR = "cifar-10-batches-py"
CHANNELS, SIDE, CLASSES = 3, 32, 10
PIXELS = CHANNELS * SIDE * SIDE
BATCH_IMAGES = 10000  # images in each batch of the official archive
BATCH_OVERHEAD = 100 * BATCH_IMAGES  # bytes besides the pixels in an official batch, at most
RECORD = 1 + PIXELS  # a binary-version record: the label byte, then the pixels

_SAFE_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    *((module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
      for name in ("_reconstruct", "scalar")),
    *((module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")),
}


@register("cifar10")
def load_cifar10(*, seed: int, path: Any = None, limit_train: int | None = None,
                 limit_test: int | None = None) -> Dataset:
    """CIFAR-10 from ``path`` (python or binary version) as (N, 3, 32, 32) float32 in [0, 1]
    (pixel / 255), ten classes; both versions of the same images give the same arrays.

    ``limit_train`` / ``limit_test`` keep the first so many samples of each split (all when
    unset). The split is the archive's own; ``seed`` does not change it.
    """
    directory, form, limit_train, limit_test = _checked(path, limit_train, limit_test)
    train = [form.read(directory / name) for name in form.train]
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    x_test, y_test = form.read(directory / form.test)
    x_train, y_train = take(x_train, y_train, limit_train, dataset="cifar10", key="limit_train",
                            where=f"the {len(form.train)} data batches")
    x_test, y_test = take(x_test, y_test, limit_test, dataset="cifar10", key="limit_test",
                          where=form.test)

    def images(pixels: np.ndarray) -> np.ndarray:
        return pixels.reshape(-1, CHANNELS, SIDE, SIDE).astype(np.float32) / 255.0

    return Dataset(name="cifar10", x_train=images(x_train), y_train=y_train,
                   x_test=images(x_test), y_test=y_test, num_classes=CLASSES,
                   source=f"CIFAR-10 {form.kind} batches in {directory}")


@register_shape("cifar10")
def cifar10_shape(*, path: Any = None, limit_train: int | None = None,
                  limit_test: int | None = None) -> DatasetShape:
    """The shapes ``load_cifar10`` gives, without reading pixels from the official archive: a
    python batch whose size fits 10000 images (see :func:`batch_images`) is taken to hold them
    (any other python batch is read, as the loader reads it, to count its images); a binary
    batch holds its size over 3073 (:func:`binary_batch_images`, which checks that size; its
    labels are checked when it is loaded). Without the files (no
    ``path``, or one that is not a directory here) the official archive's: 50000 images to
    train, so a shape-only trace needs no data."""
    if path is None or not Path(path).expanduser().is_dir():
        limit = check_limit("cifar10", "limit_train", limit_train)
        check_limit("cifar10", "limit_test", limit_test)
        train = limited(len(TRAIN_BATCHES) * BATCH_IMAGES, limit, dataset="cifar10",
                        key="limit_train", where="the official training set")
        return DatasetShape((CHANNELS, SIDE, SIDE), CLASSES, train)
    directory, form, limit_train, limit_test = _checked(path, limit_train, limit_test)
    train = sum(form.count(directory / name) for name in form.train)
    test = form.count(directory / form.test)
    train = limited(train, limit_train, dataset="cifar10", key="limit_train",
                    where=f"the {len(form.train)} data batches")
    limited(test, limit_test, dataset="cifar10", key="limit_test", where=form.test)
    return DatasetShape((CHANNELS, SIDE, SIDE), CLASSES, train)


def batch_images(path: Path) -> int:
    """Images in one batch file: 10000 when its size is that of an official batch (the pixels,
    3072 bytes an image, plus at most :data:`BATCH_OVERHEAD` bytes of labels, file names and
    pickle framing), else counted by reading it. Known limit: a home-made batch of 10001 to
    10325 images fits that size too, and is taken for 10000 (loading it counts them all)."""
    if not path.is_file():
        raise WorkloadError(f"dataset cifar10: missing {path.name} in {path.parent}")
    pixels = BATCH_IMAGES * PIXELS
    if pixels <= path.stat().st_size <= pixels + BATCH_OVERHEAD:
        return BATCH_IMAGES
    return len(read_batch(path)[1])


def _checked(path: Any, limit_train: Any, limit_test: Any
             ) -> tuple[Path, _Format, int | None, int | None]:
    """The batches' directory and format, and the limits, checked."""
    directory = check_dir("cifar10", path, f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH} "
                          f"(python version) or the same with .bin (binary version)")
    limits = (check_limit("cifar10", "limit_train", limit_train),
              check_limit("cifar10", "limit_test", limit_test))
    for candidate in (directory, *(directory / form.archive for form in FORMATS)):
        for form in FORMATS:
            if any((candidate / name).is_file() for name in (*form.train, form.test)):
                return (candidate, form, *limits)
    # no batch of either version: the python version's error names what is missing
    python = directory / ARCHIVE_DIR if (directory / ARCHIVE_DIR).is_dir() else directory
    return (python, PYTHON, *limits)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: its uint8 pixels (N, 3072) and int64 labels (N,), both checked."""
    if not path.is_file():
        raise WorkloadError(f"dataset cifar10: missing {path.name} in {path.parent}")
    try:
        with path.open("rb") as handle:
            batch = _SafeUnpickler(handle, encoding="bytes").load()
    except Exception as exc:  # a corrupt pickle can fail in many ways; all mean the same here
        raise WorkloadError(f"dataset cifar10: {path} is not a CIFAR-10 python batch "
                            f"({type(exc).__name__}: {exc})") from exc
    if not isinstance(batch, dict):
        raise WorkloadError(f"dataset cifar10: {path} holds a {type(batch).__name__}, "
                            f"expected a dict with data and labels")
    data, labels = (_entry(batch, key, path) for key in ("data", "labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != PIXELS:
        found = (f"{data.dtype} array {list(data.shape)}" if isinstance(data, np.ndarray)
                 else type(data).__name__)
        raise WorkloadError(f"dataset cifar10: {path} data is {found}, expected uint8 "
                            f"[N, {PIXELS}]")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise WorkloadError(f"dataset cifar10: {path} labels are not integers ({exc})") from exc
    if len(labels) != len(data):
        raise WorkloadError(f"dataset cifar10: {path} has {len(data)} images but "
                            f"{len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= CLASSES):
        bad = labels[(labels < 0) | (labels >= CLASSES)][0]
        raise WorkloadError(f"dataset cifar10: {path} has label {bad}, outside 0..{CLASSES - 1}")
    return data, labels


def _entry(batch: dict, key: str, path: Path) -> Any:
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    keys = ", ".join(sorted(k.decode() if isinstance(k, bytes) else str(k) for k in batch))
    raise WorkloadError(f"dataset cifar10: {path} has no {shown(key)} entry (keys: {keys})")


def binary_batch_images(path: Path) -> int:
    """Records in one binary-version batch: its size over 3073 bytes, which must be a whole
    number of records, 1 to 10000 of them (an official batch holds 10000)."""
    if not path.is_file():
        raise WorkloadError(f"dataset cifar10: missing {path.name} in {path.parent}")
    size = path.stat().st_size
    if size == 0 or size % RECORD or size > BATCH_IMAGES * RECORD:
        raise WorkloadError(f"dataset cifar10: {path} has {size} bytes, expected 1 to "
                            f"{BATCH_IMAGES} records of {RECORD} bytes (a label byte and "
                            f"{PIXELS} pixels)")
    return size // RECORD


def read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary-version batch: its uint8 pixels (N, 3072) and int64 labels (N,), both
    checked; reads no more than the size :func:`binary_batch_images` accepted."""
    records = binary_batch_images(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(records * RECORD + 1)
    except OSError as exc:
        raise WorkloadError(f"dataset cifar10: cannot read {path}: {exc}") from exc
    if len(raw) != records * RECORD:
        raise WorkloadError(f"dataset cifar10: {path} changed size while read ({len(raw)} "
                            f"bytes, expected {records * RECORD})")
    table = np.frombuffer(raw, dtype=np.uint8).reshape(records, RECORD)
    labels = table[:, 0].astype(np.int64)
    if labels.max() >= CLASSES:
        record = int(np.argmax(labels >= CLASSES))
        raise WorkloadError(f"dataset cifar10: {path} has label {labels[record]} in record "
                            f"{record}, outside 0..{CLASSES - 1}")
    return table[:, 1:], labels


class _Format(NamedTuple):
    """One version of the archive: its file names, and how a batch is read and counted."""

    kind: str                                             # for the data set's source
    archive: str                                          # the archive's directory name
    train: tuple[str, ...]
    test: str
    read: Callable[[Path], tuple[np.ndarray, np.ndarray]]
    count: Callable[[Path], int]


PYTHON = _Format("python", ARCHIVE_DIR, TRAIN_BATCHES, TEST_BATCH,
                 lambda path: read_batch(path), lambda path: batch_images(path))
BINARY = _Format("binary", "cifar-10-batches-bin", tuple(f"{name}.bin" for name in TRAIN_BATCHES),
                 f"{TEST_BATCH}.bin", read_binary_batch, binary_batch_images)
FORMATS = (PYTHON, BINARY)


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, numbers, strings and numpy arrays; refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)
