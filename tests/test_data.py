"""common.data: the scaling, the targets, the IDX and CSV readers, the folder loader, the datasets."""
import gzip
import re
import struct

import numpy as np
import pytest

from common import data
from common.errors import DataError, ParameterError

# From /work/shared/data/mnist/README.md and common/embedded/README.md.
FULL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
FULL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
EMBEDDED_TRAIN_COUNTS = [592, 671, 581, 608, 623, 514, 608, 651, 551, 601]
EMBEDDED_TEST_COUNTS = [85, 126, 116, 107, 110, 87, 87, 99, 89, 94]


def idx_bytes(array):
    """IDX encoding written independently of the library: magic 0x0803/0x0801, sizes, bytes."""
    magic = {1: 0x00000801, 3: 0x00000803}[array.ndim]
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx(path, array, compress=False):
    content = idx_bytes(array)
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def write_csv(path, images, labels):
    path.write_text("".join(",".join(map(str, [label, *row])) + "\n" for label, row in zip(labels, images)))
    return path


def random_split(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_idx_folder(folder, n_train=5, n_test=3, compress=True):
    folder.mkdir(exist_ok=True)
    for split, n, prefix in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images, labels = random_split(n, seed=n)
        suffix = ".gz" if compress else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
    return folder


# --- scaling and targets -------------------------------------------------------------------------

def test_scale_inputs_maps_0_to_0_01_and_255_to_1():
    assert data.scale_inputs(np.array([0, 255], dtype=np.uint8)).tolist() == [0.01, 1.0]
    assert data.scale_inputs(np.array([0, 255], dtype=np.uint8), "float32").tolist() == [np.float32(0.01), 1.0]


@pytest.mark.parametrize("dtype, bits", [(np.float64, np.uint64), (np.float32, np.uint32)])
def test_scale_table_equals_formula_bit_for_bit(dtype, bits):
    pixels = np.arange(256, dtype=np.uint8)
    formula = (pixels / 255 * 0.99 + 0.01).astype(dtype)
    assert np.array_equal(data.scale_inputs(pixels, dtype).view(bits), formula.view(bits))
    chunk = np.random.default_rng(1).integers(0, 256, (1000, 784), dtype=np.uint8)
    assert np.array_equal(data.scale_inputs(chunk, dtype).view(bits), (chunk / 255 * 0.99 + 0.01).astype(dtype).view(bits))


@pytest.mark.parametrize("shape", [(784,), (7, 784)])
def test_scale_inputs_keeps_shape_and_gives_dtype(shape):
    scaled = data.scale_inputs(np.zeros(shape, dtype=np.uint8), "float32")
    assert scaled.shape == shape and scaled.dtype == np.float32


def test_scale_inputs_rejects_non_uint8_and_unknown_dtype():
    with pytest.raises(ParameterError, match="The 'images' parameter must be a uint8 array. Got dtype float64"):
        data.scale_inputs(np.zeros(784))
    with pytest.raises(ParameterError, match="The 'dtype' parameter must be 'float32' or 'float64'. Got 'float16'"):
        data.scale_inputs(np.zeros(784, dtype=np.uint8), "float16")


def test_one_hot_targets_are_0_01_with_0_99_at_the_label():
    targets = data.one_hot_targets(np.array([3, 0, 9], dtype=np.uint8))
    expected = np.full((3, 10), 0.01)
    expected[[0, 1, 2], [3, 0, 9]] = 0.99
    assert targets.dtype == np.float64 and np.array_equal(targets, expected)
    single = data.one_hot_targets(np.uint8(2), "float32")
    assert single.shape == (10,) and single.dtype == np.float32 and single[2] == np.float32(0.99)


def test_one_hot_targets_take_the_values_an_architecture_trains_towards():
    from common.architecture import Architecture
    values = Architecture(784, [], 10, loss="cross_entropy").target_values
    targets = data.one_hot_targets(np.array([3, 0]), "float32", values=values)
    np.testing.assert_array_equal(targets, np.eye(10, dtype=np.float32)[[3, 0]])
    assert data.one_hot_targets(np.array([3]))[0, 0] == 0.01  # the default stays the book's


def test_one_hot_targets_rejects_labels_out_of_range():
    with pytest.raises(ParameterError, match=r"must hold values in 0..9. Got 10 instead"):
        data.one_hot_targets(np.array([1, 10]))
    with pytest.raises(ParameterError, match="must be an integer array"):
        data.one_hot_targets(np.array([1.0]))


# --- IDX -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_idx_round_trip(tmp_path, compress):
    images, labels = random_split(4)
    back = data.load_idx(write_idx(tmp_path / "images", images, compress))
    assert back.dtype == np.uint8 and np.array_equal(back, images.reshape(4, 784))
    assert np.array_equal(data.load_idx(write_idx(tmp_path / "labels", labels, compress)), labels)


def test_idx_gzip_is_detected_by_magic_bytes_not_name(tmp_path):
    images, _ = random_split(2)
    (tmp_path / "gzipped.idx").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "raw.gz").write_bytes(idx_bytes(images))
    assert np.array_equal(data.load_idx(tmp_path / "gzipped.idx"), data.load_idx(tmp_path / "raw.gz"))


