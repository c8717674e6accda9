"""Fetch the full MNIST set into the user's cache, checking every byte.

Each file is streamed into a temporary file beside its final place, verified against the
checksum tables below, and only then moved into place with :func:`os.replace`. A failed or
interrupted download therefore never leaves a half-written file and never replaces a good one.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Sequence

from common.errors import DownloadError, ParameterError

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# md5 of the .gz files exactly as the public mirrors serve them.
GZIP_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# md5 and sha256 of the decompressed IDX content, whatever compressed it.
CONTENT_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}
CONTENT_SHA256 = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
TIMEOUT_S = 30.0
USER_AGENT = "numpy-torch-twins/0.1 (MNIST downloader; Python urllib)"
_CHUNK = 1 << 16


def default_cache_dir() -> Path:
    """The folder the full set is downloaded into.

    Returns
    -------
    Path
        ``$NUMPY_TORCH_TWINS_CACHE`` if set, else ``$XDG_CACHE_HOME/numpy-torch-twins/mnist``,
        else ``~/.cache/numpy-torch-twins/mnist``. The folder need not exist yet.
    """
    if os.environ.get("NUMPY_TORCH_TWINS_CACHE"):
        return Path(os.environ["NUMPY_TORCH_TWINS_CACHE"]).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home).expanduser() / "numpy-torch-twins" / "mnist"


def checksum_problem(path: str | os.PathLike[str], name: str | None = None) -> str | None:
    """Say why a file is not a verified copy of one of the four MNIST files, or None if it is.

    A file passes when its own md5 matches the mirrors' .gz file (:data:`GZIP_MD5`) or when the
    md5 or sha256 of its decompressed content matches :data:`CONTENT_MD5` / :data:`CONTENT_SHA256`,
    so both the mirrors' files and re-compressed copies pass.

    Parameters
    ----------
    path : str or os.PathLike
        The file to check; a missing file fails.
    name : str, optional
        Which MNIST file it should be, one of :data:`FILES`; defaults to the file's own name.

    Returns
    -------
    str or None
        A short reason such as ``"checksum mismatch"``, or None when the file verifies.
    """
    path = Path(path)
    name = name or path.name
    if name not in GZIP_MD5:
        raise ParameterError(f"The 'name' parameter must be one of {', '.join(FILES)}. Got {name!r} instead.")
    if not path.is_file():
        return "missing"
    raw = path.read_bytes()
    if hashlib.md5(raw, usedforsecurity=False).hexdigest() == GZIP_MD5[name]:
        return None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            return "corrupt gzip data"
    if hashlib.md5(raw, usedforsecurity=False).hexdigest() == CONTENT_MD5[name]:
        return None
    if hashlib.sha256(raw).hexdigest() == CONTENT_SHA256[name]:
        return None
    return "checksum mismatch"


def is_cached(cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether ``cache_dir`` (default :func:`default_cache_dir`) holds all four files, verified."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return all(checksum_problem(folder / name) is None for name in FILES)


def download_file(name: str, folder: str | os.PathLike[str], mirrors: Sequence[str] | None = None,
                  progress: bool = False) -> Path:
    """Make sure ``folder/name`` is a verified copy, downloading it if needed.

    Parameters
    ----------
    name : str
        One of :data:`FILES`.
    folder : str or os.PathLike
        Where the file goes; created if missing.
    mirrors : sequence of str, optional
        Base URLs tried in order, ``name`` appended to each; default :data:`MIRRORS`.
    progress : bool, default False
        Print one line per download attempt to stderr.

    Returns
    -------
    Path
        The verified file. A present file that verifies is not downloaded again; a present file
        that does not is replaced only by a download that verifies.

    Raises
    ------
    DownloadError
        If no mirror delivered a file that verifies.
    """
    mirrors = _check_mirrors(MIRRORS if mirrors is None else mirrors)
    folder = Path(folder)
    target = folder / name
    if checksum_problem(target, name) is None:
        return target
    reason = "no mirror tried"
    created = not folder.exists()
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        if progress:
            print(f"Downloading {url} ...", file=sys.stderr, flush=True)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        except OSError as exc:
            raise DownloadError(f"Cannot write {name} into {folder}: {exc.strerror or exc}.") from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(handle, "wb") as out:
                _fetch(url, out)
            problem = checksum_problem(tmp, name)
            if problem is None:
                os.replace(tmp, target)
                return target
            reason = f"{problem} for {url}"
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} from {url}"
        except urllib.error.URLError as exc:
            reason = f"{exc.reason} from {url}"
        except (OSError, http.client.HTTPException) as exc:
            reason = f"{type(exc).__name__}: {exc} from {url}"
        finally:  # also on KeyboardInterrupt: never leave a partial file behind
            tmp.unlink(missing_ok=True)
        if progress:
            print(f"  failed: {reason}", file=sys.stderr, flush=True)
    if created:  # leave no empty cache folder behind
        with contextlib.suppress(OSError):
            folder.rmdir()
    raise DownloadError(
        f"Could not download {name} from any mirror (tried {len(mirrors)}; last: {reason}). "
        "Use --data-dir with a folder that holds the MNIST files."
    )


def download_mnist(cache_dir: str | os.PathLike[str] | None = None, mirrors: Sequence[str] | None = None,
                   progress: bool = False) -> Path:
    """Download the four MNIST files into the cache unless verified copies are already there.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Target folder; default :func:`default_cache_dir`.
    mirrors : sequence of str, optional
        Base URLs tried in order for each file; default :data:`MIRRORS`.
    progress : bool, default False
        Print one line per download attempt to stderr.

    Returns
    -------
    Path
        The folder, holding the four verified ``.gz`` files under their standard names.

    Raises
    ------
    DownloadError
        If a file could not be fetched and verified from any mirror.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    for name in FILES:
        download_file(name, folder, mirrors, progress)
    return folder


def _check_mirrors(mirrors: Sequence[str]) -> tuple[str, ...]:
    """A single URL becomes a one-element tuple; an empty or non-string list is refused."""
    if isinstance(mirrors, str):
        mirrors = (mirrors,)
    mirrors = tuple(mirrors)
    if not mirrors or not all(isinstance(m, str) for m in mirrors):
        raise ParameterError(f"The 'mirrors' parameter must be a non-empty sequence of URLs. Got {mirrors!r} instead.")
    return mirrors


def _fetch(url: str, out) -> None:
    """Stream ``url`` into the open binary file ``out``; raise OSError if the body is cut short."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        expected = response.headers.get("Content-Length")
        received = 0
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            received += len(chunk)
    if expected is not None and received != int(expected):
        raise OSError(f"connection closed after {received} of {expected} bytes")
