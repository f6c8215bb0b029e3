"""A reader for ImageNet (or any image collection) in the usual class-folder layout.

What it owns: the ``imagenet`` loader, its shape reader (from the directory listing alone),
the listing of the tree and the decoding of one image. No download: ``path`` names a
directory holding ``train/<class>/*`` and ``val/<class>/*`` (torchvision's ImageFolder
layout; ImageNet's flat validation folder must first be sorted into class folders, as its
``valprep.sh`` does). Images are the files ending in ``.JPEG``, ``.jpg``, ``.jpeg`` or ``.png``
(any case); other files are ignored. A class's index is its folder's place in the sorted
``train`` folder names; every ``val`` class folder must also be a ``train`` one.

Images are decoded with Pillow (``pip install 'accelsim[imagenet]'``, imported only when
images are loaded), converted to RGB, resized so the shorter side is ``size * 256 / 224``
(bilinear) and centre-cropped to ``size`` x ``size``: the standard evaluation transform. Each
split lists its files class by class in turn (the first file of every class, then the second,
...), so a cap (``train_samples``, ``test_samples``) keeps the classes balanced. The loader
holds at most :data:`MAX_VALUES` values in memory; the shape reader decodes nothing, so it
answers for the full data set (and, without the files, for ImageNet-1k itself).
"""

from __future__ import annotations

import itertools
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
)

SUFFIXES = (".jpeg", ".jpg", ".png")
SPLITS = {"train": "train_samples", "val": "test_samples"}  # folder -> its cap's parameter
OFFICIAL_TRAIN, OFFICIAL_CLASSES = 1_281_167, 1000  # ImageNet-1k, for shapes without the files
MAX_SIDE = 1024
MAX_VALUES = 1 << 30  # both splits as float32: 4 GiB, 7,133 images at 224x224
RESIZE_RATIO = 256 / 224  # shorter side before the centre crop, per side of the crop
PILLOW_HINT = "pip install 'accelsim[imagenet]'"


@register("imagenet")
def load_imagenet(*, seed: int, path: Any = None, size: int = 224, classes: int | None = None,
                  train_samples: int | None = None, test_samples: int | None = None
                  ) -> Dataset:
    """Images from the ``train`` and ``val`` class folders under ``path`` as (N, 3, size,
    size) float32 in [0, 1] (pixel / 255), labels by sorted class-folder name.

    ``classes`` keeps the first so many classes (all when unset); ``train_samples`` /
    ``test_samples`` keep the first so many images of each split, taken class by class in
    turn. The split is the folders' own; ``seed`` does not change it.
    """
    size, tree, kept = _checked(path, size, classes, train_samples, test_samples)
    total = sum(kept.values())
    if total * 3 * size * size > MAX_VALUES:
        raise WorkloadError(
            f"dataset imagenet: {kept['train']} train and {kept['val']} test images at "
            f"{size}x{size} are {total * 3 * size * size} values, beyond the loader's limit of "
            f"{MAX_VALUES} ({MAX_VALUES * 4 >> 30} GiB of float32); set train_samples and "
            f"test_samples (or classes, or a smaller size) to load fewer")
    image = _pillow()
    arrays = {}
    for split, files in tree.samples.items():
        chosen = files[:kept[split]]
        x = np.empty((len(chosen), 3, size, size), dtype=np.float32)
        for index, (file, _) in enumerate(chosen):
            x[index] = decode(image, file, size).transpose(2, 0, 1).astype(np.float32) / 255.0
        arrays[split] = (x, np.array([label for _, label in chosen], dtype=np.int64))
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["val"]
    return Dataset(name="imagenet", x_train=x_train, y_train=y_train, x_test=x_test,
                   y_test=y_test, num_classes=len(tree.classes),
                   source=f"image folders in {tree.directory}")


@register_shape("imagenet")
def imagenet_shape(*, path: Any = None, size: int = 224, classes: int | None = None,
                   train_samples: int | None = None, test_samples: int | None = None
                   ) -> DatasetShape:
    """The shapes ``load_imagenet`` gives, from the directory listing (class folders and image
    file names; nothing is opened), with the loader's checks of the tree and the parameters
    (not its memory limit). Without the files (no ``path``, or one that is not a directory
    here) ImageNet-1k's: 1000 classes, 1,281,167 images to train, so a shape-only trace needs
    no data (with ``classes`` set, that count scaled by classes / 1000, an average)."""
    if path is None or not Path(path).expanduser().is_dir():
        size = check_int("imagenet", "size", size, maximum=MAX_SIDE)
        count = OFFICIAL_CLASSES if classes is None else check_int(
            "imagenet", "classes", classes, minimum=2, maximum=OFFICIAL_CLASSES)
        limit = check_limit("imagenet", "train_samples", train_samples)
        check_limit("imagenet", "test_samples", test_samples)
        train = limited(round(OFFICIAL_TRAIN * count / OFFICIAL_CLASSES), limit,
                        dataset="imagenet", key="train_samples", where="the official training set")
        return DatasetShape((3, size, size), count, train)
    size, tree, kept = _checked(path, size, classes, train_samples, test_samples)
    return DatasetShape((3, size, size), len(tree.classes), kept["train"])