def test_idx_accepts_other_image_sizes(tmp_path):
    images = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    assert data.load_idx(write_idx(tmp_path / "small", images)).shape == (2, 15)


def _bad_idx(tmp_path, case):
    images = random_split(5)[0]
    content = idx_bytes(images)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    if case == "wrong magic":
        content = struct.pack(">I", 0x00000802) + content[4:]
    elif case == "truncated":
        content = content[:-1]
    elif case == "trailing":
        content = content + b"junk"
    elif case == "short header":
        content = content[:10]
    compressed = gzip.compress(content)
    if case == "corrupt gzip":
        compressed = compressed[:20] + bytes(b ^ 0xFF for b in compressed[20:40]) + compressed[40:]
    elif case == "cut gzip":
        compressed = compressed[: len(compressed) // 2]
    path.write_bytes(compressed)
    return path


@pytest.mark.parametrize("case, message", [
    ("wrong magic", "not an MNIST IDX file: found magic number 0x00000802, expected 0x00000803 (images)"),
    ("truncated", "truncated: the header promises 5 images of 28x28 (3920 bytes) but the file holds 3919."),
    ("trailing", "4 bytes of trailing data after the 5 images of 28x28 the header promises."),
    ("short header", "truncated: the file ends inside its 16-byte header."),
    ("corrupt gzip", "corrupt gzip data"),
    ("cut gzip", "corrupt gzip data"),
])
def test_idx_bad_file_raises_one_sentence_naming_file_and_problem(tmp_path, case, message):
    path = _bad_idx(tmp_path, case)
    with pytest.raises(DataError, match=re.escape(f"{path}: {message}")):
        data.load_idx(path)


def test_idx_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'nothing.gz'}: no such file.")):
        data.load_idx(tmp_path / "nothing.gz")


# --- CSV -----------------------------------------------------------------------------------------

def test_csv_round_trip_with_crlf_and_no_final_newline(tmp_path):
    images, labels = random_split(3)
    path = write_csv(tmp_path / "mnist_test_10.csv", images.reshape(3, 784), labels)
    got_images, got_labels = data.load_csv(path)
    assert got_images.dtype == got_labels.dtype == np.uint8
    assert np.array_equal(got_images, images.reshape(3, 784)) and np.array_equal(got_labels, labels)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n").rstrip())
    assert np.array_equal(data.load_csv(path)[0], images.reshape(3, 784))


def _csv_lines(n=4):
    images, labels = random_split(n)
    return [",".join(map(str, [label, *row])) for label, row in zip(labels, images.reshape(n, 784))]


@pytest.mark.parametrize("line_3, message", [
    (lambda line: line.rsplit(",", 1)[0], "line 3: 783 pixel values, expected 784."),
    (lambda line: line + ",0", "line 3: 785 pixel values, expected 784."),
    (lambda line: line.replace(",", ",1.5,", 1).rsplit(",", 1)[0], "line 3: '1.5' is not a non-negative integer."),
    (lambda line: "7,-3," + line.split(",", 2)[2], "line 3: '-3' is not a non-negative integer."),
    (lambda line: "7,256," + line.split(",", 2)[2], "line 3: pixel value 256 is outside 0..255."),
    (lambda line: "10," + line.split(",", 1)[1], "line 3: label 10 is outside 0..9."),
    (lambda line: "7,," + line.split(",", 2)[2], "line 3: empty value."),
    (lambda line: "", "line 3: 0 pixel values, expected 784."),
])
def test_csv_bad_row_raises_naming_file_and_line(tmp_path, line_3, message):
    lines = _csv_lines()
    lines[2] = line_3(lines[2])
    path = tmp_path / "mnist_train.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, {message}")):
        data.load_csv(path)


def test_csv_empty_file_is_named(tmp_path):
    (tmp_path / "mnist_test.csv").write_text("\n")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'mnist_test.csv'}: empty file.")):
        data.load_csv(tmp_path / "mnist_test.csv")


# --- folders and datasets ------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_load_folder_reads_idx(tmp_path, compress):
    dataset = data.load_folder(write_idx_folder(tmp_path / "mnist", compress=compress))
    assert dataset.train_images.shape == (5, 784) and dataset.test_labels.shape == (3,)
    assert dataset.source == str(tmp_path / "mnist")


@pytest.mark.parametrize("train_name, test_name", data.CSV_NAMES)
def test_load_folder_reads_the_books_csv(tmp_path, train_name, test_name):
    images, labels = random_split(3)
    write_csv(tmp_path / train_name, images.reshape(3, 784), labels)
    write_csv(tmp_path / test_name, images.reshape(3, 784)[:2], labels[:2])
    dataset = data.load_folder(tmp_path)
    assert len(dataset.train_labels) == 3 and len(dataset.test_labels) == 2


