"""common.download against a loopback HTTP server: mirror fallback, checksums, no partial files."""
import gzip
import hashlib
import http.server
import re
import threading
import time

import numpy as np
import pytest

from common import data, download
from common.errors import DownloadError

NAMES = download.FILES


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``routes[path] = (body, behaviour)``; behaviour "ok", "truncate" or "slow"; else 404."""

    routes = {}
    requests = []

    def do_GET(self):
        type(self).requests.append(self.path)
        if self.path not in self.routes:
            self.send_error(404)
            return
        body, behaviour = self.routes[self.path]
        if behaviour == "slow":
            time.sleep(1.0)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2] if behaviour == "truncate" else body)
        except OSError:  # the client gave up waiting
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def offline(server, tmp_path, monkeypatch):
    """No test may reach the real mirrors or the user's cache; every test starts with no routes."""
    monkeypatch.setattr(download, "MIRRORS", (f"{server}/default-mirrors-are-not-for-tests/",))
    monkeypatch.setenv("NUMPY_TORCH_TWINS_CACHE", str(tmp_path / "user-cache"))
    Handler.routes.clear()
    Handler.requests.clear()


def serve(server, mirror, files, behaviour="ok"):
    """Publish ``files`` (name -> bytes) under ``server/mirror/`` and return that mirror's URL."""
    for name, body in files.items():
        Handler.routes[f"/{mirror}/{name}"] = (body, behaviour)
    return f"{server}/{mirror}/"


def flipped(body):
    middle = len(body) // 2
    return body[:middle] + bytes(b ^ 0xFF for b in body[middle:middle + 16]) + body[middle + 16:]


@pytest.fixture
def synthetic(monkeypatch):
    """Four small valid MNIST files (3 train, 2 test) with the checksum tables pointed at them."""
    rng = np.random.default_rng(0)
    files = {}
    for name in NAMES:
        n = 3 if name.startswith("train") else 2
        shape = (n, 28, 28) if "images" in name else (n,)
        magic = 0x803 if "images" in name else 0x801
        content = b"".join(d.to_bytes(4, "big") for d in (magic, *shape)) + rng.integers(0, 10, shape, np.uint8).tobytes()
        files[name] = gzip.compress(content, mtime=0)
        monkeypatch.setitem(download.GZIP_MD5, name, hashlib.md5(files[name]).hexdigest())
        monkeypatch.setitem(download.CONTENT_MD5, name, hashlib.md5(content).hexdigest())
        monkeypatch.setitem(download.CONTENT_SHA256, name, hashlib.sha256(content).hexdigest())
    return files


@pytest.fixture(scope="module")
def real_test_files():
    folder = data.full_mnist_dir()
    if folder is None:
        pytest.skip("the full MNIST set was not found (set MNIST_DIR, or put it in ../shared/data/mnist)")
    return {name: (folder / name).read_bytes() for name in NAMES if name.startswith("t10k")}


