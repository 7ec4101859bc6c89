"""Slow, straightforward NumPy references for the pooling functions.

Every function loops explicitly over output positions (and over window cells
where the order matters) and computes in float64. Leading axes are arbitrary:
arrays are (..., H, W) for the 2-D functions and (..., L) for the 1-D ones.
The 1-D functions are the 2-D ones on a height-1 image.

Rules (as in PyTorch):

* max pooling pads with -inf; a cell replaces the running maximum if it is
  greater or NaN, scanning the window in row-major order, starting from -inf
  with the index of the window's first cell inside the input;
* average pooling divides by ``divisor_override`` if given, else by the number
  of window cells inside ``[-p, L + p)`` (``count_include_pad=True``) or
  inside ``[0, L)`` (``count_include_pad=False``);
* adaptive windows are ``[floor(i * L / n), ceil((i + 1) * L / n))``.
"""

import numpy as np
from reference import output_size_ref, pair


def pool_output_size_ref(n, k, s, p, d=1, ceil_mode=False):
    """Pooling output length with symmetric padding ``p``; ValueError if < 1."""
    out = output_size_ref(n, k, s, 2 * p, d, ceil_mode=ceil_mode, p_before=p)
    if out < 1:
        raise ValueError("empty output")
    return out


def _geometry(shape, kernel_size, stride, padding, dilation, ceil_mode):
    """((k, s, p, d, n_in, n_out) for the rows, same for the columns)."""
    kernel = pair(kernel_size)
    stride = kernel if stride is None else pair(stride)
    padding, dilation = pair(padding), pair(dilation)
    dims = []
    for n, k, s, p, d in zip(shape[-2:], kernel, stride, padding, dilation, strict=True):
        dims.append((k, s, p, d, n, pool_output_size_ref(n, k, s, p, d, ceil_mode)))
    return dims


def _cells(i, k, s, p, d, n):
    """Input coordinates of the taps of window ``i`` that lie inside [0, n)."""
    return [i * s - p + t * d for t in range(k) if 0 <= i * s - p + t * d < n]


def _scan_max(x, rows, cols, width):
    """Running max over the given cells of every plane of x (..., H, W)."""
    if not rows or not cols:
        raise ValueError("window lies entirely in the padding")
    lead = x.shape[:-2]
    best = np.full(lead, -np.inf)
    arg = np.full(lead, rows[0] * width + cols[0], dtype=np.int64)
    for r in rows:
        for c in cols:
            v = x[..., r, c]
            take = (v > best) | np.isnan(v)
            best = np.where(take, v, best)
            arg = np.where(take, r * width + c, arg)
    return best, arg


def max_pool2d_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(values, indices) of 2-D max pooling; indices are flat into H * W."""
    x = np.asarray(x, dtype=np.float64)
    (kh, sh, ph, dh, h, ho), (kw, sw, pw, dw, w, wo) = _geometry(
        x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    y = np.empty(x.shape[:-2] + (ho, wo))
    idx = np.empty(x.shape[:-2] + (ho, wo), dtype=np.int64)
    for i in range(ho):
        rows = _cells(i, kh, sh, ph, dh, h)
        for j in range(wo):
            cols = _cells(j, kw, sw, pw, dw, w)
            y[..., i, j], idx[..., i, j] = _scan_max(x, rows, cols, w)
    return y, idx


def _avg_window(i, k, s, p, n):
    """(first, stop) of the window inside the input and its count_include_pad size."""
    start = i * s - p
    end = min(start + k, n + p)
    return max(start, 0), min(end, n), end - start


def avg_pool2d_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None):
    """2-D average pooling with PyTorch's divisor rules."""
    x = np.asarray(x, dtype=np.float64)
    (kh, sh, ph, _, h, ho), (kw, sw, pw, _, w, wo) = _geometry(
        x.shape, kernel_size, stride, padding, 1, ceil_mode)
    y = np.empty(x.shape[:-2] + (ho, wo))
    for i in range(ho):
        r0, r1, rsize = _avg_window(i, kh, sh, ph, h)
        for j in range(wo):
            c0, c1, csize = _avg_window(j, kw, sw, pw, w)
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = rsize * csize
            else:
                divisor = (r1 - r0) * (c1 - c0)
            with np.errstate(invalid="ignore", over="ignore"):
                y[..., i, j] = x[..., r0:r1, c0:c1].sum(axis=(-2, -1)) / divisor
    return y


