"""The algorithm ``algorithm="auto"`` picks for a validated convolution geometry."""

from __future__ import annotations

from convcore._geometry import ConvGeometry, gemm_fits, pointwise


def choose_algorithm(g: ConvGeometry) -> str:
    """The algorithm ``algorithm="auto"`` picks for a validated geometry.

    Direct when the reduction per output is short (few input channels per group:
    image filtering, RGB stems, depthwise), where im2col would copy more than it
    multiplies; im2col + GEMM for 1x1 layers at stride 1 without padding (the column
    matrix is the input itself: GEMMs on its pixel tiles, no copy), for strides of 3 or
    more (the direct kernel vectorises along output columns and would gather) and for
    narrow outputs with many channels, where a GEMM tile over all pixels uses the vector
    lanes better; direct otherwise.
    """
    if g.nd == 3 or g.reduction <= 32 or not gemm_fits(g):
        return "direct"
    if pointwise(g):
        return "im2col"
    if g.stride[-1] >= 3:
        return "im2col"
    if g.Wout < 16 and g.K // g.groups >= 8:
        return "im2col"
    return "direct"
