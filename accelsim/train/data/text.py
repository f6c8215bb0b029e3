"""A character-level language-modelling corpus made from text that ships with Python itself.

What it owns: the ``text`` loader, its shape reader and the corpus it reads. No download.

Corpus: the help texts of ``pydoc_data.topics.topics`` (the pages ``help("if")`` shows; about
465,000 characters in Python 3.11), in sorted key order, separated by blank lines. Some
distributions strip ``pydoc_data``; then the corpus is the docstrings of :data:`FALLBACK_MODULES`
and of the public classes and functions each defines, in that order and sorted by name. Either
way the text depends on the Python version, which ``source`` records.

The first ``max_chars`` characters are kept; the vocabulary is their sorted unique characters.
The first ``1 - test_fraction`` of them are the training text and the rest the test text (cut in
two, never interleaved, so no test window overlaps a training one). Every ``stride``-th position
of each part gives one sample: ``context`` character ids as input and the next character's id as
label.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError
from accelsim.train.data.base import (
    Dataset,
    DatasetShape,
    check_fraction,
    check_int,
    register,
    register_shape,
)

FALLBACK_MODULES = ("argparse", "collections", "contextlib", "csv", "dataclasses", "datetime",
                    "difflib", "enum", "fractions", "functools", "heapq", "inspect", "itertools",
                    "json", "logging", "pathlib", "pickle", "queue", "random", "re", "shutil",
                    "statistics", "string", "subprocess", "tarfile", "textwrap", "threading",
                    "unittest", "zipfile")
TOPIC_SEPARATOR = "\n\n"


@register("text")
def load_text(*, seed: int, context: int = 16, max_chars: int | None = 200_000,
              test_fraction: float = 0.1, stride: int = 1) -> Dataset:
    """Next-character prediction: x int64 (N, context) character ids, y int64 (N,).

    ``max_chars`` caps the corpus (None keeps all of it). ``stride`` spaces the windows (1: one
    per character). The corpus and split are fixed; ``seed`` does not change them.
    """
    context, max_chars, test_fraction, stride = _checked(context, max_chars, test_fraction,
                                                         stride)
    corpus, origin = python_corpus()
    text = corpus if max_chars is None else corpus[:max_chars]
    vocab = sorted(set(text))
    codes = np.fromiter((ord(ch) for ch in text), dtype=np.int64, count=len(text))
    ids = np.searchsorted(np.array([ord(ch) for ch in vocab], dtype=np.int64), codes)
    cut = _cut(len(ids), context, max_chars, test_fraction)
    parts = {part: windows(segment, context, stride)
             for part, segment in (("train", ids[:cut]), ("test", ids[cut:]))}
    kept = f"first {len(text)} of {len(corpus)} characters"
    return Dataset(name="text", x_train=parts["train"][0], y_train=parts["train"][1],
                   x_test=parts["test"][0], y_test=parts["test"][1], num_classes=len(vocab),
                   source=f"{origin}, {kept}", vocab=tuple(vocab))


@register_shape("text")
def text_shape(*, context: int = 16, max_chars: int | None = 200_000,
               test_fraction: float = 0.1, stride: int = 1) -> DatasetShape:
    """The shapes ``load_text`` gives, from the corpus's length and character set alone."""
    context, max_chars, test_fraction, stride = _checked(context, max_chars, test_fraction,
                                                         stride)
    corpus, _ = python_corpus()
    text = corpus if max_chars is None else corpus[:max_chars]
    cut = _cut(len(text), context, max_chars, test_fraction)
    return DatasetShape((context,), len(set(text)), len(range(0, cut - context, stride)))


def _checked(context: Any, max_chars: Any, test_fraction: Any, stride: Any
             ) -> tuple[int, int | None, float, int]:
    context = check_int("text", "context", context)
    if max_chars is not None:
        max_chars = check_int("text", "max_chars", max_chars)
    return (context, max_chars, check_fraction("text", "test_fraction", test_fraction),
            check_int("text", "stride", stride))


def _cut(length: int, context: int, max_chars: int | None, test_fraction: float) -> int:
    """Where the training text ends; each part must be longer than the context."""
    cut = round(length * (1.0 - test_fraction))
    for part, size in (("train", cut), ("test", length - cut)):
        if size <= context:
            raise WorkloadError(f"dataset text: the {part} text has {size} characters, "
                                f"not more than context={context} (max_chars={max_chars}, "
                                f"test_fraction={test_fraction})")
    return cut


def windows(ids: np.ndarray, context: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``ids[i:i+context]`` and labels ``ids[i+context]`` for i = 0, stride, 2*stride..."""
    starts = np.arange(0, len(ids) - context, stride)
    x = np.lib.stride_tricks.sliding_window_view(ids, context)[starts]
    return np.ascontiguousarray(x, dtype=np.int64), ids[starts + context].astype(np.int64)


def python_corpus() -> tuple[str, str]:
    """The corpus text and a description of where it came from."""
    version = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:
        return docstring_corpus(), (f"docstrings of {len(FALLBACK_MODULES)} stdlib modules, "
                                    f"{version} (pydoc_data unavailable: {exc})")
    text = TOPIC_SEPARATOR.join(topics[key] for key in sorted(topics))
    return text, f"pydoc_data.topics of {version} ({len(topics)} help topics, sorted by key)"


def docstring_corpus() -> str:
    """Docstrings of :data:`FALLBACK_MODULES` and of what each defines, in a fixed order."""
    docs = []
    for name in FALLBACK_MODULES:
        module = importlib.import_module(name)
        docs.append(_doc(module))
        for attr, value in sorted(vars(module).items()):
            if not attr.startswith("_") and _defined_in(value, module.__name__):
                docs.append(_doc(value))
    return TOPIC_SEPARATOR.join(doc for doc in docs if doc)


def _defined_in(value: Any, module: str) -> bool:
    return ((inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value))
            and getattr(value, "__module__", None) == module)


def _doc(value: Any) -> str:
    doc = getattr(value, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""
