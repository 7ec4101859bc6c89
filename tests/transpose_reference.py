"""Slow, straightforward NumPy reference for transposed convolution.

Written from the definition, independently of convcore's phase kernel: every input
pixel of every image is multiplied by every kernel tap and added, in float64, at the
output position ``i * stride + t * dilation - pad_before`` it lands on (per spatial
dimension); products landing outside the output (the cropped padding) are dropped.
Works for any number of spatial dimensions.
"""

import numpy as np


def _per_dim(v, nd):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * nd
    return tuple(int(a) for a in v)


def transpose_output_size_ref(size, kernel, stride, pad_before, pad_after, dilation,
                              output_padding):
    """The full scatter spans (size - 1) * stride + dilation * (kernel - 1) + 1 pixels;
    the padding crops both ends and output_padding extends the end."""
    full = (size - 1) * stride + dilation * (kernel - 1) + 1
    return full - pad_before - pad_after + output_padding


@np.errstate(invalid="ignore", over="ignore")
def conv_transpose_ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                       dilation=1):
    """Transposed convolution of (N, C, *in) with weight (C, K // groups, *kernel).

    ``padding`` is an int, one int per dimension, or one (before, after) pair per
    dimension."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd = x.ndim - 2
    s, d, op = _per_dim(stride, nd), _per_dim(dilation, nd), _per_dim(output_padding, nd)
    if isinstance(padding, (int, np.integer)):
        pads = [(int(padding), int(padding))] * nd
    else:
        pads = [(int(p), int(p)) if isinstance(p, (int, np.integer)) else (int(p[0]), int(p[1]))
                for p in padding]
    n_img, c_in = x.shape[:2]
    kg = w.shape[1]
    cg = c_in // groups
    kernel = w.shape[2:]
    outs = [transpose_output_size_ref(x.shape[2 + i], kernel[i], s[i], pads[i][0], pads[i][1],
                                      d[i], op[i]) for i in range(nd)]
    y = np.zeros((n_img, kg * groups, *outs))
    for pixel in np.ndindex(*x.shape[2:]):
        for tap in np.ndindex(*kernel):
            o = [pixel[i] * s[i] + tap[i] * d[i] - pads[i][0] for i in range(nd)]
            if not all(0 <= o[i] < outs[i] for i in range(nd)):
                continue
            for grp in range(groups):
                xs = x[(slice(None), slice(grp * cg, (grp + 1) * cg), *pixel)]  # (N, cg)
                ws = w[(slice(grp * cg, (grp + 1) * cg), slice(None), *tap)]  # (cg, kg)
                y[(slice(None), slice(grp * kg, (grp + 1) * kg), *o)] += xs @ ws
    if b is not None:
        y += np.asarray(b, dtype=np.float64).reshape(-1, *(1,) * nd)
    return y
