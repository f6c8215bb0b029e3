"""What a data set is, how one is named and loaded, and how it is cut into mini-batches.

What it owns: the frozen :class:`Dataset`; the loader registry (:func:`register` fills a
name -> loader table, :func:`load_dataset` checks the parameters against the loader's keyword
signature and calls it, an unknown name raises an error listing the valid ones); the shape
registry (:func:`register_shape`, :func:`dataset_shape`: a data set's :class:`DatasetShape`
from its parameters, constants and file headers, without loading it, for a tracer that needs
shapes only); the parameter checks every loader shares; the seeded stratified split; and
:func:`batches`.

Every bad input raises :class:`accelsim.errors.WorkloadError` with one line naming the data set,
the parameter (or file) and the bad value.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from accelsim.errors import WorkloadError, shown


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split, ready for training; its arrays are read-only.

    Images are float32 NCHW in [0, 1]; text inputs are int64 character ids of shape
    (N, context); labels are int64 in ``[0, num_classes)``. ``source`` says where the data came
    from (a library function, a directory, or a synthetic fallback and why). ``vocab`` is the
    character of each id for text data sets, empty otherwise.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str
    vocab: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if len(x) != len(y) or len(x) == 0:
                raise WorkloadError(f"dataset {self.name}: {part} split has {len(x)} inputs and "
                                    f"{len(y)} labels; need the same non-zero count")
            x.setflags(write=False)
            y.setflags(write=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input: (C, H, W) for images, (context,) for text."""
        return tuple(self.x_train.shape[1:])

    @property
    def uniform_loss(self) -> float:
        """Cross-entropy of a model that knows nothing (uniform over classes): ln(num_classes)."""
        return math.log(self.num_classes)

    def prior_loss(self) -> float:
        """Test cross-entropy of always predicting the training label frequencies (add-one
        smoothed): the bar a model clears by learning anything beyond class (or unigram) counts."""
        counts = np.bincount(self.y_train, minlength=self.num_classes) + 1.0
        log_p = np.log(counts / counts.sum())
        return float(-log_p[self.y_test].mean())

    def decode(self, ids: np.ndarray) -> str:
        """The text a sequence of character ids stands for (text data sets only)."""
        if not self.vocab:
            raise WorkloadError(f"dataset {self.name}: decode needs a text data set (no vocab)")
        return "".join(self.vocab[int(i)] for i in np.asarray(ids).reshape(-1))


class DatasetShape(NamedTuple):
    """What a model needs to know of a data set before seeing any of it: the shape of one input
    (``Dataset.input_shape``), the number of classes and the training samples (after any
    limit the parameters set)."""

    input_shape: tuple[int, ...]
    classes: int
    train_samples: int


Loader = Callable[..., Dataset]
LOADERS: dict[str, Loader] = {}
ShapeReader = Callable[..., DatasetShape]
SHAPES: dict[str, ShapeReader] = {}


def register(name: str) -> Callable[[Loader], Loader]:
    """Decorator: ``@register("digits")`` puts a loader in :data:`LOADERS` under that name.

    A loader takes keyword-only arguments: ``seed`` and its own documented parameters.
    """

    def add(loader: Loader) -> Loader:
        if name in LOADERS:
            raise ValueError(f"dataset {shown(name)} registered twice")
        LOADERS[name] = loader
        return loader

    return add


def register_shape(name: str) -> Callable[[ShapeReader], ShapeReader]:
    """Decorator: ``@register_shape("digits")`` gives data set ``name`` its shape reader, which
    takes the loader's parameters except ``seed`` (no shape depends on it) and returns the
    :class:`DatasetShape` the loader would give, without building the arrays."""

    def add(reader: ShapeReader) -> ShapeReader:
        if name in SHAPES:
            raise ValueError(f"dataset {shown(name)} shape reader registered twice")
        SHAPES[name] = reader
        return reader

    return add


def dataset_names() -> list[str]:
    return sorted(LOADERS)


def dataset_params(name: str) -> dict[str, Any]:
    """The parameters a data set takes (other than ``seed``) and their defaults."""
    loader = _loader(name)
    return {p.name: p.default for p in inspect.signature(loader).parameters.values()
            if p.name != "seed"}


def load_dataset(name: str, *, seed: int, **params: Any) -> Dataset:
    """Build data set ``name`` with ``params`` (see each loader's docstring), split by ``seed``."""
    loader = _loader(name)
    _check_params(name, params)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise WorkloadError(f"dataset {name}: seed must be an integer >= 0, got {shown(seed)}")
    return loader(seed=int(seed), **params)


def dataset_shape(name: str, params: dict[str, Any]) -> DatasetShape:
    """The shapes data set ``name`` has with ``params`` (the workload's ``dataset.params``),
    read without loading its samples: from constants, the parameters, and file headers (a few
    bytes of each file; label files, N small integers, where the class count depends on them).
    Bad parameters and broken files raise the errors :func:`load_dataset` would."""
    _loader(name)
    params = dict(params or {})
    _check_params(name, params)
    reader = SHAPES.get(name)
    if reader is None:
        raise WorkloadError(f"dataset {name}: its shapes cannot be read without loading it "
                            "(no shape reader registered)")
    return reader(**params)


