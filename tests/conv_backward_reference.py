"""Slow, straightforward NumPy references for the convolution gradients.

Written independently of the forward reference: every function loops over the
output positions and, for each one, over the kernel taps, in float64.

* grad_input: each ``grad_output[n, k, i, j] * weight[k, c, r, s]`` is scattered
  into a zero-padded buffer at the padded input pixel the tap read in the forward
  pass; the buffer is then cropped to the input (gradients that land in the
  padding are dropped, pixels no window reads stay zero);
* grad_weight: each tap accumulates ``x_padded[n, c, pixel] * grad_output[n, k, i, j]``;
* grad_bias: the sum of ``grad_output`` over the batch and spatial axes.

The 1-D functions are the 2-D ones on a height-1 signal.
"""

import numpy as np
from reference import pad_pairs, pair, same_pad_ref


def resolve_padding_ref(padding, sizes, kernel, stride, dilation):
    """Any padding form accepted by conv2d as ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        assert padding == "same"
        return tuple(same_pad_ref(n, k, s, d)
                     for n, k, s, d in zip(sizes, kernel, stride, dilation, strict=True))
    return pad_pairs(padding)


def resolve_padding1d_ref(padding, length, kernel, stride, dilation):
    """Any padding form accepted by conv1d as (left, right)."""
    if isinstance(padding, str):
        return (0, 0) if padding == "valid" else same_pad_ref(length, kernel, stride, dilation)
    if isinstance(padding, (int, np.integer)):
        return int(padding), int(padding)
    if len(padding) == 1:
        return int(padding[0]), int(padding[0])
    return int(padding[0]), int(padding[1])


def conv2d_backward_ref(grad_output, x, weight, stride=1, padding=((0, 0), (0, 0)),
                        dilation=1, groups=1):
    """(grad_input, grad_weight, grad_bias) of a batched grouped 2-D cross-correlation.

    ``padding`` is an int, (ph, pw) or ((top, bottom), (left, right)).
    """
    go = np.asarray(grad_output, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    (pt, pb), (pl, pr) = pad_pairs(padding)
    n, c, h, wd = x.shape
    k, cg, r_size, s_size = w.shape
    assert c == cg * groups and k % groups == 0
    kg = k // groups
    ho, wo = go.shape[2:]
    assert go.shape == (n, k, ho, wo)
    assert (h + pt + pb - dh * (r_size - 1) - 1) // sh + 1 == ho
    assert (wd + pl + pr - dw * (s_size - 1) - 1) // sw + 1 == wo

    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for g in range(groups):
        chans = slice(g * cg, (g + 1) * cg)
        outs = slice(g * kg, (g + 1) * kg)
        for i in range(ho):
            for j in range(wo):
                g_ij = go[:, outs, i, j]                       # (N, Kg)
                for r in range(r_size):
                    for s in range(s_size):
                        row, col = i * sh + r * dh, j * sw + s * dw
                        # (N, Kg) @ (Kg, Cg) -> (N, Cg)
                        gxp[:, chans, row, col] += g_ij @ w[outs, :, r, s]
                        # (Kg, N) @ (N, Cg) -> (Kg, Cg)
                        gw[outs, :, r, s] += g_ij.T @ xp[:, chans, row, col]
    gx = gxp[:, :, pt:pt + h, pl:pl + wd].copy()
    gb = go.sum(axis=(0, 2, 3))
    return gx, gw, gb


def conv1d_backward_ref(grad_output, x, weight, stride=1, padding=(0, 0), dilation=1,
                        groups=1):
    """(grad_input, grad_weight, grad_bias) of a batched grouped 1-D cross-correlation.

    ``padding`` is an int or (left, right).
    """
    if isinstance(padding, (int, np.integer)):
        padding = (padding, padding)
    gx, gw, gb = conv2d_backward_ref(
        np.asarray(grad_output)[:, :, None, :], np.asarray(x)[:, :, None, :],
        np.asarray(weight)[:, :, None, :], (1, stride), ((0, 0), tuple(padding)),
        (1, dilation), groups)
    return gx[:, :, 0, :], gw[:, :, 0, :], gb


@np.errstate(invalid="ignore", over="ignore")
def conv3d_backward_ref(grad_output, x, weight, stride, pads, dilation, groups=1):
    """(grad_input, grad_weight, grad_bias) of a batched grouped 3-D cross-correlation,
    output position by output position and tap by tap (``pads``: three (before, after)
    pairs).  Products with the zero padding enter grad_weight (0 * inf is NaN) and are
    dropped from grad_input with the padding."""
    go = np.asarray(grad_output, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    n, c = x.shape[:2]
    k, cg = w.shape[:2]
    kg = k // groups
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for o in np.ndindex(*go.shape[2:]):
        for t in np.ndindex(*w.shape[2:]):
            at = tuple(o[d] * stride[d] + t[d] * dilation[d] for d in range(3))
            for g in range(groups):
                ks, cs = slice(g * kg, (g + 1) * kg), slice(g * cg, (g + 1) * cg)
                gk = go[(slice(None), ks, *o)]            # (N, Kg)
                wk = w[(ks, slice(None), *t)]             # (Kg, Cg)
                gxp[(slice(None), cs, *at)] += gk @ wk
                gw[(ks, slice(None), *t)] += gk.T @ xp[(slice(None), cs, *at)]
    crop = tuple(slice(a, a + size) for (a, _), size in zip(pads, x.shape[2:], strict=True))
    return gxp[(slice(None), slice(None), *crop)], gw, go.sum(axis=(0, 2, 3, 4))
