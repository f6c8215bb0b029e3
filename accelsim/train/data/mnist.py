"""A reader for MNIST in its original IDX files, for users who have them on disk.

What it owns: the ``mnist`` loader, its shape reader (image headers and label files only) and
the IDX parser. No download: ``path`` names a directory
holding the four files of the original distribution, each plain or gzipped (``.gz``), named
with a dash or a dot before ``idx`` (both spellings circulate)::

    train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte

IDX layout: a big-endian magic number ``0x00 0x00 <type> <ndim>`` (type 0x08: unsigned byte),
``ndim`` big-endian uint32 sizes, then the data in row-major order. The magic number, the
sizes against the file length, the image/label counts and the label range are all checked.
Any other data set in the same format (Fashion-MNIST, for instance) reads the same way.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError
from accelsim.train.data.base import (
    Dataset,
    DatasetShape,
    check_dir,
    check_int,
    check_limit,
    limited,
    register,
    register_shape,
    take,
)

UNSIGNED_BYTE = 0x08
OFFICIAL_SIDE, OFFICIAL_TRAIN = 28, 60000  # the official MNIST, for shapes without the files
FILES = {  # (split stem, kind) -> number of dimensions
    ("train", "images"): 3, ("train", "labels"): 1,
    ("t10k", "images"): 3, ("t10k", "labels"): 1,
}


@register("mnist")
def load_mnist(*, seed: int, path: Any = None, limit_train: int | None = None,
               limit_test: int | None = None, num_classes: int = 10) -> Dataset:
    """MNIST from ``path`` as (N, 1, 28, 28) float32 in [0, 1] (pixel / 255).

    ``limit_train`` / ``limit_test`` keep the first so many samples of each split (all when
    unset); ``num_classes`` is the number of classes the labels may use. The split is the
    files' own (60000 / 10000 for MNIST); ``seed`` does not change it.
    """
    directory, limits, num_classes = _checked(path, limit_train, limit_test, num_classes)
    splits = {}
    for stem, (limit, key) in limits.items():
        images_file, labels_file = (find_idx(directory, stem, kind) for kind in ("images",
                                                                                 "labels"))
        images = read_idx(images_file, ndim=3)
        labels = read_idx(labels_file, ndim=1)
        _check_labels(images_file, len(images), labels_file, labels, num_classes)
        images, labels = take(images, labels, limit, dataset="mnist", key=key,
                              where=images_file.name)
        splits[stem] = (images[:, None].astype(np.float32) / 255.0, labels.astype(np.int64))
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["t10k"]
    if x_train.shape[1:] != x_test.shape[1:]:
        raise WorkloadError(f"dataset mnist: train images are {x_train.shape[2:]} but test "
                            f"images {x_test.shape[2:]} in {directory}")
    return Dataset(name="mnist", x_train=x_train, y_train=y_train, x_test=x_test,
                   y_test=y_test, num_classes=num_classes, source=f"IDX files in {directory}")


@register_shape("mnist")
def mnist_shape(*, path: Any = None, limit_train: int | None = None,
                limit_test: int | None = None, num_classes: int = 10) -> DatasetShape:
    """The shapes ``load_mnist`` gives, from the image files' IDX headers (and their sizes) and
    the label files (one byte a sample), with the loader's checks. Without the files (no
    ``path``, or one that is not a directory here) the official MNIST's: 28x28 images, 60000
    to train, so a shape-only trace needs no data."""
    if path is None or not Path(path).expanduser().is_dir():
        limit = check_limit("mnist", "limit_train", limit_train)
        check_limit("mnist", "limit_test", limit_test)
        classes = check_int("mnist", "num_classes", num_classes, minimum=2)
        train = limited(OFFICIAL_TRAIN, limit, dataset="mnist", key="limit_train",
                        where="the official training set")
        return DatasetShape((1, OFFICIAL_SIDE, OFFICIAL_SIDE), classes, train)
    directory, limits, num_classes = _checked(path, limit_train, limit_test, num_classes)
    sizes = {}
    for stem, (limit, key) in limits.items():
        images_file, labels_file = (find_idx(directory, stem, kind) for kind in ("images",
                                                                                 "labels"))
        shape = read_idx_header(images_file, ndim=3)
        labels = read_idx(labels_file, ndim=1)
        _check_labels(images_file, shape[0], labels_file, labels, num_classes)
        kept = limited(shape[0], limit, dataset="mnist", key=key, where=images_file.name)
        sizes[stem] = (kept, shape[1:])
    (train, side), (_, test_side) = sizes["train"], sizes["t10k"]
    if side != test_side:
        raise WorkloadError(f"dataset mnist: train images are {side} but test images "
                            f"{test_side} in {directory}")
    return DatasetShape((1, *side), num_classes, train)


def _checked(path: Any, limit_train: Any, limit_test: Any, num_classes: Any
             ) -> tuple[Path, dict[str, tuple[int | None, str]], int]:
    """The directory, each split's (limit, its key) and the class count, checked."""
    directory = check_dir("mnist", path, "train-images-idx3-ubyte and the other IDX files")
    limits = {"train": (check_limit("mnist", "limit_train", limit_train), "limit_train"),
              "t10k": (check_limit("mnist", "limit_test", limit_test), "limit_test")}
    return directory, limits, check_int("mnist", "num_classes", num_classes, minimum=2)