def _check_params(name: str, params: dict[str, Any]) -> None:
    valid = dataset_params(name)
    for key in params:
        if key not in valid:
            raise WorkloadError(f"dataset {name}: unknown param {shown(key)}; valid: "
                                f"{', '.join(sorted(valid)) or '(none)'}")


def _loader(name: str) -> Loader:
    if name not in LOADERS:
        raise WorkloadError(f"unknown dataset {shown(name)}; valid: {', '.join(dataset_names())}")
    return LOADERS[name]


# --- parameter checks shared by the loaders ------------------------------------------------


def check_int(dataset: str, key: str, value: Any, *, minimum: int = 1,
              maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise WorkloadError(f"dataset {dataset}: {key} must be an integer, got {shown(value)}")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise WorkloadError(f"dataset {dataset}: {key} must be {bound}, got {shown(value)}")
    return number


def check_limit(dataset: str, key: str, value: Any) -> int | None:
    """An optional cap on a split's size: None (everything) or an integer >= 1."""
    return None if value is None else check_int(dataset, key, value)


def check_fraction(dataset: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not 0 < float(value) < 1:
        raise WorkloadError(f"dataset {dataset}: {key} must be a number in (0, 1), "
                            f"got {shown(value)}")
    return float(value)


def check_flag(dataset: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise WorkloadError(f"dataset {dataset}: {key} must be true or false, got {shown(value)}")
    return value


def check_dir(dataset: str, value: Any, holds: str) -> Path:
    """The ``path`` parameter: an existing directory (``~`` expanded)."""
    if value is None:
        raise WorkloadError(f"dataset {dataset}: needs a path param, a directory holding {holds}")
    if not isinstance(value, (str, Path)):
        raise WorkloadError(f"dataset {dataset}: path must be a string, got {shown(value)}")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise WorkloadError(f"dataset {dataset}: path {str(path)!r} is not a directory")
    return path


def take(x: np.ndarray, y: np.ndarray, limit: int | None, *, dataset: str, key: str,
         where: str) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` samples (all when None); a limit beyond what exists is an error."""
    kept = limited(len(x), limit, dataset=dataset, key=key, where=where)
    return (x, y) if limit is None else (x[:kept], y[:kept])


def limited(count: int, limit: int | None, *, dataset: str, key: str, where: str) -> int:
    """How many of ``count`` samples :func:`take` keeps (the shape readers' arithmetic)."""
    if limit is None:
        return count
    if limit > count:
        raise WorkloadError(f"dataset {dataset}: {key}={limit} exceeds the {count} samples "
                            f"in {where}")
    return limit


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int, *,
                     dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices: each class shuffled with ``seed`` and ``round(n * fraction)``
    of it sent to test; both index lists are then shuffled, so classes are interleaved."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        cut = round(len(members) * test_fraction)
        test.append(members[:cut])
        train.append(members[cut:])
    train_idx, test_idx = np.concatenate(train), np.concatenate(test)
    _check_split(len(train_idx), len(test_idx), test_fraction, dataset)
    return rng.permutation(train_idx), rng.permutation(test_idx)


def stratified_sizes(class_counts: Sequence[int], test_fraction: float, *,
                     dataset: str) -> tuple[int, int]:
    """(train, test) sizes :func:`stratified_split` gives labels with these class counts (the
    same rounding, the same error), without the labels."""
    test = sum(round(n * test_fraction) for n in class_counts)
    train = sum(class_counts) - test
    _check_split(train, test, test_fraction, dataset)
    return train, test


def _check_split(train: int, test: int, test_fraction: float, dataset: str) -> None:
    if train == 0 or test == 0:
        raise WorkloadError(f"dataset {dataset}: test_fraction={test_fraction} leaves "
                            f"{train} train and {test} test samples")


# --- mini-batches --------------------------------------------------------------------------


def batch_count(n: int, batch_size: int, *, drop_last: bool = False) -> int:
    """How many batches :func:`batches` yields for ``n`` samples."""
    return n // batch_size if drop_last else -(-n // batch_size)


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, *,
            rng: np.random.Generator | None, shuffle: bool = True,
            drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x_batch, y_batch)`` pairs covering the samples once, in an order drawn from
    ``rng`` when ``shuffle`` (rng may be None otherwise). The last batch is smaller unless
    ``drop_last``. Batches are fresh arrays, safe to modify."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise WorkloadError(f"batch_size must be an integer >= 1, got {shown(batch_size)}")
    if len(x) != len(y):
        raise WorkloadError(f"batches: {len(x)} inputs but {len(y)} labels")
    if shuffle and rng is None:
        raise WorkloadError("batches: shuffle=True needs an rng (numpy Generator)")
    order = rng.permutation(len(x)) if shuffle and rng is not None else np.arange(len(x))
    for start in range(0, batch_count(len(x), batch_size, drop_last=drop_last) * batch_size,
                       batch_size):
        index = order[start:start + batch_size]
        yield x[index], y[index]
