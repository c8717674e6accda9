"""from_scratch's convolution and max-pool kernels against torch.nn.functional and autograd.

Each forward pass is compared with torch's function, and each backward pass with what autograd
gives for the same upstream gradient, at the dtype's ``single`` tolerance. A small convolution
worked by hand and a central finite-difference check need no torch.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from common.errors import ParameterError
from common.tolerances import assert_close, tolerance
from from_scratch.layers.conv import conv_backward, conv_forward
from from_scratch.layers.maxpool import maxpool_backward, maxpool_forward


def batch_last(a: np.ndarray) -> np.ndarray:
    """The same array, laid out in memory as (C, H, W, n), the order conv_forward leaves its output in."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def torch_conv(x, w, b, padding, dout):
    """torch's out, and autograd's dL/dx, dL/dw, dL/db for L = Σ dout ⊙ out."""
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    out = F.conv2d(tx, tw, tb, padding=padding)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), None if b is None else tb.grad.numpy()


@st.composite
def conv_cases(draw):
    """x, w, b, padding and an upstream gradient: shapes, kernel 1-5, padding 0-2, bias or not."""
    dtype = draw(st.sampled_from(["float64", "float32"]))
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kernel, padding = draw(st.integers(1, 5)), draw(st.integers(0, 2))
    height = draw(st.integers(max(kernel - 2 * padding, 1), 9))
    width = draw(st.integers(max(kernel - 2 * padding, 1), 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c_in, height, width)).astype(dtype)
    if draw(st.booleans()):
        x = batch_last(x)
    w = rng.standard_normal((c_out, c_in, kernel, kernel)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if draw(st.booleans()) else None
    out_shape = (n, c_out, height + 2 * padding - kernel + 1, width + 2 * padding - kernel + 1)
    dout = rng.standard_normal(out_shape).astype(dtype)
    return x, w, b, padding, dout


@given(conv_cases())
def test_conv_forward_and_backward_match_torch(case):
    x, w, b, padding, dout = case
    rtol = tolerance(x.dtype).single
    theirs = torch_conv(x, w, b, padding, dout)
    out, cache = conv_forward(x, w, b, padding)
    assert out.shape == theirs[0].shape and out.dtype == x.dtype
    assert_close(out, theirs[0], rtol, "conv_forward against F.conv2d")
    for dout_in_order in (dout, batch_last(dout)):  # torch's memory order, and conv_forward's own
        mine = conv_backward(dout_in_order, cache)
        for name, a, t in zip(("dL/dx", "dL/dw", "dL/db"), mine, theirs[1:]):
            if t is None:
                continue
            assert a.shape == t.shape and a.dtype == x.dtype, name
            assert_close(a, t, rtol, f"conv_backward's {name} against autograd")


def test_conv_backward_skips_dx_when_asked():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = conv_forward(x, w, b, 1)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward(dout, cache, need_dx=False)
    assert dx is None
    _, dw_full, db_full = conv_backward(dout, cache)
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)


def test_conv_forward_reuses_the_im2col_buffer_only_where_it_fits():
    rng = np.random.default_rng(1)
    w, b = rng.standard_normal((4, 2, 3, 3)).astype("float32"), np.zeros(4, "float32")
    first, second = (rng.standard_normal((5, 2, 7, 7)).astype("float32") for _ in range(2))
    _, cache = conv_forward(first, w, b, 1)
    buffer = cache.x_col
    out, reused = conv_forward(second, w, b, 1, reuse=cache)
    assert reused.x_col is buffer
    np.testing.assert_array_equal(out, conv_forward(second, w, b, 1)[0])
    smaller = second[:3]  # the last, smaller batch of an epoch
    out, fresh = conv_forward(smaller, w, b, 1, reuse=reused)
    assert fresh.x_col is not buffer
    np.testing.assert_array_equal(out, conv_forward(smaller, w, b, 1)[0])


def test_conv_worked_by_hand():
    """One 3×3 image, one 2×2 filter: a cross-correlation, and col2im summing overlaps."""
    x = np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]).reshape(1, 1, 3, 3)
    w = np.array([[1.0, 2], [3, 4]]).reshape(1, 1, 2, 2)
    b = np.array([0.5])
    out, cache = conv_forward(x, w, b, padding=0)
    # y_ij = Σ_kl w_kl x_(i+k)(j+l) + b, the kernel not flipped:
    # y_00 = 1·1 + 2·2 + 3·4 + 4·5 + 0.5 = 37.5  (a true convolution, flipped, would give 23.5)
    # y_01 = 1·2 + 2·3 + 3·5 + 4·6 + 0.5 = 47.5
    # y_10 = 1·4 + 2·5 + 3·7 + 4·8 + 0.5 = 67.5
    # y_11 = 1·5 + 2·6 + 3·8 + 4·9 + 0.5 = 77.5
    np.testing.assert_array_equal(out, [[[[37.5, 47.5], [67.5, 77.5]]]])
    dx, dw, db = conv_backward(np.ones((1, 1, 2, 2)), cache)
    # With dL/dy = 1 everywhere: dL/dw_kl = Σ_ij x_(i+k)(j+l), the sum of the window at (k, l):
    # dw_00 = 1+2+4+5 = 12, dw_01 = 2+3+5+6 = 16, dw_10 = 4+5+7+8 = 24, dw_11 = 5+6+8+9 = 28.
    np.testing.assert_array_equal(dw, [[[[12.0, 16], [24, 28]]]])
    # dL/db = Σ_ij dL/dy_ij = 4.
    np.testing.assert_array_equal(db, [4.0])
    # dL/dx_pq = Σ of w_kl over the windows (i, j) = (p − k, q − l) that hold pixel (p, q):
    # corners lie in one window each (w_00 = 1, w_01 = 2, w_10 = 3, w_11 = 4); edge middles in
    # two (1 + 2 = 3 on top, 1 + 3 = 4 on the left, 2 + 4 = 6, 3 + 4 = 7); the centre in all
    # four, 1 + 2 + 3 + 4 = 10. col2im overwriting instead of adding would leave only one term.
    np.testing.assert_array_equal(dx, [[[[1.0, 3, 2], [4, 10, 6], [3, 7, 4]]]])


