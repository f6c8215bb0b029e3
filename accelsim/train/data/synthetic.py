"""Seeded synthetic data of any shape: learnable, never a download, never a file.

What it owns: the ``synthetic`` loader and its shape reader. The workload's seed (the loader's
``seed``) fixes every value, so a run is reproducible; two seeds give two data sets.

Real-valued samples (``vocab`` unset): float32 of ``shape`` in [0, 1], ``classes`` classes,
labels balanced (each class equally often, to within one) and shuffled. Each class has a
prototype drawn once, uniform in [0, 1]; when ``shape`` has two or more axes the prototype is
smooth over its last two (constant over blocks of ``max(1, min(H, W) // 8)`` pixels, so a
32x32 image has 8x8 blocks of structure a convolution can find). A sample is
``clip(0.5 + a * (prototype - 0.5) + noise, 0, 1)`` with a contrast ``a`` drawn per sample from
:data:`CONTRAST` and Gaussian pixel noise of standard deviation :data:`NOISE`: the class is in
the structure, not in any single value, so a model must learn it, and a few iterations show it.

Token sequences (``vocab`` set, ``shape`` = ``[context]``): int64 ids in ``[0, vocab)`` and a
next-token label (``classes`` is ``vocab``, as for the ``text`` data set, so ``charlm``
trains on it). A random first-order Markov chain, drawn once per seed, gives every token
:data:`SUCCESSORS` likely successors (their weights from a flat Dirichlet) and, with probability
:data:`TOKEN_NOISE`, any token; each sample is its own run of the chain from a uniform first
token: ``context`` ids, and the next one as label. A model predicts the label from the last id.

Sizes are bounded (:data:`MAX_SAMPLES` per split, :data:`MAX_SAMPLE_VALUES` per sample and,
for the loader, which builds the samples, :data:`MAX_VALUES` values in all) so a typo cannot
ask for terabytes; the error names the parameter. The shape reader builds nothing, so it takes
data sets too large to load (an ImageNet-sized epoch for a shape-only trace).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.data.base import (
    Dataset,
    DatasetShape,
    check_int,
    register,
    register_shape,
)

MAX_RANK = 4
MAX_SIDE = 65536
MAX_SAMPLE_VALUES = 1 << 24
MAX_SAMPLES = 10_000_000
MAX_VALUES = 1 << 27       # all samples of both splits (512 MiB of float32, 1 GiB of ids)
MAX_CLASSES = 65536
IMAGE_CLASSES = 10         # classes when neither classes nor vocab is given
NOISE = 0.3                # pixel noise, standard deviation
CONTRAST = (0.5, 1.0)      # per-sample contrast of the class prototype
BLOCKS = 8                 # smooth prototypes: about this many blocks along H and W
CHUNK_VALUES = 1 << 22     # samples are generated this many values at a time
SUCCESSORS = 3             # likely next tokens of each token
TOKEN_NOISE = 0.1          # probability of a uniformly random next token


@register("synthetic")
def load_synthetic(*, seed: int, shape: Any = (3, 32, 32), classes: int | None = None,
                   train_samples: int = 1000, test_samples: int = 200,
                   vocab: int | None = None) -> Dataset:
    """Seeded synthetic samples (see the module docstring): float32 images or feature
    vectors of ``shape`` with ``classes`` classes (10 by default), or with ``vocab`` int64
    token sequences of ``shape`` = ``[context]`` labelled by the next token."""
    dims, classes, train, test, vocab = _checked(shape, classes, train_samples, test_samples,
                                                 vocab)
    _check_size(dims, classes, train, test, vocab)
    rng = np.random.default_rng(seed)
    if vocab is None:
        prototypes = _prototypes(rng, dims, classes)
        (x_train, y_train), (x_test, y_test) = (_images(rng, prototypes, n)
                                                for n in (train, test))
        source = (f"synthetic: {classes} class prototypes with contrast and noise, "
                  f"seed {seed}")
    else:
        chain = _chain(rng, vocab)
        (x_train, y_train), (x_test, y_test) = (_sequences(rng, chain, vocab, dims[0], n)
                                                for n in (train, test))
        source = f"synthetic tokens: a random Markov chain over {vocab} tokens, seed {seed}"
    return Dataset(name="synthetic", x_train=x_train, y_train=y_train, x_test=x_test,
                   y_test=y_test, num_classes=classes, source=source)


@register_shape("synthetic")
def synthetic_shape(*, shape: Any = (3, 32, 32), classes: int | None = None,
                    train_samples: int = 1000, test_samples: int = 200,
                    vocab: int | None = None) -> DatasetShape:
    """The shapes ``load_synthetic`` gives: its parameters, checked (all but the bound on the
    values the loader would build)."""
    dims, classes, train, _, _ = _checked(shape, classes, train_samples, test_samples, vocab)
    return DatasetShape(dims, classes, train)


def _checked(shape: Any, classes: Any, train_samples: Any, test_samples: Any, vocab: Any
             ) -> tuple[tuple[int, ...], int, int, int, int | None]:
    dims = _shape(shape)
    train = check_int("synthetic", "train_samples", train_samples, maximum=MAX_SAMPLES)
    test = check_int("synthetic", "test_samples", test_samples, maximum=MAX_SAMPLES)
    if vocab is not None:
        vocab = check_int("synthetic", "vocab", vocab, minimum=2, maximum=MAX_CLASSES)
        if len(dims) != 1:
            raise WorkloadError(f"dataset synthetic: shape must be [context] for token "
                                f"sequences (vocab={vocab}), got {list(dims)}")
        if classes is not None and classes != vocab:
            raise WorkloadError(f"dataset synthetic: classes must equal vocab ({vocab}) for "
                                f"token sequences (the label is the next token), got "
                                f"{shown(classes)}")
        classes = vocab
    elif classes is None:
        classes = IMAGE_CLASSES
    else:
        classes = check_int("synthetic", "classes", classes, minimum=2, maximum=MAX_CLASSES)
    return dims, classes, train, test, vocab


def _check_size(dims: tuple[int, ...], classes: int, train: int, test: int,
                vocab: int | None) -> None:
    """What the loader would build stays below :data:`MAX_VALUES`."""
    per_sample = math.prod(dims)
    values = (train + test) * per_sample
    if values > MAX_VALUES:
        raise WorkloadError(f"dataset synthetic: train_samples + test_samples ({train} + "
                            f"{test}) of shape {list(dims)} make {values} values, above the "
                            f"limit of {MAX_VALUES}")
    if vocab is None and classes * per_sample > MAX_VALUES:
        raise WorkloadError(f"dataset synthetic: classes={classes} prototypes of shape "
                            f"{list(dims)} make {classes * per_sample} values, above the limit "
                            f"of {MAX_VALUES}")


def _shape(shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= MAX_RANK:
        raise WorkloadError(f"dataset synthetic: shape must be a list of 1 to {MAX_RANK} "
                            f"sizes (e.g. [3, 32, 32]), got {shown(shape)}")
    dims = tuple(check_int("synthetic", "shape", size, maximum=MAX_SIDE) for size in shape)
    if math.prod(dims) > MAX_SAMPLE_VALUES:
        raise WorkloadError(f"dataset synthetic: shape {list(dims)} has {math.prod(dims)} "
                            f"values a sample, above the limit of {MAX_SAMPLE_VALUES}")
    return dims


def _prototypes(rng: np.random.Generator, dims: tuple[int, ...], classes: int) -> np.ndarray:
    """One float32 prototype in [0, 1] per class, blocky over the last two axes."""
    if len(dims) < 2:
        return rng.random((classes, *dims), dtype=np.float32)
    height, width = dims[-2:]
    block = max(1, min(height, width) // BLOCKS)
    coarse = rng.random((classes, *dims[:-2], -(-height // block), -(-width // block)),
                        dtype=np.float32)
    fine = coarse.repeat(block, axis=-2).repeat(block, axis=-1)
    return np.ascontiguousarray(fine[..., :height, :width])


def _images(rng: np.random.Generator, prototypes: np.ndarray, count: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` samples around the prototypes, balanced labels, generated in chunks."""
    classes, dims = len(prototypes), prototypes.shape[1:]
    labels = rng.permutation(np.arange(count) % classes).astype(np.int64)
    x = np.empty((count, *dims), dtype=np.float32)
    step = max(1, CHUNK_VALUES // math.prod(dims))
    for start in range(0, count, step):
        chosen = labels[start:start + step]
        contrast = rng.uniform(*CONTRAST, size=(len(chosen),) + (1,) * len(dims))
        chunk = rng.standard_normal((len(chosen), *dims), dtype=np.float32)
        chunk *= NOISE
        chunk += 0.5 + contrast.astype(np.float32) * (prototypes[chosen] - 0.5)
        np.clip(chunk, 0.0, 1.0, out=chunk)
        x[start:start + len(chosen)] = chunk
    return x, labels


def _chain(rng: np.random.Generator, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """Each token's likely successors and their cumulative weights."""
    successors = rng.integers(0, vocab, size=(vocab, SUCCESSORS))
    cumulative = np.cumsum(rng.dirichlet(np.ones(SUCCESSORS), size=vocab), axis=1)
    cumulative[:, -1] = 1.0
    return successors, cumulative


def _sequences(rng: np.random.Generator, chain: tuple[np.ndarray, np.ndarray], vocab: int,
               context: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` independent runs of the chain: ``context`` ids as input, the next as label."""
    successors, cumulative = chain
    tokens = np.empty((count, context + 1), dtype=np.int64)
    tokens[:, 0] = rng.integers(0, vocab, size=count)
    for i in range(1, context + 1):
        current = tokens[:, i - 1]
        pick = (rng.random((count, 1)) >= cumulative[current]).sum(axis=1)
        following = successors[current, np.minimum(pick, SUCCESSORS - 1)]
        random = rng.integers(0, vocab, size=count)
        tokens[:, i] = np.where(rng.random(count) < TOKEN_NOISE, random, following)
    return np.ascontiguousarray(tokens[:, :context]), tokens[:, context].copy()
