"""cs231n's convolutional layers (assignment 2: ``im2col.py``, ``fast_layers.py``, ``layer_utils.py``) as the
course's students write them, stacked into a LeNet-style network with the library's signature.

Each layer is the course's pair, ``forward(x, ...) -> (out, cache)`` and ``backward(dout, cache)``,
with the course's own layouts: ``im2col_indices`` lays the windows out as columns through index
arrays (k, i, j) and ``col2im_indices`` adds the columns back with ``np.add.at``; a convolution's
output is reshaped from (F, H', W', N); an affine layer's weight is ``(D, M)``, the transpose of
``nn.Linear.weight`` (``get_weights`` and ``set_weights`` turn it); parameters live in a dict,
``W1, b1, W2, ...`` from the input side. The max pool is the "reshape" kind for 2×2 windows of
stride 2, its backward sending dL/dy to the window's first maximum, as torch does (the course's
reshape version shares it among tied maxima, which blank MNIST backgrounds make common).

:class:`ConvNet` is correct: conv-relu-pool per convolution layer, affine-relu per hidden layer,
affine, softmax loss, plain SGD. Each other class plants one classic convolution mistake in one
small method; ``CAUSE`` names what ``check_network`` must diagnose and ``LAYER`` where.
"""
from __future__ import annotations

import numpy as np


# -- im2col.py ----------------------------------------------------------------------------------------

def get_im2col_indices(x_shape, field_height, field_width, padding=1, stride=1):
    """The (channel, row, column) of the padded input that each entry of the columns reads."""
    N, C, H, W = x_shape
    out_height = (H + 2 * padding - field_height) // stride + 1
    out_width = (W + 2 * padding - field_width) // stride + 1
    i0 = np.tile(np.repeat(np.arange(field_height), field_width), C)
    i1 = stride * np.repeat(np.arange(out_height), out_width)
    j0 = np.tile(np.arange(field_width), field_height * C)
    j1 = stride * np.tile(np.arange(out_width), out_height)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    k = np.repeat(np.arange(C), field_height * field_width).reshape(-1, 1)
    return k, i, j


def im2col_indices(x_padded, x_shape, field_height, field_width, padding=1, stride=1):
    """Rows (c, kh, kw), columns (output position, image): the windows of the padded input."""
    k, i, j = get_im2col_indices(x_shape, field_height, field_width, padding, stride)
    cols = x_padded[:, k, i, j]
    C = x_shape[1]
    return cols.transpose(1, 2, 0).reshape(field_height * field_width * C, -1)


def col2im_indices(cols, x_shape, field_height, field_width, padding=1, stride=1):
    """The columns added back into a padded image: a pixel in several windows gets the sum."""
    N, C, H, W = x_shape
    x_padded = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    k, i, j = get_im2col_indices(x_shape, field_height, field_width, padding, stride)
    cols_reshaped = cols.reshape(C * field_height * field_width, -1, N).transpose(2, 0, 1)
    np.add.at(x_padded, (slice(None), k, i, j), cols_reshaped)
    return x_padded


# -- the network --------------------------------------------------------------------------------------