def test_load_folder_missing_or_not_a_folder_or_empty(tmp_path):
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'nope'}: no such folder.")):
        data.load_folder(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'file'}: not a folder.")):
        data.load_folder(tmp_path / "file")
    with pytest.raises(DataError, match=r"no MNIST files found; looked for train-images-idx3-ubyte\[\.gz\], .*"
                                        r"mnist_train\.csv \+ mnist_test\.csv, mnist_train_100\.csv \+ mnist_test_10\.csv\."):
        data.load_folder(tmp_path)


def test_load_folder_names_missing_idx_files(tmp_path):
    folder = write_idx_folder(tmp_path / "mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"holds some MNIST IDX files but not t10k-labels-idx1-ubyte\[\.gz\]\."):
        data.load_folder(folder)


def test_load_folder_rejects_count_mismatch_wrong_size_and_swapped_files(tmp_path):
    folder = write_idx_folder(tmp_path / "mnist")
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(4, dtype=np.uint8), compress=True)
    with pytest.raises(DataError, match=re.escape(f"{folder}: train: 5 images but 4 labels.")):
        data.load_folder(folder)
    images = folder / "t10k-images-idx3-ubyte.gz"
    write_idx(images, np.zeros((3, 14, 56), dtype=np.uint8), compress=True)
    with pytest.raises(DataError, match=re.escape(f"{images}: images are 14x56, expected 28x28.")):
        data.load_folder(folder)
    write_idx(images, np.zeros(3, dtype=np.uint8), compress=True)
    with pytest.raises(DataError, match=re.escape(f"{images}: holds labels, expected images.")):
        data.load_folder(folder)


def test_load_folder_rejects_labels_above_9(tmp_path):
    folder = write_idx_folder(tmp_path / "mnist")
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.array([1, 12, 3], dtype=np.uint8), compress=True)
    with pytest.raises(DataError, match="test labels must be digits 0..9. Found 12 at index 1."):
        data.load_folder(folder)


def test_limit_returns_views_of_the_first_examples(tmp_path):
    dataset = data.load_folder(write_idx_folder(tmp_path / "mnist"))
    small = dataset.limit(train=2)
    assert small.train_images.shape == (2, 784) and len(small.test_labels) == 3
    assert np.shares_memory(small.train_images, dataset.train_images)
    assert np.array_equal(small.train_labels, dataset.train_labels[:2])
    assert "first 2 train / 3 test" in small.source
    assert len(dataset.limit(test=100).test_labels) == 3  # more than there are keeps them all


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_limit_rejects_non_positive_counts(tmp_path, bad):
    dataset = data.load_folder(write_idx_folder(tmp_path / "mnist"))
    with pytest.raises(ParameterError, match=re.escape(f"The 'test' parameter must be an int > 0 or None. Got {bad!r}")):
        dataset.limit(test=bad)


def test_load_dataset_rejects_unknown_names_and_prefers_data_dir(tmp_path):
    with pytest.raises(ParameterError, match="The 'dataset' parameter must be one of 'embedded', 'mnist'. Got 'fashion'"):
        data.load_dataset("fashion")
    folder = write_idx_folder(tmp_path / "mnist")
    assert data.load_dataset("mnist", data_dir=folder).source == str(folder)


def test_embedded_subset_has_6000_and_1000_with_its_label_counts():
    dataset = data.load_dataset()
    assert dataset.train_images.shape == (6000, 784) and dataset.test_images.shape == (1000, 784)
    assert dataset.source == "embedded subset (6,000 train / 1,000 test)"
    assert np.bincount(dataset.train_labels, minlength=10).tolist() == EMBEDDED_TRAIN_COUNTS
    assert np.bincount(dataset.test_labels, minlength=10).tolist() == EMBEDDED_TEST_COUNTS


def test_full_mnist_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    assert data.full_mnist_dir() == tmp_path


@pytest.fixture(scope="module")
def full_set():
    folder = data.full_mnist_dir()
    if folder is None:
        pytest.skip("the full MNIST set was not found (set MNIST_DIR, or put it in ../shared/data/mnist)")
    return data.load_folder(folder)


def test_full_set_has_the_published_label_counts_and_means(full_set):
    assert full_set.train_images.shape == (60000, 784) and full_set.test_images.shape == (10000, 784)
    assert np.bincount(full_set.train_labels, minlength=10).tolist() == FULL_TRAIN_COUNTS
    assert np.bincount(full_set.test_labels, minlength=10).tolist() == FULL_TEST_COUNTS
    assert round(float(full_set.train_images.mean()), 3) == 33.318
    assert round(float(full_set.test_images.mean()), 3) == 33.791


def test_embedded_subset_is_the_start_of_the_full_set(full_set):
    embedded = data.load_embedded()
    small = full_set.limit(train=6000, test=1000)
    for key in ("train_images", "train_labels", "test_images", "test_labels"):
        assert np.array_equal(getattr(embedded, key), getattr(small, key)), key
