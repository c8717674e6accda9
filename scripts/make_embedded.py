"""Build the MNIST subset shipped in common/embedded/ from the full set, byte for byte reproducibly.

The subset is the first 6,000 training and the first 1,000 test images with their labels, written
as IDX files under the standard names, compressed with gzip level 9 and a zero timestamp and no
file name in the gzip header (like ``gzip -9 -n``), so the same input gives the same bytes.

Usage (from the repository root)::

    python scripts/make_embedded.py                      # reads the folder full_mnist_dir() finds
    python scripts/make_embedded.py --source DIR --train 6000 --test 1000
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from common.data import EMBEDDED_DIR, IDX_NAMES, full_mnist_dir, load_folder  # noqa: E402

IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # labels (n,), images (n, rows, cols)


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array of shape (n,) or (n, rows, cols): magic, sizes, then the bytes."""
    header = IDX_MAGIC[array.ndim].to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def gzip_reproducibly(data: bytes) -> bytes:
    """gzip level 9 with mtime 0 and no file name in the header: same input, same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None,
                        help="folder holding the full MNIST set (default: whatever full_mnist_dir() finds)")
    parser.add_argument("--out", type=Path, default=EMBEDDED_DIR, help=f"output folder (default: {EMBEDDED_DIR})")
    parser.add_argument("--train", type=int, default=6000, help="training images to keep (default: 6000)")
    parser.add_argument("--test", type=int, default=1000, help="test images to keep (default: 1000)")
    args = parser.parse_args()
    source = args.source or full_mnist_dir()
    if source is None:
        parser.error("no full MNIST set found; pass --source or set MNIST_DIR.")
    data = load_folder(source).limit(train=args.train, test=args.test)
    args.out.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_NAMES.items():
        array = getattr(data, key)
        if key.endswith("images"):
            array = array.reshape(-1, 28, 28)
        content = idx_bytes(array)
        path = args.out / f"{name}.gz"
        path.write_bytes(gzip_reproducibly(content))
        print(f"{path}: {path.stat().st_size:,} bytes, shape {array.shape}, "
              f"decompressed sha256 {hashlib.sha256(content).hexdigest()}")


if __name__ == "__main__":
    main()