class ConvNet:
    """[conv - relu - 2x2 max pool] x L - [affine - relu] x M - affine - softmax, trained by plain SGD.

    ``conv`` lists each convolution layer's (filters, kernel, padding), stride 1.
    """

    LEARNING_RATE = 1e-2

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64",
                 activation="relu", loss="cross_entropy", bias=True, conv=((6, 5, 2), (16, 5, 0))):
        for name, value, wanted in (("activation", activation, "relu"), ("loss", loss, "cross_entropy"),
                                    ("bias", bias, True)):
            if value != wanted:
                raise ValueError(f"ConvNet's {name} is {wanted!r}. Got {value!r} instead.")
        self.input_nodes, self.hidden_nodes, self.output_nodes = input_nodes, hidden_nodes, output_nodes
        self.lr, self.dtype = float(learning_rate), np.dtype(dtype)
        self.activation, self.loss, self.bias = activation, loss, bias
        self.conv = tuple(tuple(layer) for layer in conv)
        self.side = int(round(input_nodes ** 0.5))
        self.conv_params = [{"stride": 1, "pad": pad} for _, _, pad in self.conv]
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        rng = np.random.default_rng(0)
        self.params, channels, side = {}, 1, self.side
        for n, (filters, kernel, pad) in enumerate(self.conv, start=1):
            self.params[f"W{n}"] = rng.normal(0, 1e-2, (filters, channels, kernel, kernel)).astype(self.dtype)
            self.params[f"b{n}"] = np.zeros(filters, dtype=self.dtype)
            channels, side = filters, (side + 2 * pad - kernel + 1) // 2
        hidden = [hidden_nodes] if np.ndim(hidden_nodes) == 0 else list(hidden_nodes)
        sizes = [channels * side * side, *hidden, output_nodes]
        for n, (d, m) in enumerate(zip(sizes, sizes[1:]), start=len(self.conv) + 1):
            self.params[f"W{n}"] = rng.normal(0, 1e-2, (d, m)).astype(self.dtype)  # affine: (D, M)
            self.params[f"b{n}"] = np.zeros(m, dtype=self.dtype)
        self.layers = len(self.conv) + len(sizes) - 1

    # -- weights in the library's layout: a conv's as it is, an affine's transposed --------------------

    def get_weights(self):
        weights = []
        for n in range(1, self.layers + 1):
            w = self.params[f"W{n}"]
            weights += [(w if w.ndim == 4 else w.T).copy(), self.params[f"b{n}"].copy()]
        return weights

    def set_weights(self, weights):
        for n in range(1, self.layers + 1):
            w = np.array(weights[2 * n - 2], dtype=self.dtype)
            self.params[f"W{n}"] = w if w.ndim == 4 else np.ascontiguousarray(w.T)
            self.params[f"b{n}"] = np.array(weights[2 * n - 1], dtype=self.dtype)

    # -- the layers: each forward beside its backward -----------------------------------------------------

    def pad(self, x, pad):
        return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")

    def unpad(self, dx_padded, pad):
        return dx_padded if pad == 0 else dx_padded[:, :, pad:-pad, pad:-pad]

    def kernel(self, w):
        """The weights as the im2col product uses them: cross-correlation, as torch."""
        return w

    def col2im(self, cols, x_shape, kernel, pad):
        return col2im_indices(cols, x_shape, kernel, kernel, pad, 1)

    def conv_forward(self, x, w, b, conv_param):
        N, C, H, W = x.shape
        num_filters, _, filter_height, filter_width = w.shape
        stride, pad = conv_param["stride"], conv_param["pad"]
        out_height = (H + 2 * pad - filter_height) // stride + 1
        out_width = (W + 2 * pad - filter_width) // stride + 1
        x_cols = im2col_indices(self.pad(x, pad), x.shape, filter_height, filter_width, pad, stride)
        res = self.kernel(w).reshape((num_filters, -1)).dot(x_cols) + b.reshape(-1, 1)
        out = res.reshape(num_filters, out_height, out_width, N).transpose(3, 0, 1, 2)
        return out, (x, w, b, conv_param, x_cols)

    def conv_backward(self, dout, cache):
        x, w, b, conv_param, x_cols = cache
        stride, pad = conv_param["stride"], conv_param["pad"]
        num_filters, _, filter_height, filter_width = w.shape
        db = np.sum(dout, axis=(0, 2, 3))
        dout_reshaped = dout.transpose(1, 2, 3, 0).reshape(num_filters, -1)
        dw = self.kernel(dout_reshaped.dot(x_cols.T).reshape(w.shape))  # a flip is its own inverse
        dx_cols = self.kernel(w).reshape(num_filters, -1).T.dot(dout_reshaped)
        dx = self.unpad(self.col2im(dx_cols, x.shape, filter_height, pad), pad)
        return dx, dw, db

    def relu_forward(self, x):
        return np.maximum(0, x), x

    def relu_backward(self, dout, cache):
        return dout * (cache > 0)

    def pool_forward(self, x, pool_param):
        """2x2 windows of stride 2, by reshaping: each window's first maximum, as torch's."""
        N, C, H, W = x.shape
        windows = x[:, :, :H // 2 * 2, :W // 2 * 2].reshape(N, C, H // 2, 2, W // 2, 2)
        windows = windows.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H // 2, W // 2, 4)
        argmax = windows.argmax(axis=-1)
        out = np.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0]
        return out, (x, argmax)

    def pool_backward(self, dout, cache):
        x, argmax = cache
        N, C, H, W = x.shape
        dwindows = np.zeros(dout.shape + (4,), dtype=dout.dtype)
        np.put_along_axis(dwindows, argmax[..., None], dout[..., None], axis=-1)
        return self.unwindow(dwindows, x)

    def unwindow(self, dwindows, x):
        """Per-window gradients (N, C, H/2, W/2, 4) laid back into x's shape (zeros in a left-out row)."""
        N, C, H, W = x.shape
        dx = np.zeros_like(x)
        dx[:, :, :H // 2 * 2, :W // 2 * 2] = dwindows.reshape(N, C, H // 2, W // 2, 2, 2).transpose(
            0, 1, 2, 4, 3, 5).reshape(N, C, H // 2 * 2, W // 2 * 2)
        return dx

    def flatten(self, x):
        return x.reshape(x.shape[0], -1)

    def unflatten(self, dx, shape):
        return dx.reshape(shape)

    def affine_forward(self, x, w, b):
        return x.dot(w) + b, (x, w)

    def affine_backward(self, dout, cache):
        x, w = cache
        return dout.dot(w.T), x.T.dot(dout), dout.sum(axis=0)

    def softmax_loss(self, scores, targets):
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        N = scores.shape[0]
        return -np.sum(targets * log_probs) / N, (np.exp(log_probs) - targets) / N

    # -- the model: the assignment's loss(), then the library's protocol --------------------------------

    def scores_and_caches(self, X):
        out, caches = X.reshape(X.shape[0], 1, self.side, self.side), []
        for n, conv_param in enumerate(self.conv_params, start=1):
            a, conv_cache = self.conv_forward(out, self.params[f"W{n}"], self.params[f"b{n}"], conv_param)
            s, relu_cache = self.relu_forward(a)
            out, pool_cache = self.pool_forward(s, self.pool_param)
            caches.append((conv_cache, relu_cache, pool_cache))
        shape, out = out.shape, self.flatten(out)
        for n in range(len(self.conv) + 1, self.layers + 1):
            out, affine_cache = self.affine_forward(out, self.params[f"W{n}"], self.params[f"b{n}"])
            relu_cache = None
            if n < self.layers:
                out, relu_cache = self.relu_forward(out)
            caches.append((affine_cache, relu_cache))
        return out, caches, shape

    def loss_and_grads(self, X, targets):
        scores, caches, shape = self.scores_and_caches(X)
        loss, dout = self.softmax_loss(scores, targets)
        grads = {}
        for n in range(self.layers, len(self.conv), -1):
            affine_cache, relu_cache = caches[n - 1]
            if relu_cache is not None:
                dout = self.relu_backward(dout, relu_cache)
            dout, grads[f"W{n}"], grads[f"b{n}"] = self.affine_backward(dout, affine_cache)
        dout = self.unflatten(dout, shape)
        for n in range(len(self.conv), 0, -1):
            conv_cache, relu_cache, pool_cache = caches[n - 1]
            ds = self.pool_backward(dout, pool_cache)
            da = self.relu_backward(ds, relu_cache)
            dout, grads[f"W{n}"], grads[f"b{n}"] = self.conv_backward(da, conv_cache)
        return loss, grads

    def _batch(self, inputs, targets=None):
        X = np.atleast_2d(np.asarray(inputs, dtype=self.dtype))
        return X if targets is None else (X, np.atleast_2d(np.asarray(targets, dtype=self.dtype)))

    def query(self, inputs):
        scores = self.scores_and_caches(self._batch(inputs))[0]
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities[0] if np.ndim(inputs) == 1 else probabilities

    def gradients(self, inputs, targets):
        grads, found = self.loss_and_grads(*self._batch(inputs, targets))[1], []
        for n in range(1, self.layers + 1):
            dw = grads[f"W{n}"]
            found += [(dw if dw.ndim == 4 else dw.T).copy(), grads[f"b{n}"].copy()]
        return found

    def train(self, inputs, targets):
        loss, grads = self.loss_and_grads(*self._batch(inputs, targets))
        for name, g in grads.items():
            self.params[name] -= self.lr * g
        return loss


# -- each classic mistake, planted in one small method --------------------------------------------------

class TrueConvolution(ConvNet):
    """Flips the kernel, as a convolution does (scipy.signal.convolve2d's), where torch cross-correlates."""

    CAUSE, LAYER = "flipped_kernel", "conv1"

    def kernel(self, w):
        return w[:, :, ::-1, ::-1]


class PoolGradientSpread(ConvNet):
    """Hands each window's dL/dy to all four entries, a quarter each, as average pooling does."""

    CAUSE, LAYER = "pool_gradient", "pool2"

    def pool_backward(self, dout, cache):
        x, _ = cache
        return self.unwindow(np.repeat(dout[..., None] / 4, 4, axis=-1), x)


class Col2imOverwrites(ConvNet):
    """col2im with ``+=`` on fancy indices in place of ``np.add.at``: a pixel in several windows keeps one
    window's gradient (NumPy buffers the repeated indices, and the last write wins)."""

    CAUSE, LAYER = "col2im_overwrites", "conv2"

    def col2im(self, cols, x_shape, kernel, pad):
        N, C, H, W = x_shape
        x_padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
        k, i, j = get_im2col_indices(x_shape, kernel, kernel, pad, 1)
        x_padded[:, k, i, j] += cols.reshape(C * kernel * kernel, -1, N).transpose(2, 0, 1)
        return x_padded


class PaddedOnOneSide(ConvNet):
    """Pads the 2P zeros after the image (below and to the right), as a hand-written 'same' padding might."""

    CAUSE, LAYER = "padding_mismatch", "conv1"

    def pad(self, x, pad):
        return np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)), mode="constant")

    def unpad(self, dx_padded, pad):
        H, W = dx_padded.shape[2] - 2 * pad, dx_padded.shape[3] - 2 * pad
        return dx_padded[:, :, :H, :W]


class FlattenChannelsLast(ConvNet):
    """Flattens the maps channels last, (H, W, C), as a port from TensorFlow's layout would."""

    CAUSE, LAYER = "flatten_order", "flatten"

    def flatten(self, x):
        return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1)

    def unflatten(self, dx, shape):
        N, C, H, W = shape
        return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)


CORRECT = (ConvNet,)
MISTAKES = (TrueConvolution, PoolGradientSpread, Col2imOverwrites, PaddedOnOneSide, FlattenChannelsLast)
