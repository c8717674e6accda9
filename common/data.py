"""MNIST for both backends: one loader, one input scaling, one target encoding.

Images stay ``uint8`` of shape ``(n, 784)`` in memory; :func:`scale_inputs` turns a chunk of
them into network inputs only when a batch needs them. Files read: IDX (raw or gzip) and the
book's CSV (``label,p1,...,p784`` per line).
"""
from __future__ import annotations

import gzip
import math
import numbers
import os
import re
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from common import download
from common.errors import DataError, ParameterError

TARGET_OFF, TARGET_ON = 0.01, 0.99
# The one place the input scaling lives: pixel p in 0..255 -> p / 255 * 0.99 + 0.01, i.e. 0.01..1.0.
# Applied to every possible uint8 value once, in float64; float32 is the float64 result rounded.
_SCALE_TABLES = {np.dtype(t): (np.arange(256, dtype=np.uint8) / 255 * 0.99 + 0.01).astype(t)
                 for t in (np.float64, np.float32)}

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CSV_NAMES = (("mnist_train.csv", "mnist_test.csv"), ("mnist_train_100.csv", "mnist_test_10.csv"))
DATASETS = ("embedded", "mnist")
EMBEDDED_DIR = Path(__file__).resolve().with_name("embedded")
SHARED_MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"  # <repo root>/../shared/...
_IDX_MAGIC = {0x00000803: "images", 0x00000801: "labels"}  # unsigned bytes, 3 or 1 dimensions


def scale_inputs(images: np.ndarray, dtype: str | np.dtype = "float64") -> np.ndarray:
    """Scale pixels 0..255 to network inputs 0.01..1.0.

    .. math:: x = p / 255 \\cdot 0.99 + 0.01

    Looks each pixel up in a 256-entry table computed once per dtype with that formula, so the
    result is bit-identical to evaluating it (in float64; float32 gets the float64 value rounded).

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 784) or (784,)
        Raw pixels; any shape works and is kept.
    dtype : {"float64", "float32"}, default "float64"

    Returns
    -------
    ndarray of ``dtype``, same shape as ``images``
        Pixel 0 becomes 0.01 and 255 becomes 1.0.
    """
    table = _SCALE_TABLES[_float_dtype(dtype)]
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ParameterError(f"The 'images' parameter must be a uint8 array. Got dtype {images.dtype} instead.")
    return table[images]


def one_hot_targets(labels: np.ndarray, dtype: str | np.dtype = "float64", n_classes: int = 10,
                    values: tuple[float, float] = (TARGET_OFF, TARGET_ON)) -> np.ndarray:
    """Target vectors: 0.01 everywhere, 0.99 at the label (the book's), or other ``values``.

    Parameters
    ----------
    labels : ndarray of int, shape (n,) (or a scalar)
        Class indices in ``0 .. n_classes - 1``.
    dtype : {"float64", "float32"}, default "float64"
    n_classes : int, default 10
    values : (float, float), default (0.01, 0.99)
        ``(off, on)``: the target away from the label and at it. An architecture's
        ``target_values`` gives the ones its loss trains towards, e.g. ``(0.0, 1.0)`` for
        softmax cross-entropy: ``one_hot_targets(labels, values=architecture.target_values)``.

    Returns
    -------
    ndarray of ``dtype``, shape (n, n_classes) (or (n_classes,) for a scalar label)
    """
    dtype = _float_dtype(dtype)
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 1:
        raise ParameterError(f"The 'n_classes' parameter must be an int >= 1. Got {n_classes!r} instead.")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ParameterError(f"The 'labels' parameter must be an integer array. Got dtype {labels.dtype} instead.")
    outside = (labels < 0) | (labels >= n_classes)
    if outside.any():
        raise ParameterError(f"The 'labels' parameter must hold values in 0..{n_classes - 1}. "
                             f"Got {labels[outside].flat[0]} instead.")
    off, on = values
    targets = np.full(labels.shape + (n_classes,), off, dtype=dtype)
    np.put_along_axis(targets, labels[..., None].astype(np.intp), on, axis=-1)
    return targets


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Training and test images with their labels, all kept as uint8.

    Attributes
    ----------
    train_images, test_images : ndarray of uint8, shape (n, 784)
    train_labels, test_labels : ndarray of uint8, shape (n,), digits 0..9
    source : str
        Where the data came from, for people: a folder or "embedded subset (...)".
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            _check_split(split, getattr(self, f"{split}_images"), getattr(self, f"{split}_labels"), self.source)

    def __repr__(self) -> str:
        return f"<Dataset {len(self.train_labels):,} train / {len(self.test_labels):,} test images from {self.source}>"

    def limit(self, train: int | None = None, test: int | None = None) -> Dataset:
        """The first ``train`` training and first ``test`` test examples (views, no copy).

        None keeps a split whole; a number above the split's size keeps all of it.
        """
        n_train = _check_limit("train", train, len(self.train_labels))
        n_test = _check_limit("test", test, len(self.test_labels))
        source = self.source
        if n_train < len(self.train_labels) or n_test < len(self.test_labels):
            source += f", first {n_train:,} train / {n_test:,} test"
        return replace(self, train_images=self.train_images[:n_train], train_labels=self.train_labels[:n_train],
                       test_images=self.test_images[:n_test], test_labels=self.test_labels[:n_test], source=source)