class _Tree:
    """The listing of an image-folder tree: its class names, and each split's (file, label)
    pairs, class by class in turn."""

    def __init__(self, directory: Path, classes: int | None) -> None:
        self.directory = directory
        folders = {split: _folders(directory, split) for split in SPLITS}
        names = sorted(folders["train"])
        if len(names) < 2:
            raise WorkloadError(f"dataset imagenet: {directory / 'train'} has {len(names)} "
                                f"class folders, need at least 2")
        if classes is not None:
            if classes > len(names):
                raise WorkloadError(f"dataset imagenet: classes={classes} exceeds the "
                                    f"{len(names)} class folders in {directory / 'train'}")
            names = names[:classes]
        unknown = sorted(set(folders["val"]) - set(folders["train"]))
        if unknown:
            raise WorkloadError(f"dataset imagenet: {directory / 'val' / unknown[0]} is not a "
                                f"class of {directory / 'train'} (every val class folder must "
                                f"have a train one)")
        self.classes = tuple(names)
        self.samples: dict[str, list[tuple[Path, int]]] = {}
        for split in SPLITS:
            per_class = []
            for label, name in enumerate(names):
                if name not in folders[split]:
                    continue
                files = _images(folders[split][name])
                if not files and split == "train":
                    raise WorkloadError(f"dataset imagenet: {folders[split][name]} holds no "
                                        f"images ({', '.join(SUFFIXES)})")
                per_class.append([(file, label) for file in files])
            self.samples[split] = [sample for turn in itertools.zip_longest(*per_class)
                                   for sample in turn if sample is not None]
            if not self.samples[split]:
                raise WorkloadError(f"dataset imagenet: {directory / split} holds no images "
                                    f"of the {len(names)} classes kept")


def _folders(directory: Path, split: str) -> dict[str, Path]:
    """The class folders of one split, by name."""
    root = directory / split
    if not root.is_dir():
        raise WorkloadError(f"dataset imagenet: missing {split} folder in {directory} (expected "
                            f"{split}/<class>/<image>)")
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise WorkloadError(f"dataset imagenet: cannot list {root}: {exc}") from exc
    loose = sorted(entry.name for entry in entries if entry.is_file()
                   and entry.suffix.lower() in SUFFIXES)
    if loose:
        raise WorkloadError(f"dataset imagenet: {root} holds images outside class folders "
                            f"({loose[0]}, ...); sort them into {split}/<class>/")
    return {entry.name: entry for entry in entries if entry.is_dir()}


def _images(folder: Path) -> list[Path]:
    try:
        return sorted(entry for entry in folder.iterdir()
                      if entry.suffix.lower() in SUFFIXES and entry.is_file())
    except OSError as exc:
        raise WorkloadError(f"dataset imagenet: cannot list {folder}: {exc}") from exc


def _checked(path: Any, size: Any, classes: Any, train_samples: Any, test_samples: Any
             ) -> tuple[int, _Tree, dict[str, int]]:
    """The side, the listed tree and the images kept of each split, checked."""
    directory = check_dir("imagenet", path, "train/<class>/<image> and val/<class>/<image>")
    size = check_int("imagenet", "size", size, maximum=MAX_SIDE)
    count = None if classes is None else check_int("imagenet", "classes", classes, minimum=2)
    limits = {split: check_limit("imagenet", key, value) for (split, key), value in
              zip(SPLITS.items(), (train_samples, test_samples), strict=True)}
    tree = _Tree(directory, count)
    kept = {split: limited(len(tree.samples[split]), limits[split], dataset="imagenet",
                           key=SPLITS[split], where=str(directory / split))
            for split in SPLITS}
    return size, tree, kept


def _pillow() -> Any:
    """Pillow's Image module, imported only when images are decoded."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise WorkloadError(f"dataset imagenet: decoding images needs Pillow "
                            f"({PILLOW_HINT})") from exc
    return Image


def decode(image: Any, file: Path, size: int) -> np.ndarray:
    """One image as uint8 (size, size, 3) RGB: the shorter side resized to ``size * 256 /
    224``, then the centre ``size`` x ``size`` kept (torchvision's Resize and CenterCrop)."""
    try:
        with image.open(file) as opened:
            rgb = opened.convert("RGB")
        width, height = rgb.size
        short = round(size * RESIZE_RATIO)
        scale = short / min(width, height)
        resized = (short, max(short, int(height * scale))) if width <= height else \
            (max(short, int(width * scale)), short)
        rgb = rgb.resize(resized, image.Resampling.BILINEAR)
        left = round((resized[0] - size) / 2)
        top = round((resized[1] - size) / 2)
        pixels = np.asarray(rgb.crop((left, top, left + size, top + size)), dtype=np.uint8)
    except Exception as exc:  # a broken image fails in many ways (Pillow's, zlib's, OS errors)
        raise WorkloadError(f"dataset imagenet: cannot decode {file} "
                            f"({type(exc).__name__}: {exc})") from exc
    if pixels.shape != (size, size, 3):  # pragma: no cover - Pillow's crop guarantees it
        raise WorkloadError(f"dataset imagenet: {file} decoded to {list(pixels.shape)}")
    return pixels

