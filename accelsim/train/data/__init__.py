"""Data sets for training: what a data set is, the loaders by name, and mini-batches.

``base``: :class:`Dataset`, the loader registry (:func:`load_dataset`), the shape registry
(:func:`dataset_shape`: a data set's :class:`DatasetShape` without loading it), parameter checks
and :func:`batches`. One module per source, each registering its loader and shape reader:
``digits`` (scikit-learn's 8x8 digits, or a synthetic stand-in), ``mnist`` (local IDX files),
``cifar`` (local CIFAR-10, python or binary batches), ``imagenet`` (local image folders,
train/<class>/ and val/<class>/, decoded with Pillow), ``text`` (a character-level corpus from
text shipped with Python), ``synthetic`` (seeded learnable samples of any shape, or token sequences) and
``npz`` (your own arrays in a NumPy archive).
"""

from accelsim.train.data import (  # noqa: F401  (fill the registries)
    cifar,
    digits,
    imagenet,
    mnist,
    npz,
    synthetic,
    text,
)
from accelsim.train.data.base import (
    LOADERS,
    Dataset,
    DatasetShape,
    batch_count,
    batches,
    dataset_names,
    dataset_params,
    dataset_shape,
    load_dataset,
)

__all__ = ["LOADERS", "Dataset", "DatasetShape", "batch_count", "batches", "dataset_names",
           "dataset_params", "dataset_shape", "load_dataset"]