def load_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file, gzip-compressed (detected by its magic bytes) or raw.

    Returns
    -------
    ndarray of uint8
        Images as shape (n, rows * cols), labels as shape (n,).

    Raises
    ------
    DataError
        Missing file, corrupt gzip, wrong magic number, truncated body or trailing bytes.
    """
    array = _read_idx(path)
    return array.reshape(array.shape[0], -1) if array.ndim == 3 else array


def load_csv(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read the book's CSV format: one ``label,p1,...,p784`` line per image.

    Returns
    -------
    images : ndarray of uint8, shape (n, 784)
    labels : ndarray of uint8, shape (n,)

    Raises
    ------
    DataError
        Naming the file and line: a row of the wrong length, an empty or non-integer value, a pixel
        outside 0..255, a label outside 0..9, or an empty file.
    """
    path = Path(path)
    text = _read_bytes(path).replace(b"\r\n", b"\n").rstrip()
    if not text:
        raise DataError(f"{path}: empty file.")
    chars = np.frombuffer(text, dtype=np.uint8)
    ends = np.append(np.flatnonzero(chars == ord("\n")), len(chars))  # where each line ends
    starts = np.insert(ends[:-1] + 1, 0, 0)

    def line_of(position: int) -> int:
        return int(np.searchsorted(ends, position))

    def field(line: int, column: int) -> str:
        return text[starts[line]:ends[line]].split(b",")[column].decode("utf-8", "replace")

    def fail(line: int, problem: str) -> DataError:
        return DataError(f"{path}, line {line + 1}: {problem}")

    unexpected = re.search(rb"[^0-9,\n]", text)  # anything but digits, commas and newlines
    if unexpected:
        line = line_of(unexpected.start())
        column = text.count(b",", starts[line], unexpected.start())
        raise fail(line, f"{field(line, column)!r} is not a non-negative integer.")
    n_pixels = np.array([text.count(b",", start, end) for start, end in zip(starts.tolist(), ends.tolist())])
    bad = np.flatnonzero(n_pixels != 784)
    if bad.size:
        raise fail(bad[0], f"{n_pixels[bad[0]]} pixel values, expected 784.")
    try:
        values = np.fromstring(text.replace(b"\n", b","), dtype=np.int64, sep=",")
    except ValueError:  # numpy refuses an empty value between two commas
        values = None
    if values is None or values.size != 785 * len(starts):
        comma = chars == ord(",")
        separator = np.concatenate(([True], comma | (chars == ord("\n")), [True]))
        raise fail(line_of(np.flatnonzero(comma & (separator[:-2] | separator[2:]))[0]), "empty value.")
    rows = values.reshape(len(starts), 785)
    bad = np.flatnonzero(rows[:, 0] > 9)
    if bad.size:
        raise fail(bad[0], f"label {field(bad[0], 0)} is outside 0..9.")
    bad = np.argwhere(rows[:, 1:] > 255)
    if bad.size:
        raise fail(bad[0][0], f"pixel value {field(bad[0][0], bad[0][1] + 1)} is outside 0..255.")
    return rows[:, 1:].astype(np.uint8), rows[:, 0].astype(np.uint8)


