"""Slow, straightforward NumPy references for pooling in any number of dimensions:
3-D max/avg pooling and their gradients, adaptive pools and max unpooling.

Arrays are (..., *spatial) with ``nd`` spatial axes; every function loops explicitly
over output positions and over window cells (``itertools.product``, row-major) and
computes in float64.  Written from PyTorch's documented rules, not from the kernels:

* max pooling: -inf padding; a cell replaces the running maximum if it is greater or
  NaN, scanning the window in row-major order from -inf with the index of the window's
  first cell inside the input; indices flat per plane (row-major over the spatial axes);
* average pooling: the sum of the cells inside the input divided by
  ``divisor_override``, else the window's cells inside ``[-p, L + p)``
  (``count_include_pad``) or inside ``[0, L)``;
* ceil_mode: the output size is rounded up, then the last window is dropped if it would
  start in the right padding;
* adaptive window i of n over L: ``[floor(i * L / n), ceil((i + 1) * L / n))``;
* max unpooling: zeros, and ``y.flat[index] = x`` per plane in order.
"""

import itertools

import numpy as np


def _tup(v, nd):
    return tuple(v) if isinstance(v, tuple | list) else (v,) * nd


def pool_out_len(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    if span < 0:
        return 0
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= n + p:
        out -= 1
    return out


def _geometry(x, nd, kernel_size, stride, padding, dilation, ceil_mode):
    k = _tup(kernel_size, nd)
    s = k if stride is None else _tup(stride, nd)
    p, d = _tup(padding, nd), _tup(dilation, nd)
    sizes = x.shape[-nd:]
    outs = tuple(pool_out_len(*a, ceil_mode) for a in zip(sizes, k, s, p, d, strict=True))
    if min(outs) < 1:
        raise ValueError("empty output")
    return k, s, p, d, sizes, outs


def _flat(pos, sizes):
    f = 0
    for q, n in zip(pos, sizes, strict=True):
        f = f * n + q
    return f


def _max_of_cells(x, cells, lead, sizes):
    """The maximum over the cells (positions) of a window and its flat index: a value
    replaces the running maximum when greater or NaN; the first cell is the initial
    index."""
    best = np.full(lead, -np.inf)
    arg = np.full(lead, _flat(cells[0], sizes), dtype=np.int64)
    for pos in cells:
        v = x[(...,) + pos]
        take = (v > best) | np.isnan(v)
        best = np.where(take, v, best)
        arg = np.where(take, _flat(pos, sizes), arg)
    return best, arg


def max_pool_nd_ref(x, nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(values, int64 indices) of nd-dimensional max pooling."""
    x = np.asarray(x, dtype=np.float64)
    k, s, p, d, sizes, outs = _geometry(x, nd, kernel_size, stride, padding, dilation,
                                        ceil_mode)
    lead = x.shape[:-nd]
    y = np.empty(lead + outs)
    idx = np.empty(lead + outs, dtype=np.int64)
    for o in itertools.product(*map(range, outs)):
        cells = []
        for t in itertools.product(*map(range, k)):
            pos = tuple(o[a] * s[a] - p[a] + t[a] * d[a] for a in range(nd))
            if all(0 <= pos[a] < sizes[a] for a in range(nd)):
                cells.append(pos)
        if not cells:
            raise ValueError("window lies entirely in the padding")
        y[(...,) + o], idx[(...,) + o] = _max_of_cells(x, cells, lead, sizes)
    return y, idx


def _avg_windows(o, k, s, p, sizes):
    """Per axis: (first, stop) inside the input and the count_include_pad extent."""
    out = []
    for a in range(len(sizes)):
        start = o[a] * s[a] - p[a]
        end = min(start + k[a], sizes[a] + p[a])
        out.append((max(start, 0), min(end, sizes[a]), end - start))
    return out


def _divisor(win, count_include_pad, divisor_override):
    if divisor_override is not None:
        return divisor_override
    if count_include_pad:
        return int(np.prod([e for _, _, e in win]))
    return int(np.prod([b - a for a, b, _ in win]))


def avg_pool_nd_ref(x, nd, kernel_size, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True, divisor_override=None):
    x = np.asarray(x, dtype=np.float64)
    k, s, p, _, sizes, outs = _geometry(x, nd, kernel_size, stride, padding, 1, ceil_mode)
    lead = x.shape[:-nd]
    y = np.empty(lead + outs)
    for o in itertools.product(*map(range, outs)):
        win = _avg_windows(o, k, s, p, sizes)
        total = np.zeros(lead)
        with np.errstate(invalid="ignore", over="ignore"):
            for pos in itertools.product(*(range(a, b) for a, b, _ in win)):
                total = total + x[(...,) + pos]
            y[(...,) + o] = total / _divisor(win, count_include_pad, divisor_override)
    return y


def max_pool_nd_backward_ref(grad_output, x, nd, kernel_size, stride=None, padding=0,
                             dilation=1, ceil_mode=False):
    """Each output's gradient added to its window's argmax."""
    x = np.asarray(x, dtype=np.float64)
    _, idx = max_pool_nd_ref(x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    g = np.asarray(grad_output, dtype=np.float64)
    lead = x.shape[:-nd]
    gx = np.zeros(x.shape)
    for li in itertools.product(*map(range, lead)):
        flat = gx[li].reshape(-1)
        for o in itertools.product(*map(range, g.shape[-nd:])):
            flat[idx[li + o]] += g[li + o]
    return gx


def avg_pool_nd_backward_ref(grad_output, x, nd, kernel_size, stride=None, padding=0,
                             ceil_mode=False, count_include_pad=True, divisor_override=None):
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(grad_output, dtype=np.float64)
    k, s, p, _, sizes, outs = _geometry(x, nd, kernel_size, stride, padding, 1, ceil_mode)
    gx = np.zeros(x.shape)
    for o in itertools.product(*map(range, outs)):
        win = _avg_windows(o, k, s, p, sizes)
        share = g[(...,) + o] / _divisor(win, count_include_pad, divisor_override)
        for pos in itertools.product(*(range(a, b) for a, b, _ in win)):
            gx[(...,) + pos] += share
    return gx


def _adaptive_sizes(output_size, sizes):
    nd = len(sizes)
    out = _tup(output_size, nd)
    return tuple(n if o is None else int(o) for o, n in zip(out, sizes, strict=True))


def _adaptive_cells(o, outs, sizes):
    ranges = [range((o[a] * sizes[a]) // outs[a], -(-((o[a] + 1) * sizes[a]) // outs[a]))
              for a in range(len(sizes))]
    return list(itertools.product(*ranges))


def adaptive_avg_pool_nd_ref(x, nd, output_size):
    x = np.asarray(x, dtype=np.float64)
    sizes = x.shape[-nd:]
    outs = _adaptive_sizes(output_size, sizes)
    y = np.empty(x.shape[:-nd] + outs)
    for o in itertools.product(*map(range, outs)):
        cells = _adaptive_cells(o, outs, sizes)
        total = np.zeros(x.shape[:-nd])
        with np.errstate(invalid="ignore", over="ignore"):
            for pos in cells:
                total = total + x[(...,) + pos]
            y[(...,) + o] = total / len(cells)
    return y


def adaptive_max_pool_nd_ref(x, nd, output_size):
    x = np.asarray(x, dtype=np.float64)
    sizes = x.shape[-nd:]
    outs = _adaptive_sizes(output_size, sizes)
    lead = x.shape[:-nd]
    y = np.empty(lead + outs)
    idx = np.empty(lead + outs, dtype=np.int64)
    for o in itertools.product(*map(range, outs)):
        cells = _adaptive_cells(o, outs, sizes)
        y[(...,) + o], idx[(...,) + o] = _max_of_cells(x, cells, lead, sizes)
    return y, idx


def max_unpool_nd_ref(x, indices, nd, out_sizes):
    """Zeros of shape (..., *out_sizes); each plane's value i written at indices[i]."""
    x = np.asarray(x, dtype=np.float64)
    lead = x.shape[:-nd]
    y = np.zeros(lead + tuple(out_sizes))
    for li in itertools.product(*map(range, lead)):
        flat = y[li].reshape(-1)
        for pos in itertools.product(*map(range, x.shape[-nd:])):
            flat[indices[li + pos]] = x[li + pos]
    return y


def unpool_default_size(in_sizes, kernel_size, stride, padding):
    nd = len(in_sizes)
    k = _tup(kernel_size, nd)
    s = k if stride is None else _tup(stride, nd)
    p = _tup(padding, nd)
    return tuple((n - 1) * s[a] + k[a] - 2 * p[a] for a, n in enumerate(in_sizes))
