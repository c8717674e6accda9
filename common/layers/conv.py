"""A convolution layer: z = W * x + b, stride 1, P zeros of padding on every side.

As ``nn.Conv2d`` computes it, a cross-correlation: ``z[f, i, j] = b[f] + Σ_{c,k,l} W[f, c, k, l]
x_pad[c, i + k, j + l]``. W has shape ``(C_out, C_in, K, K)``, b ``(C_out,)``; W starts normal with
standard deviation ``(C_in K K) ** -0.5``, its fan-in, and b at zeros. The output is
``(C_out, H + 2P − K + 1, W + 2P − K + 1)``. ``--conv`` writes the layer ``6x5p2`` (6 filters of
5×5, padding 2) or ``16x5`` (no padding).
"""
from __future__ import annotations

from dataclasses import dataclass

from common.layers.base import Layer, Parameter


def conv_words(layer: tuple[int, int, int]) -> str:
    """``"6x5p2"`` for (6, 5, 2), ``"16x5"`` for (16, 5, 0): a layer as ``--conv`` writes it."""
    channels, kernel, padding = layer
    return f"{channels}x{kernel}" + (f"p{padding}" if padding else "")


@dataclass(frozen=True)
class Conv(Layer):
    kind = "conv"
    affine = True

    channels: int = 1
    kernel: int = 1
    padding: int = 0
    bias: bool = False

    @property
    def outputs(self) -> tuple[int, ...]:
        _, height, width = self.inputs
        return (self.channels, height + 2 * self.padding - self.kernel + 1, width + 2 * self.padding - self.kernel + 1)

    def parameters(self) -> tuple[Parameter, ...]:
        weight = Parameter(self.tag("W"), (self.channels, self.inputs[0], self.kernel, self.kernel), "fan_in",
                           weight=True)
        return (weight, Parameter(self.tag("b"), (self.channels,), "zeros")) if self.bias else (weight,)

    def words(self) -> str:
        return "conv" + conv_words((self.channels, self.kernel, self.padding))

    def gradient_words(self, parameter: str) -> str:
        if parameter == self.parameters()[0].name:
            return f"dL/dW of {self.name}, dL/dz {self.tag('z')} correlated with the input windows"
        return f"dL/db of {self.name}, dL/dz {self.tag('z')} summed over the samples and positions"

    def backward_words(self, block: str) -> str:
        return f"dL/dx of {self.name} (dL/dz {self.tag('z')} carried back through the kernel, each window's share added)"

    def work_floats(self) -> int:
        """im2col's columns and the output z: ``C_in K K + C_out`` numbers for each output position."""
        _, height, width = self.outputs
        return height * width * (self.inputs[0] * self.kernel ** 2 + self.channels)