def load_folder(folder: str | os.PathLike[str]) -> Dataset:
    """Load MNIST from a folder of IDX files (raw or .gz) or of the book's CSV files.

    Looks for the four standard IDX names (``train-images-idx3-ubyte`` ..., each raw or with
    ``.gz``), else ``mnist_train.csv`` + ``mnist_test.csv``, else ``mnist_train_100.csv`` +
    ``mnist_test_10.csv``.

    Raises
    ------
    DataError
        If the folder is missing, holds none (or only some) of those files, or a file is invalid.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}.")
    found = {key: next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)
             for key, name in IDX_NAMES.items()}
    if all(found.values()):
        return Dataset(**{key: _read_idx_as(key, path) for key, path in found.items()}, source=str(folder))
    if any(found.values()):
        missing = ", ".join(f"{IDX_NAMES[key]}[.gz]" for key, path in found.items() if path is None)
        raise DataError(f"{folder}: holds some MNIST IDX files but not {missing}.")
    for train_name, test_name in CSV_NAMES:
        if (folder / train_name).is_file() and (folder / test_name).is_file():
            train_images, train_labels = load_csv(folder / train_name)
            test_images, test_labels = load_csv(folder / test_name)
            return Dataset(train_images, train_labels, test_images, test_labels, source=str(folder))
    looked_for = [f"{name}[.gz]" for name in IDX_NAMES.values()] + [" + ".join(pair) for pair in CSV_NAMES]
    raise DataError(f"{folder}: no MNIST files found; looked for {', '.join(looked_for)}.")


def load_embedded() -> Dataset:
    """The subset shipped inside the package: the first 6,000 training and 1,000 test images."""
    dataset = load_folder(EMBEDDED_DIR)
    n_train, n_test = len(dataset.train_labels), len(dataset.test_labels)
    return replace(dataset, source=f"embedded subset ({n_train:,} train / {n_test:,} test)")


def load_mnist(cache_dir: str | os.PathLike[str] | None = None, mirrors: Sequence[str] | None = None,
               progress: bool = False) -> Dataset:
    """The full set (60,000 / 10,000), downloaded into the cache first if it is not there yet.

    See :func:`common.download.download_mnist` for ``cache_dir``, ``mirrors`` and ``progress``.
    """
    return load_folder(download.download_mnist(cache_dir, mirrors, progress))


def load_dataset(dataset: str = "embedded", data_dir: str | os.PathLike[str] | None = None,
                 progress: bool = True) -> Dataset:
    """Load ``dataset`` ("embedded" or "mnist"), or whatever ``data_dir`` holds when it is given.

    ``progress``: say on stderr what is being downloaded, when "mnist" is not cached yet.
    """
    if dataset not in DATASETS:
        raise ParameterError(f"The 'dataset' parameter must be one of {', '.join(map(repr, DATASETS))}. "
                             f"Got {dataset!r} instead.")
    if data_dir is not None:
        return load_folder(data_dir)
    return load_embedded() if dataset == "embedded" else load_mnist(progress=progress)


def full_mnist_dir() -> Path | None:
    """Where the full set lies for tests and benchmarks, or None if nowhere known.

    In order: ``$MNIST_DIR`` if set; ``<repo root>/../shared/data/mnist`` if it exists; the user
    cache (:func:`common.download.default_cache_dir`) if it holds a verified copy.
    """
    if os.environ.get("MNIST_DIR"):
        return Path(os.environ["MNIST_DIR"]).expanduser()
    if SHARED_MNIST_DIR.is_dir():
        return SHARED_MNIST_DIR
    cache = download.default_cache_dir()
    return cache if download.is_cached(cache) else None


def _float_dtype(dtype: str | np.dtype) -> np.dtype:
    try:
        if np.dtype(dtype) in _SCALE_TABLES:
            return np.dtype(dtype)
    except TypeError:
        pass
    raise ParameterError(f"The 'dtype' parameter must be 'float32' or 'float64'. Got {dtype!r} instead.")


def _check_limit(name: str, value: int | None, size: int) -> int:
    if value is None:
        return size
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ParameterError(f"The '{name}' parameter must be an int > 0 or None. Got {value!r} instead.")
    return min(int(value), size)


def _check_split(split: str, images: np.ndarray, labels: np.ndarray, source: str) -> None:
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 2
            and images.shape[1] == 784):
        raise DataError(f"{source}: {split} images must be a uint8 array of shape (n, 784). "
                        f"Got {getattr(images, 'dtype', type(images).__name__)} of shape {np.shape(images)} instead.")
    if not (isinstance(labels, np.ndarray) and labels.dtype == np.uint8 and labels.ndim == 1):
        raise DataError(f"{source}: {split} labels must be a uint8 array of shape (n,). "
                        f"Got {getattr(labels, 'dtype', type(labels).__name__)} of shape {np.shape(labels)} instead.")
    if len(images) != len(labels):
        raise DataError(f"{source}: {split}: {len(images)} images but {len(labels)} labels.")
    if len(labels) == 0:
        raise DataError(f"{source}: {split}: no images.")
    if labels.max() > 9:
        index = int(np.argmax(labels > 9))
        raise DataError(f"{source}: {split} labels must be digits 0..9. Found {labels[index]} at index {index}.")


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"{path}: {'not a file' if path.exists() else 'no such file'}.")
    return path.read_bytes()


def _read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """One IDX file as uint8 with its own dimensions: (n, rows, cols) or (n,)."""
    path = Path(path)
    raw = _read_bytes(path)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc}).") from None
    magic = int.from_bytes(raw[:4], "big")
    if len(raw) < 4 or magic not in _IDX_MAGIC:
        found = f"magic number 0x{magic:08X}" if len(raw) >= 4 else f"only {len(raw)} bytes"
        raise DataError(f"{path}: not an MNIST IDX file: found {found}, "
                        "expected 0x00000803 (images) or 0x00000801 (labels).")
    kind = _IDX_MAGIC[magic]
    header = 16 if kind == "images" else 8
    if len(raw) < header:
        raise DataError(f"{path}: truncated: the file ends inside its {header}-byte header.")
    dims = tuple(int.from_bytes(raw[i:i + 4], "big") for i in range(4, header, 4))
    promised = f"{dims[0]} {kind}" + (f" of {dims[1]}x{dims[2]}" if kind == "images" else "")
    expected, body = math.prod(dims), len(raw) - header
    if body < expected:
        raise DataError(f"{path}: truncated: the header promises {promised} ({expected} bytes) "
                        f"but the file holds {body}.")
    if body > expected:
        raise DataError(f"{path}: {body - expected} bytes of trailing data after the {promised} the header promises.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _read_idx_as(key: str, path: Path) -> np.ndarray:
    """Read the file that should hold ``key`` ("train_images", ...) and check it is 28x28 images or labels."""
    array = _read_idx(path)
    expected = "images" if key.endswith("images") else "labels"
    if (array.ndim == 3) != (expected == "images"):
        raise DataError(f"{path}: holds {'images' if array.ndim == 3 else 'labels'}, expected {expected}.")
    if array.ndim == 3 and array.shape[1:] != (28, 28):
        raise DataError(f"{path}: images are {array.shape[1]}x{array.shape[2]}, expected 28x28.")
    return array.reshape(len(array), 784) if array.ndim == 3 else array
