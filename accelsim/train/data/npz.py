"""Your own arrays: a NumPy ``.npz`` archive with a train and a test split.

What it owns: the ``npz`` loader, its shape reader and the checks between them. ``path`` names
an archive written by ``numpy.savez`` (or ``savez_compressed``) holding four arrays:

=========== =====================================================================
``x_train`` inputs, one sample per row: (N, ...) floats, or integers (token ids)
``y_train`` labels, (N,) integers in ``0 .. classes - 1``
``x_test``  inputs of the same sample shape, (M, ...)
``y_test``  labels, (M,)
=========== =====================================================================

Other arrays in the archive are ignored. Float inputs are kept as given, as float32 (scale them
yourself, e.g. to [0, 1]); integer inputs are token ids for an embedding, int64, so they must be
>= 0. ``classes`` is the largest label plus one unless the ``classes`` param sets it (it must
cover every label). Arrays of Python objects are refused without being unpickled
(``allow_pickle=False``): an archive cannot run code.

Bounded: the headers are read and checked first, and an archive whose four arrays declare more
than :data:`MAX_VALUES` values in all, or whose array holds other than the bytes its header
declares, is refused before any array is read (so neither a typo nor a zip bomb allocates
more than the archive really holds, up to that limit).

Every problem is one :class:`~accelsim.errors.WorkloadError` line naming the file and the
array. The shape reader reads only the four ``.npy`` headers (a few bytes each, the samples stay
compressed or on disk) and the two label arrays (the class count depends on them).
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.data.base import Dataset, DatasetShape, check_int, register, register_shape

ARRAYS = ("x_train", "y_train", "x_test", "y_test")
MAX_CLASSES = 1 << 20
MAX_VALUES = 1 << 28  # in the four arrays together (CIFAR-10 whole: 184 million)
_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile,
                NotImplementedError, RuntimeError, MemoryError)


class Header(NamedTuple):
    """What an ``.npy`` header says of one array."""

    shape: tuple[int, ...]
    dtype: np.dtype


@register("npz")
def load_npz(*, seed: int, path: Any = None, classes: int | None = None) -> Dataset:
    """The four arrays of the archive at ``path`` (module docstring), checked; ``seed`` does
    not change them (the split is the archive's own)."""
    file, classes = _checked(path, classes)
    read_headers(file)  # every header checked before any array is read
    arrays = {key: _read(file, key) for key in ARRAYS}
    classes = _classes(file, arrays["y_train"], arrays["y_test"], classes)
    inputs = {key: _inputs(file, key, arrays[key]) for key in ("x_train", "x_test")}
    return Dataset(name="npz", x_train=inputs["x_train"],
                   y_train=arrays["y_train"].astype(np.int64), x_test=inputs["x_test"],
                   y_test=arrays["y_test"].astype(np.int64), num_classes=classes,
                   source=f"arrays in {file}")


@register_shape("npz")
def npz_shape(*, path: Any = None, classes: int | None = None) -> DatasetShape:
    """The shapes ``load_npz`` gives, from the archive's headers and its labels."""
    file, classes = _checked(path, classes)
    headers = read_headers(file)
    classes = _classes(file, _read(file, "y_train"), _read(file, "y_test"), classes)
    shape = headers["x_train"].shape
    return DatasetShape(tuple(shape[1:]), classes, shape[0])


def _checked(path: Any, classes: Any) -> tuple[Path, int | None]:
    if path is None:
        raise WorkloadError(f"dataset npz: needs a path param, an .npz file holding "
                            f"{', '.join(ARRAYS)}")
    if not isinstance(path, (str, Path)):
        raise WorkloadError(f"dataset npz: path must be a string, got {shown(path)}")
    file = Path(path).expanduser()
    if not file.is_file():
        raise WorkloadError(f"dataset npz: path {str(file)!r} is not a file")
    if classes is not None:
        classes = check_int("npz", "classes", classes, minimum=2, maximum=MAX_CLASSES)
    return file, classes


def _error(file: Path, message: str) -> WorkloadError:
    return WorkloadError(f"dataset npz: {file}: {message}")


def read_headers(file: Path) -> dict[str, Header]:
    """The headers of the four arrays, each checked (dtype, dimensions) and checked against
    each other (sample counts, sample shapes); the samples themselves are not read."""
    if not zipfile.is_zipfile(file):
        raise _error(file, "not an .npz archive (not a zip file; write it with numpy.savez)")
    headers = {}
    try:
        with zipfile.ZipFile(file) as archive:
            members = {name[:-len(".npy")]: name for name in archive.namelist()
                       if name.endswith(".npy")}
            missing = [key for key in ARRAYS if key not in members]
            if missing:
                present = ", ".join(sorted(members)) or "no arrays"
                raise _error(file, f"no {' or '.join(missing)} array (it holds {present})")
            for key in ARRAYS:
                with archive.open(members[key]) as handle:
                    headers[key] = _header(file, key, handle)
                    held = archive.getinfo(members[key]).file_size - handle.tell()
                _check_size(file, key, headers[key], held)
    except _READ_ERRORS as exc:
        raise _error(file, f"cannot read it ({type(exc).__name__}: {exc})") from exc
    _check_headers(file, headers)
    return headers


def _header(file: Path, key: str, handle: IO[bytes]) -> Header:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read here")
    except _READ_ERRORS as exc:
        raise _error(file, f"{key} is not a readable .npy array ({exc})") from exc
    return Header(tuple(int(n) for n in shape), np.dtype(dtype))


def _check_size(file: Path, key: str, header: Header, held: int) -> None:
    """The array's data, as its header declares it, is what the archive member holds."""
    shape, dtype = header
    if dtype.hasobject:
        return  # refused by _check_headers, with its own message
    declared = math.prod(shape) * dtype.itemsize
    if declared != held:
        raise _error(file, f"{key} declares {list(shape)} of {dtype} ({declared} bytes) but "
                           f"holds {held} bytes of data")


def _check_headers(file: Path, headers: dict[str, Header]) -> None:
    for key, (shape, dtype) in headers.items():
        if dtype.hasobject:
            raise _error(file, f"{key} holds Python objects (a pickled object array); only "
                               "numeric arrays are read (allow_pickle=False)")
        if key.startswith("x"):
            if dtype.kind not in "fiu":
                raise _error(file, f"{key} has dtype {dtype}; inputs must be floats or "
                                   "integers (token ids)")
            if len(shape) < 2:
                raise _error(file, f"{key} has shape {list(shape)}; inputs need a sample axis "
                                   "and at least one more")
        else:
            if dtype.kind not in "iu":
                raise _error(file, f"{key} has dtype {dtype}; labels must be integers")
            if len(shape) != 1:
                raise _error(file, f"{key} has shape {list(shape)}; labels must be 1-D")
        if shape[0] == 0:
            raise _error(file, f"{key} is empty")
        if 0 in shape[1:]:
            raise _error(file, f"{key} has shape {list(shape)}; its samples are empty")
    values = sum(math.prod(header.shape) for header in headers.values())
    if values > MAX_VALUES:
        sizes = ", ".join(f"{key} {list(header.shape)}" for key, header in headers.items())
        raise _error(file, f"the arrays hold {values} values ({sizes}), above the limit of "
                           f"{MAX_VALUES}")
    for part in ("train", "test"):
        x, y = headers[f"x_{part}"].shape, headers[f"y_{part}"].shape
        if x[0] != y[0]:
            raise _error(file, f"x_{part} holds {x[0]} samples but y_{part} {y[0]} labels")
    train, test = headers["x_train"].shape[1:], headers["x_test"].shape[1:]
    if train != test:
        raise _error(file, f"x_test samples have shape {list(test)}, x_train samples "
                           f"{list(train)}")


def _read(file: Path, key: str) -> np.ndarray:
    """One array of the archive, never unpickling (its header has been checked)."""
    try:
        with np.load(file, allow_pickle=False) as archive:
            return np.asarray(archive[key])
    except _READ_ERRORS as exc:
        raise _error(file, f"cannot read {key} ({type(exc).__name__}: {exc})") from exc


def _classes(file: Path, y_train: np.ndarray, y_test: np.ndarray, classes: int | None) -> int:
    """The class count: ``classes`` when given (every label below it), else the largest label
    plus one (at least two)."""
    for key, labels in (("y_train", y_train), ("y_test", y_test)):
        low = int(labels.min())
        if low < 0:
            raise _error(file, f"{key} has label {low}; labels must be >= 0")
        high = int(labels.max())
        if classes is not None and high >= classes:
            raise _error(file, f"{key} has label {high}, outside 0..{classes - 1} "
                               f"(classes={classes})")
        if high >= MAX_CLASSES:
            raise _error(file, f"{key} has label {high}, above the limit of {MAX_CLASSES - 1}")
    if classes is None:
        classes = int(max(y_train.max(), y_test.max())) + 1
        if classes < 2:
            raise _error(file, "every label is 0; training needs at least two classes (or set "
                               "the classes param)")
    return classes


def _inputs(file: Path, key: str, x: np.ndarray) -> np.ndarray:
    """Inputs as the trainer takes them, checked after the conversion: floats as float32, all
    finite (a float64 beyond float32's range would become inf); integers as int64 ids >= 0."""
    if x.dtype.kind == "f":
        with np.errstate(over="ignore"):
            converted = x.astype(np.float32)
        bad = ~np.isfinite(converted)
        if bad.any():
            sample = int(np.argwhere(bad)[0][0])
            raise _error(file, f"{key} holds {int(bad.sum())} values that are not finite in "
                               f"float32 (NaN, inf or beyond 3.4e38), the first in sample "
                               f"{sample}")
        return converted
    if x.dtype == np.uint64 and x.size and int(x.max()) > np.iinfo(np.int64).max:
        raise _error(file, f"{key} holds token id {int(x.max())}, beyond int64")
    converted = x.astype(np.int64)
    if converted.size and int(converted.min()) < 0:
        raise _error(file, f"{key} holds token id {int(converted.min())}; integer inputs are "
                           "ids for an embedding and must be >= 0")
    return converted