def _check_labels(images_file: Path, images: int, labels_file: Path, labels: np.ndarray,
                  num_classes: int) -> None:
    if images != len(labels):
        raise WorkloadError(f"dataset mnist: {images_file.name} holds {images} images "
                            f"but {labels_file.name} holds {len(labels)} labels")
    if len(labels) and labels.max() >= num_classes:
        raise WorkloadError(f"dataset mnist: {labels_file.name} has label {labels.max()}, "
                            f"beyond num_classes={num_classes}")


def find_idx(directory: Path, stem: str, kind: str) -> Path:
    """The file for one (split, kind), in any of its accepted spellings."""
    ndim = FILES[(stem, kind)]
    names = [f"{stem}-{kind}{sep}idx{ndim}-ubyte{gz}" for sep in ("-", ".") for gz in ("", ".gz")]
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise WorkloadError(f"dataset mnist: no {names[0]} (or .gz) in {directory}")


def read_idx(path: Path, *, ndim: int) -> np.ndarray:
    """The unsigned-byte array an IDX file holds, checked against ``ndim`` and its length."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise WorkloadError(f"dataset mnist: cannot read {path}: {exc}") from exc
    shape = _parse_header(path, data, ndim)
    _check_length(path, len(data), shape)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def read_idx_header(path: Path, *, ndim: int) -> tuple[int, ...]:
    """The shape an IDX file's header declares, reading only the header (a plain file's length
    is checked against it too; a gzipped one's is checked when it is loaded)."""
    header = 4 + 4 * ndim
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                data = handle.read(header)
        else:
            with path.open("rb") as handle:
                data = handle.read(header)
    except (OSError, EOFError, zlib.error) as exc:
        raise WorkloadError(f"dataset mnist: cannot read {path}: {exc}") from exc
    shape = _parse_header(path, data, ndim)
    if path.suffix != ".gz":
        _check_length(path, path.stat().st_size, shape)
    return shape


def _parse_header(path: Path, data: bytes, ndim: int) -> tuple[int, ...]:
    header = 4 + 4 * ndim
    if len(data) < header:
        raise WorkloadError(f"dataset mnist: {path} has {len(data)} bytes, too short for an "
                            f"IDX header")
    magic = int.from_bytes(data[:4], "big")
    expected = (UNSIGNED_BYTE << 8) | ndim
    if magic != expected:
        raise WorkloadError(f"dataset mnist: {path} has magic number 0x{magic:08X}, expected "
                            f"0x{expected:08X} (unsigned bytes, {ndim} dimensions)")
    return tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))


def _check_length(path: Path, length: int, shape: tuple[int, ...]) -> None:
    size = 4 + 4 * len(shape) + math.prod(shape)
    if length != size:
        raise WorkloadError(f"dataset mnist: {path} has {length} bytes, its header "
                            f"{list(shape)} needs {size}")