def test_conv_gradient_matches_finite_differences():
    """Central differences of L = Σ r ⊙ conv(x, w, b), one entry of x, w and b at a time.

    L is linear in each argument, so a central difference has no truncation error at any
    step: it is exact but for rounding, about eps·|L| / h, and a step of 1 keeps that within
    the float64 ``single`` tolerance.
    """
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    padding = 1
    out, cache = conv_forward(x, w, b, padding)
    r = rng.standard_normal(out.shape)
    analytic = conv_backward(r, cache)

    def loss(x, w, b):
        return float(np.sum(r * conv_forward(x, w, b, padding)[0]))

    arguments = [x, w, b]
    for position, (name, gradient) in enumerate(zip(("dL/dx", "dL/dw", "dL/db"), analytic)):
        numeric = np.empty_like(arguments[position])
        for index in np.ndindex(numeric.shape):
            shifted = [[a.copy() for a in arguments] for _ in range(2)]
            shifted[0][position][index] += 1.0
            shifted[1][position][index] -= 1.0
            numeric[index] = (loss(*shifted[0]) - loss(*shifted[1])) / 2.0
        assert_close(gradient, numeric, tolerance("float64").single, f"{name} against central differences")


def test_conv_rejects_mismatched_shapes_and_bad_padding():
    x, w = np.zeros((1, 3, 5, 5)), np.zeros((2, 3, 3, 3))
    with pytest.raises(ParameterError, match="same C"):
        conv_forward(x, np.zeros((2, 2, 3, 3)), None)
    with pytest.raises(ParameterError, match="dtype"):
        conv_forward(x, w.astype("float32"), None)
    with pytest.raises(ParameterError, match="'padding'"):
        conv_forward(x, w, None, padding=-1)
    with pytest.raises(ParameterError, match="'padding'"):
        conv_forward(x, np.zeros((2, 3, 7, 7)), None, padding=0)


# -- max pooling --------------------------------------------------------------------------


def torch_pool(x, dout):
    tx = torch.tensor(x, requires_grad=True)
    out = F.max_pool2d(tx, 2)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), tx.grad.numpy()


@st.composite
def pool_cases(draw):
    """x with many ties (entries drawn from a few integers), odd sizes included, and dL/dy."""
    dtype = draw(st.sampled_from(["float64", "float32"]))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    if draw(st.booleans()):
        x = batch_last(x)
    dout = rng.standard_normal(shape[:2] + (shape[2] // 2, shape[3] // 2)).astype(dtype)
    return x, dout


@given(pool_cases())
def test_maxpool_matches_torch_ties_included(case):
    """Pooling only moves numbers, so the answers are equal exactly, not within a tolerance."""
    x, dout = case
    out_theirs, dx_theirs = torch_pool(x, dout)
    out, cache = maxpool_forward(x)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, out_theirs)
    for dout_in_order in (dout, batch_last(dout)):
        dx = maxpool_backward(dout_in_order, cache)
        assert dx.dtype == x.dtype
        np.testing.assert_array_equal(dx, dx_theirs)


def test_maxpool_sends_each_gradient_to_the_first_maximum_by_hand():
    # Four windows of one 4×4 image, each with its maximum more than once, and dL/dy = 1, 2, 3, 4.
    x = np.array([[1.0, 3, 5, 1],
                  [3, 2, 1, 5],
                  [0, 0, 1, 2],
                  [0, 0, 4, 4]]).reshape(1, 1, 4, 4)
    out, cache = maxpool_forward(x)
    np.testing.assert_array_equal(out, [[[[3.0, 5], [0, 4]]]])
    dx = maxpool_backward(np.array([1.0, 2, 3, 4]).reshape(1, 1, 2, 2), cache)
    # Top left, [[1, 3], [3, 2]]: 3 at (0, 1) and (1, 0); the first in row-major order is (0, 1).
    #   (Comparing top against bottom first would find 3 in both columns and pick column 0, (1, 0).)
    # Top right, [[5, 1], [1, 5]]: 5 at (0, 0) and (1, 1): (0, 0).
    # Bottom left, all four 0: (0, 0).
    # Bottom right, [[1, 2], [4, 4]]: 4 at (1, 0) and (1, 1): (1, 0).
    expected = np.array([[0.0, 1, 2, 0],
                         [0, 0, 0, 0],
                         [3, 0, 0, 0],
                         [0, 0, 4, 0]]).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(dx, expected)
    np.testing.assert_array_equal(dx, torch_pool(x, np.array([1.0, 2, 3, 4]).reshape(1, 1, 2, 2))[1])


def test_maxpool_rejects_images_smaller_than_its_window():
    with pytest.raises(ParameterError, match="at least 2"):
        maxpool_forward(np.zeros((1, 1, 1, 4)))


# -- the benchmark's LeNet --------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 3])
def test_benchmark_lenet_computes_torchs_gradients(batch):
    """The race in benchmarks/conv_layers.py is between two programs that compute the same thing."""
    from benchmarks.conv_layers import same_step

    worst, line = same_step(batch)
    assert worst <= tolerance("float32").single, line