def assert_only(folder, names):
    """The folder holds exactly ``names``: no temporary or partial files."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def test_real_files_download_past_a_404_mirror_and_verify(server, tmp_path, real_test_files):
    good = serve(server, "good", real_test_files)
    for name, body in real_test_files.items():
        path = download.download_file(name, tmp_path, mirrors=[f"{server}/missing/", good])
        assert path.read_bytes() == body
    assert Handler.requests.count(f"/missing/{NAMES[2]}") == 1 and Handler.requests.count(f"/good/{NAMES[2]}") == 1
    assert_only(tmp_path, real_test_files)
    assert data.load_idx(tmp_path / NAMES[3]).shape == (10000,)


def test_shared_copy_verifies_against_the_real_checksum_tables():
    folder = data.full_mnist_dir()
    if folder is None:
        pytest.skip("the full MNIST set was not found (set MNIST_DIR, or put it in ../shared/data/mnist)")
    assert [download.checksum_problem(folder / name) for name in NAMES] == [None] * 4
    assert download.is_cached(folder)


def test_download_mnist_falls_back_past_404_corrupt_and_truncated_mirrors(server, tmp_path, synthetic, capsys):
    mirrors = [
        f"{server}/missing/",
        serve(server, "corrupt", {n: flipped(b) for n, b in synthetic.items()}),
        serve(server, "truncated", synthetic, "truncate"),
        serve(server, "good", synthetic),
    ]
    folder = download.download_mnist(tmp_path / "cache", mirrors=mirrors, progress=True)
    assert_only(folder, NAMES)
    assert capsys.readouterr().err.count("Downloading") == 4 * len(mirrors)
    assert all((folder / name).read_bytes() == body for name, body in synthetic.items())
    assert len(Handler.requests) == 4 * len(mirrors)
    dataset = data.load_mnist(folder, mirrors=mirrors)  # already there: no new request
    assert len(dataset.train_labels) == 3 and len(Handler.requests) == 4 * len(mirrors)


def test_every_mirror_bad_raises_one_sentence_and_leaves_nothing(server, tmp_path, synthetic):
    mirrors = [serve(server, "corrupt", {n: flipped(b) for n, b in synthetic.items()}),
               serve(server, "truncated", synthetic, "truncate")]
    message = (f"Could not download {NAMES[0]} from any mirror (tried 2; last: OSError: connection closed after "
               f"{len(synthetic[NAMES[0]]) // 2} of {len(synthetic[NAMES[0]])} bytes from {mirrors[1]}{NAMES[0]}). "
               "Use --data-dir with a folder that holds the MNIST files.")
    with pytest.raises(DownloadError, match=re.escape(message)):
        download.download_mnist(tmp_path, mirrors=mirrors)
    assert_only(tmp_path, [])
    with pytest.raises(DownloadError):  # a cache folder made for the download goes again
        download.download_mnist(tmp_path / "new" / "cache", mirrors=mirrors)
    assert not (tmp_path / "new" / "cache").exists()


@pytest.mark.parametrize("mirror, reason", [
    ("wrong", "checksum mismatch for"),
    ("corrupt", "corrupt gzip data for"),
    ("missing", "HTTP 404 from"),
])
def test_bad_download_is_rejected_with_its_reason(server, tmp_path, synthetic, mirror, reason):
    name = NAMES[1]
    if mirror == "wrong":  # a valid gzip file, but not the one the table expects
        serve(server, mirror, {name: gzip.compress(b"not MNIST")})
    elif mirror == "corrupt":
        serve(server, mirror, {name: flipped(synthetic[name])})
    with pytest.raises(DownloadError, match=re.escape(f"(tried 1; last: {reason} {server}/{mirror}/{name})")):
        download.download_file(name, tmp_path, mirrors=[f"{server}/{mirror}/"])
    assert_only(tmp_path, [])


def test_timed_out_mirror_is_skipped(server, tmp_path, synthetic, monkeypatch):
    monkeypatch.setattr(download, "TIMEOUT_S", 0.2)
    mirrors = [serve(server, "slow", synthetic, "slow"), serve(server, "good", synthetic)]
    download.download_file(NAMES[3], tmp_path, mirrors=mirrors)
    assert_only(tmp_path, [NAMES[3]])


def test_failed_download_never_replaces_an_existing_file(server, tmp_path, synthetic):
    (tmp_path / NAMES[0]).write_bytes(synthetic[NAMES[0]])  # verified: kept, never fetched
    (tmp_path / NAMES[1]).write_bytes(b"a file the user edited")  # unverified: replaced only by a good download
    bad = serve(server, "truncated", synthetic, "truncate")
    with pytest.raises(DownloadError, match=re.escape(f"Could not download {NAMES[1]}")):
        download.download_mnist(tmp_path, mirrors=[bad])
    assert (tmp_path / NAMES[0]).read_bytes() == synthetic[NAMES[0]]
    assert (tmp_path / NAMES[1]).read_bytes() == b"a file the user edited"
    assert Handler.requests == [f"/truncated/{NAMES[1]}"]
    assert_only(tmp_path, NAMES[:2])
    download.download_mnist(tmp_path, mirrors=[serve(server, "good", synthetic)])
    assert all((tmp_path / name).read_bytes() == body for name, body in synthetic.items())


def test_interrupted_download_leaves_no_partial_file(server, tmp_path, synthetic, monkeypatch):
    (tmp_path / NAMES[2]).write_bytes(b"old")

    def interrupted(url, out):
        out.write(synthetic[NAMES[2]][:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_fetch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download.download_file(NAMES[2], tmp_path, mirrors=[serve(server, "good", synthetic)])
    assert (tmp_path / NAMES[2]).read_bytes() == b"old"
    assert_only(tmp_path, [NAMES[2]])


def test_verified_cache_is_not_downloaded_again(server, tmp_path, synthetic):
    good = serve(server, "good", synthetic)
    download.download_mnist(mirrors=[good])  # into $NUMPY_TORCH_TWINS_CACHE
    assert len(Handler.requests) == 4 and download.is_cached()
    assert download.download_mnist(mirrors=[good]) == tmp_path / "user-cache"
    assert len(Handler.requests) == 4


def test_gzip_md5_of_the_mirrors_file_is_enough(tmp_path, synthetic, monkeypatch):
    path = tmp_path / NAMES[0]
    path.write_bytes(synthetic[NAMES[0]])
    monkeypatch.setitem(download.CONTENT_MD5, NAMES[0], "0" * 32)
    monkeypatch.setitem(download.CONTENT_SHA256, NAMES[0], "0" * 64)
    assert download.checksum_problem(path) is None
    monkeypatch.setitem(download.GZIP_MD5, NAMES[0], "0" * 32)
    assert download.checksum_problem(path) == "checksum mismatch"


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    assert download.default_cache_dir() == tmp_path / "user-cache"
    monkeypatch.delenv("NUMPY_TORCH_TWINS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.default_cache_dir() == tmp_path / "xdg" / "numpy-torch-twins" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.default_cache_dir() == tmp_path / "home" / ".cache" / "numpy-torch-twins" / "mnist"


def test_full_mnist_dir_falls_back_to_a_verified_cache(server, tmp_path, synthetic, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(data, "SHARED_MNIST_DIR", tmp_path / "no-shared-copy")
    assert data.full_mnist_dir() is None
    download.download_mnist(mirrors=[serve(server, "good", synthetic)])
    assert data.full_mnist_dir() == tmp_path / "user-cache"
    (tmp_path / "user-cache" / NAMES[3]).write_bytes(b"damaged")
    assert data.full_mnist_dir() is None
