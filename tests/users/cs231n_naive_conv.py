"""cs231n's naive convolutional layers (assignment 2, ``layers.py``: ``conv_forward_naive``,
``conv_backward_naive``, ``max_pool_forward_naive``, ``max_pool_backward_naive``) as the course's
students write them, loops over samples, filters and output positions, in the network of
:mod:`cs231n_conv` (its im2col layers swapped for these).

Each layer is the course's pair, ``forward(x, ...) -> (out, cache)`` and ``backward(dout, cache)``.
The convolution's backward scatters each output's gradient back over its window
(``dx_pad[n, :, window] += w[f] * dout[n, f, i, j]``), as the course's does; the max pool's
sends each window's dL/dy to the entry :meth:`NaiveConvNet.window_gradient` picks.

:class:`NaiveConvNet` is correct. Each other class plants one mistake learners really write in
one small method; ``CAUSE`` names what ``check_network`` must diagnose and ``LAYER`` where. The
loops are slow (a few milliseconds an image for a few channels): keep these networks tiny.
"""
from __future__ import annotations

import numpy as np

if __package__:  # imported as tests.users.cs231n_naive_conv
    from .cs231n_conv import ConvNet
else:  # loaded by its path (compare.plugins.load_class puts its folder on sys.path)
    from cs231n_conv import ConvNet


class NaiveConvNet(ConvNet):
    """:class:`cs231n_conv.ConvNet` with the naive loops of cs231n's ``layers.py`` for its layers."""

    def conv_forward(self, x, w, b, conv_param):
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        stride, pad = conv_param["stride"], conv_param["pad"]
        H_out = 1 + (H + 2 * pad - HH) // stride
        W_out = 1 + (W + 2 * pad - WW) // stride
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
        out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                        out[n, f, i, j] = np.sum(window * w[f]) + b[f]
        return out, (x, w, b, conv_param)

    def conv_backward(self, dout, cache):
        x, w, b, conv_param = cache
        N, F, H_out, W_out = dout.shape
        _, _, HH, WW = w.shape
        stride, pad = conv_param["stride"], conv_param["pad"]
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
        dx_pad, dw, db = np.zeros_like(x_pad), np.zeros_like(w), np.zeros_like(b)
        w_back = self.kernel_for_dx(w)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        rows, columns = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
                        db[f] += dout[n, f, i, j]
                        dw[f] += self.weight_gradient(x_pad[n, :, rows, columns], dout[n, f, i, j])
                        dx_pad[n, :, rows, columns] += w_back[f] * dout[n, f, i, j]
        return dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, db

    def weight_gradient(self, window, g):
        """One output's share of dL/dw[f]: the input window it read, times its gradient."""
        return window * g

    def kernel_for_dx(self, w):
        """The kernel each output's gradient is scattered back through: as it lies."""
        return w

    def pool_forward(self, x, pool_param):
        N, C, H, W = x.shape
        ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
        out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        out[n, c, i, j] = np.max(x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw])
        return out, (x, pool_param)

    def pool_backward(self, dout, cache):
        x, pool_param = cache
        N, C, H_out, W_out = dout.shape
        ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        dx = np.zeros_like(x)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        rows, columns = slice(i * stride, i * stride + ph), slice(j * stride, j * stride + pw)
                        dx[n, c, rows, columns] += self.window_gradient(x[n, c, rows, columns], dout[n, c, i, j])
        return dx

    def window_gradient(self, window, g):
        """dL/dwindow: g at the maximum (the first, in row-major order, where several tie), 0 elsewhere."""
        d = np.zeros_like(window)
        d[np.unravel_index(np.argmax(window), window.shape)] = g
        return d


# -- each mistake, planted in one small method --------------------------------------------------------

class PoolArgmaxSwapped(NaiveConvNet):
    """Turns the argmax k of the flattened window back into a place with row and column swapped."""

    CAUSE, LAYER = "pool_argmax_swapped", "pool2"

    def window_gradient(self, window, g):
        d = np.zeros_like(window)
        k = np.argmax(window)
        d[k % 2, k // 2] = g  # written into dx as dx[n, c, 2*i + k % 2, 2*j + k // 2]
        return d


class PoolGradientToTies(NaiveConvNet):
    """Sends dL/dy to every entry equal to the window's maximum: several, where the window ties."""

    CAUSE, LAYER = "pool_ties", "pool2"

    def window_gradient(self, window, g):
        return (window == np.max(window)) * g


class RotatedWeightGradient(NaiveConvNet):
    """Rotates each window 180° in dw's sum, as the full convolution for dx rotates the kernel."""

    CAUSE, LAYER = "rotated_dw", "conv2"

    def weight_gradient(self, window, g):
        return window[:, ::-1, ::-1] * g


class RotatedKernelInScatter(NaiveConvNet):
    """Scatters dL/dy back through the kernel rotated 180°, the rotation of dL/dx's gather form (a full
    convolution) written into the scatter form, which reads the kernel as it lies: a mistake outside
    the catalogue."""

    def kernel_for_dx(self, w):
        return w[:, :, ::-1, ::-1]


CORRECT = (NaiveConvNet,)
MISTAKES = (PoolArgmaxSwapped, PoolGradientToTies, RotatedWeightGradient)
