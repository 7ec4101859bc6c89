"""Slow, straightforward NumPy reference implementations used as test oracles.

Everything here is written for clarity, not speed: inputs are zero padded with
``np.pad`` and each kernel tap is accumulated explicitly in float64. Padding is
a real zero input, so ``0 * inf`` gives NaN as IEEE arithmetic dictates.
"""

import itertools

import numpy as np


def pair(v):
    """Return ``v`` as an (h, w) pair of ints."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    a, b = v
    return int(a), int(b)


def pad_pairs(padding):
    """Normalise an int, (ph, pw) or ((top, bottom), (left, right)) padding."""
    if isinstance(padding, (int, np.integer)):
        return (int(padding), int(padding)), (int(padding), int(padding))
    ph, pw = padding
    return tuple(pair(ph)), tuple(pair(pw))


def same_pad_ref(n, k, s, d):
    """TF/Keras 'same' padding for one dimension as (before, after)."""
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def output_size_ref(n, k, s, p_total, d, ceil_mode=False, p_before=None):
    """Output length of a sliding window; ``ceil_mode`` follows the pooling rule.

    With ``ceil_mode`` the division is rounded up, then the last window is
    dropped if it would start at or beyond ``n + p_before`` (in the right
    padding). ``p_before`` defaults to half of ``p_total``.
    """
    span = n + p_total - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    if p_before is None:
        p_before = p_total // 2
    out = -(-span // s) + 1
    if (out - 1) * s >= n + p_before:
        out -= 1
    return out


@np.errstate(invalid="ignore", over="ignore")
def conv2d_ref(x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)),
               dilation=(1, 1), groups=1):
    """Grouped 2-D cross-correlation of (N, C, H, W) with (K, C//groups, R, S)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    (pt, pb), (pl, pr) = pad_pairs(padding)
    n, c, h, wd = x.shape
    k, cg, r_size, s_size = w.shape
    assert c == cg * groups and k % groups == 0
    kg = k // groups
    ho = (h + pt + pb - dh * (r_size - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (s_size - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError("empty output")
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    out = np.zeros((n, k, ho, wo), dtype=np.float64)
    for g in range(groups):
        xg = xp[:, g * cg:(g + 1) * cg]
        wg = w[g * kg:(g + 1) * kg]
        for r in range(r_size):
            for s in range(s_size):
                h0, w0 = r * dh, s * dw
                patch = xg[:, :, h0:h0 + sh * (ho - 1) + 1:sh,
                           w0:w0 + sw * (wo - 1) + 1:sw]
                tap = wg[:, :, r, s]
                # (N, 1, Cg, Ho, Wo) * (1, Kg, Cg, 1, 1), summed over Cg.
                prod = patch[:, None] * tap[None, :, :, None, None]
                out[:, g * kg:(g + 1) * kg] += prod.sum(axis=2)
    if b is not None:
        out += np.asarray(b, dtype=np.float64)[None, :, None, None]
    return out


@np.errstate(invalid="ignore", over="ignore")
def conv1d_ref(x, w, b=None, stride=1, padding=(0, 0), dilation=1, groups=1):
    """Grouped 1-D cross-correlation of (N, C, L) with (K, C//groups, S)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if isinstance(padding, (int, np.integer)):
        padding = (padding, padding)
    left, right = padding
    n, c, length = x.shape
    k, cg, s_size = w.shape
    assert c == cg * groups and k % groups == 0
    kg = k // groups
    lo = (length + left + right - dilation * (s_size - 1) - 1) // stride + 1
    if lo < 1:
        raise ValueError("empty output")
    xp = np.pad(x, ((0, 0), (0, 0), (left, right)))
    out = np.zeros((n, k, lo), dtype=np.float64)
    for kk in range(k):
        g = kk // kg
        for ci in range(cg):
            for s in range(s_size):
                start = s * dilation
                seg = xp[:, g * cg + ci, start:start + stride * (lo - 1) + 1:stride]
                out[:, kk, :] += seg * w[kk, ci, s]
    if b is not None:
        out += np.asarray(b, dtype=np.float64)[None, :, None]
    return out


def im2col_ref(x, kernel_size, stride=1, dilation=1, padding=0):
    """Unfold (N, C, H, W) into (N, C*R*S, L), rows ordered (c, r, s)."""
    x = np.asarray(x, dtype=np.float64)
    (kr, ks), (sh, sw), (dh, dw) = pair(kernel_size), pair(stride), pair(dilation)
    (pt, pb), (pl, pr) = pad_pairs(padding)
    n, c, h, wd = x.shape
    ho = (h + pt + pb - dh * (kr - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (ks - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError("empty output")
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    cols = np.zeros((n, c * kr * ks, ho * wo), dtype=np.float64)
    for ci in range(c):
        for r in range(kr):
            for s in range(ks):
                row = (ci * kr + r) * ks + s
                for i in range(ho):
                    for j in range(wo):
                        cols[:, row, i * wo + j] = xp[:, ci, i * sh + r * dh,
                                                      j * sw + s * dw]
    return cols


@np.errstate(invalid="ignore", over="ignore")
def col2im_ref(cols, output_size, kernel_size, stride=1, dilation=1, padding=0):
    """Fold (N, C*R*S, L) back into (N, C, H, W), summing overlapping entries."""
    cols = np.asarray(cols, dtype=np.float64)
    h, wd = pair(output_size)
    (kr, ks), (sh, sw), (dh, dw) = pair(kernel_size), pair(stride), pair(dilation)
    (pt, pb), (pl, pr) = pad_pairs(padding)
    ho = (h + pt + pb - dh * (kr - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (ks - 1) - 1) // sw + 1
    n, rows, length = cols.shape
    assert rows % (kr * ks) == 0 and length == ho * wo
    c = rows // (kr * ks)
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr), dtype=np.float64)
    for ci in range(c):
        for r in range(kr):
            for s in range(ks):
                row = (ci * kr + r) * ks + s
                for i in range(ho):
                    for j in range(wo):
                        xp[:, ci, i * sh + r * dh, j * sw + s * dw] += \
                            cols[:, row, i * wo + j]
    return xp[:, :, pt:pt + h, pl:pl + wd].copy()


@np.errstate(invalid="ignore", over="ignore")
def conv3d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 3-D cross-correlation of (N, C, D, H, W) with (K, C//groups, T, R, S):
    one strided slice of the zero-padded input per kernel tap, in float64."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    three = lambda v: (v,) * 3 if np.isscalar(v) else tuple(v)  # noqa: E731
    st, dl = three(stride), three(dilation)
    pads = [(p, p) if np.isscalar(p) else tuple(p) for p in three(padding)]
    n, c = x.shape[:2]
    k, cg = w.shape[:2]
    kg = k // groups
    outs = [(x.shape[2 + i] + sum(pads[i]) - dl[i] * (w.shape[2 + i] - 1) - 1) // st[i] + 1
            for i in range(3)]
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    out = np.zeros((n, k, *outs))
    for g in range(groups):
        xg = xp[:, g * cg:(g + 1) * cg]
        for t in range(w.shape[2]):
            for r in range(w.shape[3]):
                for s in range(w.shape[4]):
                    o = [t * dl[0], r * dl[1], s * dl[2]]
                    patch = xg[:, :, o[0]:o[0] + st[0] * (outs[0] - 1) + 1:st[0],
                               o[1]:o[1] + st[1] * (outs[1] - 1) + 1:st[1],
                               o[2]:o[2] + st[2] * (outs[2] - 1) + 1:st[2]]
                    tap = w[g * kg:(g + 1) * kg, :, t, r, s]
                    out[:, g * kg:(g + 1) * kg] += np.einsum("ncdhw,kc->nkdhw", patch, tap)
    if b is not None:
        out += np.asarray(b, dtype=np.float64)[None, :, None, None, None]
    return out


def im2col_nd_ref(x, kernel, stride, dilation, pads):
    """Column matrix of (N, C, *sizes) over any number of spatial dimensions, one entry
    at a time: row (c, *k) and column o (both row-major) hold the zero-padded input at
    o * stride + k * dilation.  ``pads`` is one (before, after) pair per dimension."""
    x = np.asarray(x)
    nd = x.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    outs = [(xp.shape[2 + d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1
            for d in range(nd)]
    taps = list(np.ndindex(*kernel))
    positions = list(np.ndindex(*outs))
    cols = np.zeros((x.shape[0], x.shape[1] * len(taps), len(positions)), dtype=x.dtype)
    for c in range(x.shape[1]):
        for t, k in enumerate(taps):
            for p, o in enumerate(positions):
                at = tuple(o[d] * stride[d] + k[d] * dilation[d] for d in range(nd))
                cols[:, c * len(taps) + t, p] = xp[(slice(None), c, *at)]
    return cols


def col2im_nd_ref(cols, sizes, kernel, stride, dilation, pads):
    """The adjoint of :func:`im2col_nd_ref`: each column entry added, in float64, to the
    padded cell it was read from; the padding is cropped off at the end."""
    cols = np.asarray(cols, dtype=np.float64)
    nd = len(sizes)
    padded = [n + a + b for n, (a, b) in zip(sizes, pads, strict=True)]
    outs = [(padded[d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1 for d in range(nd)]
    taps = list(np.ndindex(*kernel))
    positions = list(np.ndindex(*outs))
    c_count = cols.shape[1] // len(taps)
    xp = np.zeros((cols.shape[0], c_count, *padded))
    for c in range(c_count):
        for t, k in enumerate(taps):
            for p, o in enumerate(positions):
                at = tuple(o[d] * stride[d] + k[d] * dilation[d] for d in range(nd))
                xp[(slice(None), c, *at)] += cols[:, c * len(taps) + t, p]
    return xp[(slice(None), slice(None), *(slice(a, a + n) for n, (a, _) in
                                           zip(sizes, pads, strict=True)))].copy()


# np.pad's names for the border modes (torch's names on the left).
NUMPY_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                   "circular": "wrap"}


@np.errstate(invalid="ignore", over="ignore")
def conv_border_ref(x, w, b=None, stride=None, pads=None, dilation=None, groups=1,
                    padding_mode="zeros"):
    """Grouped N-d cross-correlation of (N, C, *sizes) with (K, C//groups, *kernel) after
    padding the whole input with np.pad in ``padding_mode`` (one (before, after) pair per
    spatial dimension in ``pads``): a loop over the output positions, in float64."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd = x.ndim - 2
    stride = stride or (1,) * nd
    dilation = dilation or (1,) * nd
    pads = pads or ((0, 0),) * nd
    xp = np.pad(x, ((0, 0), (0, 0), *pads), mode=NUMPY_PAD_MODES[padding_mode])
    n, k, cg = x.shape[0], w.shape[0], w.shape[1]
    kg = k // groups
    ks = w.shape[2:]
    outs = [(xp.shape[2 + d] - dilation[d] * (ks[d] - 1) - 1) // stride[d] + 1
            for d in range(nd)]
    out = np.zeros((n, k, *outs))
    for o in itertools.product(*(range(m) for m in outs)):
        window = tuple(slice(o[d] * stride[d], o[d] * stride[d] + dilation[d] * (ks[d] - 1) + 1,
                             dilation[d]) for d in range(nd))
        for g in range(groups):
            patch = xp[(slice(None), slice(g * cg, (g + 1) * cg), *window)]  # (n, cg, *ks)
            wg = w[g * kg:(g + 1) * kg]                                       # (kg, cg, *ks)
            out[(slice(None), slice(g * kg, (g + 1) * kg), *o)] = np.tensordot(
                patch, wg, axes=(range(1, nd + 2), range(1, nd + 2)))
    if b is not None:
        out += np.asarray(b, dtype=np.float64).reshape(1, k, *(1,) * nd)
    return out