def max_pool2d_backward_ref(grad_output, x, kernel_size, stride=None, padding=0,
                            dilation=1, ceil_mode=False, indices=None):
    """Scatter-add each output gradient to its argmax (or to ``indices``)."""
    x = np.asarray(x, dtype=np.float64)
    if indices is None:
        _, indices = max_pool2d_ref(x, kernel_size, stride, padding, dilation, ceil_mode)
    g = np.asarray(grad_output, dtype=np.float64)
    h, w = x.shape[-2:]
    planes = int(np.prod(x.shape[:-2], dtype=np.int64))
    g = g.reshape(planes, *g.shape[-2:])
    idx = np.asarray(indices).reshape(g.shape)
    gx = np.zeros((planes, h * w))
    rows = np.arange(planes)
    for i in range(g.shape[1]):
        for j in range(g.shape[2]):
            gx[rows, idx[:, i, j]] += g[:, i, j]
    return gx.reshape(x.shape)


def avg_pool2d_backward_ref(grad_output, x, kernel_size, stride=None, padding=0,
                            ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Spread each output gradient / divisor over the window cells inside the input."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(grad_output, dtype=np.float64)
    (kh, sh, ph, _, h, ho), (kw, sw, pw, _, w, wo) = _geometry(
        x.shape, kernel_size, stride, padding, 1, ceil_mode)
    assert g.shape == x.shape[:-2] + (ho, wo)
    gx = np.zeros(x.shape)
    for i in range(ho):
        r0, r1, rsize = _avg_window(i, kh, sh, ph, h)
        for j in range(wo):
            c0, c1, csize = _avg_window(j, kw, sw, pw, w)
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = rsize * csize
            else:
                divisor = (r1 - r0) * (c1 - c0)
            gx[..., r0:r1, c0:c1] += (g[..., i, j] / divisor)[..., None, None]
    return gx


def _adaptive_size(output_size, shape):
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    return tuple(n if o is None else int(o) for o, n in zip(output_size, shape[-2:],
                                                            strict=True))


def _adaptive_window(i, n_in, n_out):
    return (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)


def adaptive_avg_pool2d_ref(x, output_size):
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape[-2:]
    ho, wo = _adaptive_size(output_size, x.shape)
    y = np.empty(x.shape[:-2] + (ho, wo))
    for i in range(ho):
        r0, r1 = _adaptive_window(i, h, ho)
        for j in range(wo):
            c0, c1 = _adaptive_window(j, w, wo)
            with np.errstate(invalid="ignore", over="ignore"):
                y[..., i, j] = x[..., r0:r1, c0:c1].sum(axis=(-2, -1)) / ((r1 - r0) * (c1 - c0))
    return y


def adaptive_max_pool2d_ref(x, output_size):
    """(values, indices) of adaptive max pooling."""
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape[-2:]
    ho, wo = _adaptive_size(output_size, x.shape)
    y = np.empty(x.shape[:-2] + (ho, wo))
    idx = np.empty(x.shape[:-2] + (ho, wo), dtype=np.int64)
    for i in range(ho):
        r0, r1 = _adaptive_window(i, h, ho)
        for j in range(wo):
            c0, c1 = _adaptive_window(j, w, wo)
            y[..., i, j], idx[..., i, j] = _scan_max(x, list(range(r0, r1)),
                                                     list(range(c0, c1)), w)
    return y, idx


def _args_1d(kernel_size, stride, padding, dilation=1):
    return (1, kernel_size), (1, kernel_size if stride is None else stride), (0, padding), \
        (1, dilation)


def max_pool1d_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(values, indices) of 1-D max pooling; indices are flat into L."""
    k, s, p, d = _args_1d(kernel_size, stride, padding, dilation)
    y, idx = max_pool2d_ref(np.asarray(x)[..., None, :], k, s, p, d, ceil_mode)
    return y[..., 0, :], idx[..., 0, :]


def avg_pool1d_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None):
    k, s, p, _ = _args_1d(kernel_size, stride, padding)
    return avg_pool2d_ref(np.asarray(x)[..., None, :], k, s, p, ceil_mode,
                          count_include_pad, divisor_override)[..., 0, :]


def max_pool1d_backward_ref(grad_output, x, kernel_size, stride=None, padding=0,
                            dilation=1, ceil_mode=False, indices=None):
    k, s, p, d = _args_1d(kernel_size, stride, padding, dilation)
    if indices is not None:
        indices = np.asarray(indices)[..., None, :]
    gx = max_pool2d_backward_ref(np.asarray(grad_output)[..., None, :],
                                 np.asarray(x)[..., None, :], k, s, p, d, ceil_mode, indices)
    return gx[..., 0, :]


def avg_pool1d_backward_ref(grad_output, x, kernel_size, stride=None, padding=0,
                            ceil_mode=False, count_include_pad=True, divisor_override=None):
    k, s, p, _ = _args_1d(kernel_size, stride, padding)
    gx = avg_pool2d_backward_ref(np.asarray(grad_output)[..., None, :],
                                 np.asarray(x)[..., None, :], k, s, p, ceil_mode,
                                 count_include_pad, divisor_override)
    return gx[..., 0, :]
