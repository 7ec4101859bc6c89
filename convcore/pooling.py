"""Public pooling functions: validate, normalise, allocate, call the C kernels.

Names, arguments and results follow ``torch.nn.functional``: NCL, NCHW or NCDHW (or the
unbatched CL, CHW, CDHW) input, ``stride=None`` meaning the kernel size, ``ceil_mode``,
``count_include_pad``, ``divisor_override``, and argmax indices flat per (n, c) plane
(or volume).  Every dimensionality runs on one set of kernels: a 1-D or 2-D pool is a
3-D one of depth (and height) 1.
"""

from __future__ import annotations

import math

import numpy as np

from convcore import _checks, _layout, _pool
from convcore._checks import (
    PARAM_LIMIT,
    array_bytes,
    as_bool,
    as_int,
    as_real_array,
    check_budget,
    compute_dtype,
    copy_bytes,
    int_tuple,
)
from convcore._geometry import PoolGeometry, lift_dhw, prepare_pool
from convcore._threads import get_num_threads

_INDEX_DTYPE = np.dtype(np.int64)


_SHAPES = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)",
           3: "(N, C, D, H, W) or (C, D, H, W)"}


def _pool_input(nd: int, name: str, x, arg: str = "x"):
    """x (the argument ``arg``) as a real array of 1 + nd or 2 + nd dimensions with
    non-empty spatial sizes."""
    x = as_real_array(arg, x)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: {arg} must have shape {_SHAPES[nd]}; got shape {x.shape}")
    if any(n < 1 for n in x.shape[-nd:]):
        raise ValueError(f"{name}: {arg} must have spatial sizes >= 1; got shape {x.shape}")
    return x


def _contiguous_planes(name: str, x: np.ndarray, dtype: np.dtype, planes: int, hw: tuple):
    """x as C-contiguous (planes, *hw) of ``dtype``, copying only when needed (the copy
    is counted in the call's budget: :func:`_reserve`)."""
    if not (x.dtype == dtype and x.flags.c_contiguous and x.flags.aligned):
        x = np.array(x, dtype=dtype, order="C")  # aligned too, unlike ascontiguousarray
    return x.reshape(planes, *hw)


def _reserve(name: str, inputs, arrays) -> None:
    """Check once, before anything is allocated, everything a pooling call allocates:
    ``arrays`` ((shape, dtype) pairs or None: results, indices, scratch) and the
    contiguous copies of ``inputs`` ((array, dtype) pairs or None) the kernel needs."""
    parts = []
    for i, spec in enumerate(arrays):
        if spec is not None:
            shape, dtype = spec
            what = "the result" if i == 0 else "the indices" if np.dtype(dtype).kind == "i" \
                else "a scratch array"
            parts.append((what, array_bytes(f"{name}: {what}", shape, np.dtype(dtype).itemsize),
                          shape))
    for spec in inputs:
        if spec is not None:
            a, dtype = spec
            parts.append(("a contiguous copy of an input", copy_bytes(a, np.dtype(dtype))))
    check_budget(name, *parts)


class _PoolCall:
    """A validated pooling call: the input as (planes, D, H, W) volumes (D = 1 in 1-D and
    2-D, H = 1 in 1-D) and its window, a PoolGeometry (sizes as (depth, height, width))."""

    def __init__(self, nd, name, x, kernel_size, stride, padding, dilation, ceil_mode):
        x = _pool_input(nd, name, x)
        self.nd, self.name, self.x = nd, name, x
        self.batched = x.ndim == nd + 2
        self.dtype = compute_dtype(x)
        self.geom = prepare_pool(nd, name, x.shape[-nd:], kernel_size, stride, padding,
                                 dilation, ceil_mode)
        self.lead = x.shape[:-nd]  # (N, C) or (C,)
        self.planes = math.prod(self.lead)

    def out_shape(self) -> tuple:
        return (*self.lead, *self.geom.out_dhw[3 - self.nd:])

    def in_shape(self) -> tuple:
        return (*self.lead, *self.geom.in_dhw[3 - self.nd:])

    def planes_view(self, a: np.ndarray, dhw: tuple) -> np.ndarray:
        return a.reshape(self.planes, *dhw)

    def input_planes(self) -> np.ndarray:
        return _contiguous_planes(self.name, self.x, self.dtype, self.planes, self.geom.in_dhw)

    def reserve(self, x, *arrays) -> None:
        """The call's memory budget: ``arrays`` ((shape, dtype) or None) and the copy of
        ``x`` (the input as given) the kernel may need."""
        _reserve(self.name, [(x, self.dtype)], arrays)


def _divisor(divisor_override) -> int:
    if divisor_override is None:
        return 0
    d = as_int("divisor_override", divisor_override)
    if not 1 <= d <= PARAM_LIMIT:
        raise ValueError(f"divisor_override must be None or in [1, 2**31 - 1], got {d}")
    return d


def _whole_plane(call: _PoolCall) -> bool:
    """One window that is exactly the plane (a global pool written as a window): the
    adaptive kernel's single reduction per plane computes it, in the same order."""
    return (call.geom.out_dhw == (1, 1, 1) and call.geom.kernel == call.geom.in_dhw
            and call.geom.padding == (0, 0, 0) and call.geom.dilation == (1, 1, 1))


def _max_pool(nd, name, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    call = _PoolCall(nd, name, x, kernel_size, stride, padding, dilation, ceil_mode)
    with_indices = as_bool("return_indices", return_indices)
    call.reserve(call.x, (call.out_shape(), call.dtype),
                 (call.out_shape(), _INDEX_DTYPE) if with_indices else None)
    y = _checks.result_array(call.out_shape(), call.dtype)
    idx = _checks.result_array(call.out_shape(), _INDEX_DTYPE) if with_indices else None
    yp = call.planes_view(y, call.geom.out_dhw)
    ip = None if idx is None else call.planes_view(idx, call.geom.out_dhw)
    if y.size and _whole_plane(call):
        _pool.adaptive_max_pool(call.input_planes(), yp, ip, get_num_threads())
    elif y.size:
        _pool.max_pool(call.input_planes(), yp, ip, call.geom, get_num_threads())
    return (y, idx) if return_indices else y


def _avg_pool(nd, name, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    call = _PoolCall(nd, name, x, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _divisor(divisor_override)
    include_pad = as_bool("count_include_pad", count_include_pad)
    call.reserve(call.x, (call.out_shape(), call.dtype))
    y = _checks.result_array(call.out_shape(), call.dtype)
    yp = call.planes_view(y, call.geom.out_dhw)
    if y.size and _whole_plane(call) and divisor == 0:
        _pool.adaptive_avg_pool(call.input_planes(), yp, get_num_threads())
    elif y.size:
        _pool.avg_pool(call.input_planes(), yp, include_pad, divisor, call.geom,
                       get_num_threads())
    return y


def _grad_array(call: _PoolCall, grad_output) -> np.ndarray:
    """grad_output checked against the forward call's output."""
    g = as_real_array("grad_output", grad_output)
    if g.shape != call.out_shape():
        raise ValueError(
            f"{call.name}: grad_output has shape {g.shape}; the forward pass of x with shape "
            f"{call.x.shape} gives {call.out_shape()}"
        )
    return g


def _int_array(name: str, indices) -> np.ndarray:
    """``indices`` as an array of integers (TypeError otherwise)."""
    try:
        idx = np.asarray(indices)
    except ValueError as exc:  # ragged nested lists
        raise TypeError(f"{name}: indices must be an array of integers ({exc})") from None
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {idx.dtype}")
    return idx


def _index_array(name: str, indices, shape: tuple, what: str) -> np.ndarray:
    """``indices`` as an array, checked for an integer dtype and its shape (``shape``,
    that of ``what``)."""
    idx = _int_array(name, indices)
    if idx.shape != shape:
        raise ValueError(f"{name}: indices have shape {idx.shape}; expected {shape} "
                         f"(the shape of {what})")
    return idx


def _max_pool_backward(nd, name, grad_output, x, kernel_size, stride, padding, dilation,
                       ceil_mode, indices):
    call = _PoolCall(nd, name, x, kernel_size, stride, padding, dilation, ceil_mode)
    go = _grad_array(call, grad_output)
    if indices is not None:
        idx = _index_array(name, indices, call.out_shape(), "grad_output")
        plane = math.prod(call.geom.in_dhw)
        if idx.size and (idx.min() < -1 or idx.max() >= plane):
            raise ValueError(f"{name}: indices must be in [-1, {plane}) (flat positions in "
                             f"one input plane, -1 for a window with no cell in the input); "
                             f"got values in [{idx.min()}, {idx.max()}]")
        _reserve(name, [(go, call.dtype), (idx, _INDEX_DTYPE)],
                 [(call.in_shape(), call.dtype)])
        if not (idx.dtype == _INDEX_DTYPE and idx.flags.c_contiguous and idx.flags.aligned):
            idx = np.array(idx, dtype=_INDEX_DTYPE, order="C")
    else:  # the argmax again: indices and a scratch result
        _reserve(name, [(go, call.dtype), (call.x, call.dtype)],
                 [(call.in_shape(), call.dtype), (call.out_shape(), _INDEX_DTYPE),
                  (call.out_shape(), call.dtype)])
        idx = _checks.result_array(call.out_shape(), _INDEX_DTYPE)
        if idx.size:
            values = _checks.result_array((call.planes, *call.geom.out_dhw), call.dtype)
            _pool.max_pool(call.input_planes(), values,
                           call.planes_view(idx, call.geom.out_dhw), call.geom, get_num_threads())
    grad = _contiguous_planes(name, go, call.dtype, call.planes, call.geom.out_dhw)
    grad_in = _checks.result_array(call.in_shape(), call.dtype)
    if grad_in.size:
        _pool.max_pool_backward(grad, call.planes_view(idx, call.geom.out_dhw),
                                call.planes_view(grad_in, call.geom.in_dhw), call.geom,
                                get_num_threads())
    return grad_in


def _avg_pool_backward(nd, name, grad_output, x, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override):
    call = _PoolCall(nd, name, x, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _divisor(divisor_override)
    include_pad = as_bool("count_include_pad", count_include_pad)
    go = _grad_array(call, grad_output)
    _reserve(name, [(go, call.dtype)], [(call.in_shape(), call.dtype)])
    grad = _contiguous_planes(name, go, call.dtype, call.planes, call.geom.out_dhw)
    grad_in = _checks.result_array(call.in_shape(), call.dtype)
    if grad_in.size:
        _pool.avg_pool_backward(grad, call.planes_view(grad_in, call.geom.in_dhw), include_pad,
                                divisor, call.geom, get_num_threads())
    return grad_in


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, layout="NCHW"):
    """2-D max pooling over each (n, c) plane, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int)
        Implicit -inf padding on both sides, at most ``kernel_size // 2``.
    dilation : int or (int, int)
        Spacing between window cells.
    ceil_mode : bool
        Round the output size up (a window may overhang the input, never start in the
        right/bottom padding).
    return_indices : bool
        Also return the argmax of each window, flat per plane (``ih * W + iw``).
    layout : {'NCHW', 'NHWC'}
        'NHWC': ``x`` is channels-last, (N, H, W, C) or (H, W, C), and so are the result
        and the indices (still ``ih * W + iw`` within each channel's plane); a kernel of
        its own sweeps each pixel's contiguous channels.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        The maxima (float32 for float32 input, else float64) and, with
        ``return_indices``, int64 indices of the same shape.  NaN in a window gives NaN
        (and the index of the window's last NaN); ties go to the first maximum in
        row-major order, as in PyTorch.  A window with no cell inside the input (only
        possible with dilation) gives -inf and index -1, where PyTorch returns an index
        outside the window.

    Raises
    ------
    TypeError
        Non-real data (bool included), non-integer parameters, or a flag that is not a
        bool.
    ValueError
        Bad shapes, parameters < 1, padding > kernel_size // 2, or an empty output.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> convcore.max_pool2d(x, 2)
    array([[[ 5.,  7.],
            [13., 15.]]])
    >>> convcore.max_pool2d(x, 2, return_indices=True)[1]
    array([[[ 5,  7],
            [13, 15]]])
    """
    if layout != "NCHW" and _layout.check_layout(layout):
        call = _PoolCall(2, "max_pool2d", _layout.nchw_view("x", x), kernel_size, stride,
                         padding, dilation, ceil_mode)
        return _layout.max_pool2d_nhwc(call, x, as_bool("return_indices", return_indices))
    return _max_pool(2, "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L), as ``torch.nn.functional.max_pool1d``.

    Same rules as :func:`max_pool2d` on one dimension.

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
    kernel_size, stride, padding, dilation : int or (int,)
    ceil_mode, return_indices : bool

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        Maxima, shape (N, C, Lout) or (C, Lout), and with ``return_indices`` int64
        positions in L.

    Raises
    ------
    TypeError, ValueError
        As :func:`max_pool2d`.

    Examples
    --------
    >>> import convcore
    >>> convcore.max_pool1d([[1.0, 3.0, 2.0, 5.0, 4.0]], 2)
    array([[3., 5.]])
    """
    return _max_pool(1, "max_pool1d", x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, layout="NCHW"):
    """2-D average pooling over each (n, c) plane, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int)
        Zero padding on both sides, at most ``kernel_size // 2``.
    ceil_mode : bool
        Round the output size up.
    count_include_pad : bool
        Divide by the number of window cells inside the padded input (True) or inside
        the input (False).  Cells of a ceil-mode window past the padding never count.
    divisor_override : int, optional
        Divide every window sum by this instead.
    layout : {'NCHW', 'NHWC'}
        As for :func:`max_pool2d`.

    Returns
    -------
    numpy.ndarray
        float32 for float32 input, else float64.

    Raises
    ------
    TypeError, ValueError
        As :func:`max_pool2d`; also ``divisor_override`` < 1.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.avg_pool2d(np.arange(16.0).reshape(1, 4, 4), 2)
    array([[[ 2.5,  4.5],
            [10.5, 12.5]]])
    >>> convcore.avg_pool2d(np.ones((1, 2, 2)), 2, stride=1, padding=1)
    array([[[0.25, 0.5 , 0.25],
            [0.5 , 1.  , 0.5 ],
            [0.25, 0.5 , 0.25]]])
    """
    if layout != "NCHW" and _layout.check_layout(layout):
        call = _PoolCall(2, "avg_pool2d", _layout.nchw_view("x", x), kernel_size, stride,
                         padding, 1, ceil_mode)
        return _layout.avg_pool2d_nhwc(call, x, as_bool("count_include_pad", count_include_pad),
                                       _divisor(divisor_override))
    return _avg_pool(2, "avg_pool2d", x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """1-D average pooling over (N, C, L) or (C, L), as ``torch.nn.functional.avg_pool1d``.

    Same rules as :func:`avg_pool2d` on one dimension (``divisor_override`` is accepted
    here too).

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
    kernel_size, stride, padding : int or (int,)
    ceil_mode, count_include_pad : bool
    divisor_override : int, optional

    Returns
    -------
    numpy.ndarray, shape (N, C, Lout) or (C, Lout)

    Raises
    ------
    TypeError, ValueError
        As :func:`avg_pool2d`.

    Examples
    --------
    >>> import convcore
    >>> convcore.avg_pool1d([[1.0, 3.0, 2.0, 6.0]], 2)
    array([[2., 4.]])
    """
    return _avg_pool(1, "avg_pool1d", x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def max_pool2d_backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, indices=None):
    """Gradient of :func:`max_pool2d` with respect to ``x``.

    Each output's gradient goes to its window's argmax (ties and NaN as in the forward
    pass); overlapping windows add up.  ``indices`` from ``max_pool2d(...,
    return_indices=True)`` skip recomputing the argmax.

    Parameters
    ----------
    grad_output : array_like
        Shape of the forward result.
    x : array_like
        The forward input.
    kernel_size, stride, padding, dilation, ceil_mode
        As given to the forward call.
    indices : array_like of int, optional

    Returns
    -------
    numpy.ndarray
        Shape of ``x``; float32 for float32 ``x``, else float64.

    Raises
    ------
    ValueError
        ``grad_output`` or ``indices`` of the wrong shape (the message names the expected
        one), indices outside the plane, or any forward-pass error.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.array([[[1.0, 4.0], [3.0, 2.0]]])
    >>> convcore.max_pool2d_backward(np.ones((1, 1, 1)), x, 2)
    array([[[0., 1.],
            [0., 0.]]])
    """
    return _max_pool_backward(2, "max_pool2d_backward", grad_output, x, kernel_size, stride,
                              padding, dilation, ceil_mode, indices)


def max_pool1d_backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, indices=None):
    """Gradient of :func:`max_pool1d` with respect to ``x``.

    Parameters and rules as :func:`max_pool2d_backward` on (N, C, L) or (C, L).

    Returns
    -------
    numpy.ndarray
        Shape of ``x``.

    Examples
    --------
    >>> import convcore
    >>> convcore.max_pool1d_backward([[1.0, 1.0]], [[1.0, 3.0, 2.0, 5.0]], 2)
    array([[0., 1., 0., 1.]])
    """
    return _max_pool_backward(1, "max_pool1d_backward", grad_output, x, kernel_size, stride,
                              padding, dilation, ceil_mode, indices)


def avg_pool2d_backward(grad_output, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """Gradient of :func:`avg_pool2d` with respect to ``x``.

    Each output's gradient, divided by that window's divisor, is added to every input
    cell of the window.

    Parameters
    ----------
    grad_output : array_like
        Shape of the forward result.
    x : array_like
        The forward input.
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As given to the forward call.

    Returns
    -------
    numpy.ndarray
        Shape of ``x``; float32 for float32 ``x``, else float64.

    Raises
    ------
    ValueError
        ``grad_output`` of the wrong shape (the message names the expected one), or any
        forward-pass error.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.avg_pool2d_backward(np.ones((1, 1, 1)), np.zeros((1, 2, 2)), 2)
    array([[[0.25, 0.25],
            [0.25, 0.25]]])
    """
    return _avg_pool_backward(2, "avg_pool2d_backward", grad_output, x, kernel_size, stride,
                              padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool1d_backward(grad_output, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """Gradient of :func:`avg_pool1d` with respect to ``x``.

    Parameters and rules as :func:`avg_pool2d_backward` on (N, C, L) or (C, L).

    Returns
    -------
    numpy.ndarray
        Shape of ``x``.

    Examples
    --------
    >>> import convcore
    >>> convcore.avg_pool1d_backward([[2.0]], [[0.0, 0.0]], 2)
    array([[1., 1.]])
    """
    return _avg_pool_backward(1, "avg_pool1d_backward", grad_output, x, kernel_size, stride,
                              padding, ceil_mode, count_include_pad, divisor_override)


def _adaptive(nd, name, x, output_size, kernel, return_indices=False):
    x = _pool_input(nd, name, x)
    in_sizes = x.shape[-nd:]
    if isinstance(output_size, tuple | list):
        if len(output_size) != nd:
            raise ValueError(f"{name}: output_size must be an int or a tuple of {nd} "
                             f"(int or None), got {output_size!r}")
        sizes = tuple(n if s is None else as_int("output_size", s)
                      for s, n in zip(output_size, in_sizes, strict=True))
    else:
        sizes = (as_int("output_size", output_size),) * nd
    if not 1 <= min(sizes) <= max(sizes) <= PARAM_LIMIT:
        raise ValueError(f"{name}: output_size must be in [1, 2**31 - 1], got {output_size!r}")
    dtype = compute_dtype(x)
    lead = x.shape[:-nd]
    planes = math.prod(lead)
    with_indices = as_bool("return_indices", return_indices)
    shape = (*lead, *sizes)
    _reserve(name, [(x, dtype)], [(shape, dtype), (shape, _INDEX_DTYPE) if with_indices
                                  else None])
    y = _checks.result_array(shape, dtype)
    idx = _checks.result_array(shape, _INDEX_DTYPE) if with_indices else None
    if y.size:
        xp = _contiguous_planes(name, x, dtype, planes, lift_dhw(in_sizes, nd, 1))
        yp = y.reshape(planes, *lift_dhw(sizes, nd, 1))
        if kernel == "avg":
            _pool.adaptive_avg_pool(xp, yp, get_num_threads())
        else:
            _pool.adaptive_max_pool(xp, yp, None if idx is None else idx.reshape(yp.shape),
                                    get_num_threads())
    return (y, idx) if with_indices else y


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Output cell ``i`` of ``n`` along a dimension of length ``L`` averages input cells
    ``floor(i * L / n)`` to ``ceil((i + 1) * L / n) - 1``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
        None keeps that input size.

    Returns
    -------
    numpy.ndarray, shape (..., out_h, out_w)

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.adaptive_avg_pool2d(np.arange(9.0).reshape(1, 3, 3), 2)
    array([[[2., 3.],
            [5., 6.]]])
    """
    return _adaptive(2, "adaptive_avg_pool2d", x, output_size, "avg")


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Max pooling to a fixed output size, as ``torch.nn.functional.adaptive_max_pool2d``.

    Windows as :func:`adaptive_avg_pool2d`; ties and NaN as :func:`max_pool2d`.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
        None keeps that input size.
    return_indices : bool
        Also return the int64 argmax of each window, flat per plane.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.adaptive_max_pool2d(np.arange(9.0).reshape(1, 3, 3), 2)
    array([[[4., 5.],
            [7., 8.]]])
    """
    return _adaptive(2, "adaptive_max_pool2d", x, output_size, "max", return_indices)


def global_avg_pool2d(x):
    """Mean of each (n, c) plane: (N, C, H, W) -> (N, C, 1, 1) (GoogLeNet's last pool).

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.global_avg_pool2d(np.arange(8.0).reshape(2, 2, 2)).ravel()
    array([1.5, 5.5])
    """
    return _adaptive(2, "global_avg_pool2d", x, 1, "avg")


def global_max_pool2d(x):
    """Maximum of each (n, c) plane: (N, C, H, W) -> (N, C, 1, 1).

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.global_max_pool2d(np.arange(8.0).reshape(2, 2, 2)).ravel()
    array([3., 7.])
    """
    return _adaptive(2, "global_max_pool2d", x, 1, "max")


# ------------------------------------------------------------------------- 3-D pools


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling over each (n, c) volume, as ``torch.nn.functional.max_pool3d``.

    Same rules as :func:`max_pool2d` on three dimensions (depth, height, width).

    Parameters
    ----------
    x : array_like, shape (N, C, D, H, W) or (C, D, H, W)
    kernel_size : int or (int, int, int)
    stride : int or (int, int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int, int)
        Implicit -inf padding on both sides, at most ``kernel_size // 2``.
    dilation : int or (int, int, int)
    ceil_mode : bool
        Round the output size up (the last window must start inside the input or the
        left padding).
    return_indices : bool
        Also return the argmax of each window, flat per volume: ``(id * H + ih) * W + iw``.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        The maxima, shape (N, C, Dout, Hout, Wout) or (C, Dout, Hout, Wout) (float32 for
        float32 input, else float64), and with ``return_indices`` int64 indices of the
        same shape.  NaN and ties as :func:`max_pool2d`.

    Raises
    ------
    TypeError, ValueError
        As :func:`max_pool2d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.arange(16.0).reshape(1, 2, 2, 4)
    >>> convcore.max_pool3d(x, 2)
    array([[[[13., 15.]]]])
    >>> convcore.max_pool3d(x, 2, return_indices=True)[1]
    array([[[[13, 15]]]])
    """
    return _max_pool(3, "max_pool3d", x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-D average pooling over each (n, c) volume, as ``torch.nn.functional.avg_pool3d``.

    Same rules as :func:`avg_pool2d` on three dimensions.

    Parameters
    ----------
    x : array_like, shape (N, C, D, H, W) or (C, D, H, W)
    kernel_size, stride, padding : int or (int, int, int)
        ``stride`` defaults to ``kernel_size``; zero padding, at most ``kernel_size // 2``.
    ceil_mode, count_include_pad : bool
    divisor_override : int, optional

    Returns
    -------
    numpy.ndarray, shape (N, C, Dout, Hout, Wout) or (C, Dout, Hout, Wout)

    Raises
    ------
    TypeError, ValueError
        As :func:`avg_pool2d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.avg_pool3d(np.arange(16.0).reshape(1, 2, 2, 4), 2)
    array([[[[6.5, 8.5]]]])
    """
    return _avg_pool(3, "avg_pool3d", x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def max_pool3d_backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, indices=None):
    """Gradient of :func:`max_pool3d` with respect to ``x``.

    Parameters and rules as :func:`max_pool2d_backward` on (N, C, D, H, W) or
    (C, D, H, W); ``indices`` are those of ``max_pool3d(..., return_indices=True)``.

    Returns
    -------
    numpy.ndarray
        Shape of ``x``.

    Raises
    ------
    TypeError, ValueError
        As :func:`max_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.array([[[[1.0, 4.0]], [[3.0, 2.0]]]])
    >>> convcore.max_pool3d_backward(np.ones((1, 1, 1, 1)), x, (2, 1, 2))
    array([[[[0., 1.]],
    <BLANKLINE>
            [[0., 0.]]]])
    """
    return _max_pool_backward(3, "max_pool3d_backward", grad_output, x, kernel_size, stride,
                              padding, dilation, ceil_mode, indices)


def avg_pool3d_backward(grad_output, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """Gradient of :func:`avg_pool3d` with respect to ``x``.

    Parameters and rules as :func:`avg_pool2d_backward` on (N, C, D, H, W) or
    (C, D, H, W).

    Returns
    -------
    numpy.ndarray
        Shape of ``x``.

    Raises
    ------
    TypeError, ValueError
        As :func:`avg_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.avg_pool3d_backward(np.full((1, 1, 1, 1), 8.0), np.zeros((1, 2, 2, 2)), 2)
    array([[[[1., 1.],
             [1., 1.]],
    <BLANKLINE>
            [[1., 1.],
             [1., 1.]]]])
    """
    return _avg_pool_backward(3, "avg_pool3d_backward", grad_output, x, kernel_size, stride,
                              padding, ceil_mode, count_include_pad, divisor_override)


def scatter_indices_backward(nd: int, grad_output, x, indices) -> np.ndarray:
    """Gradient of a pool given its argmax ``indices`` (flat per plane, -1 for none): each
    output's gradient added to its index, as for :func:`max_pool2d_backward` but for any
    window (the adaptive max pools).

    Parameters
    ----------
    nd : {1, 2, 3}
    grad_output : array_like, shape (..., *out)
    x : array_like, shape (..., *in)
        The forward input.
    indices : array_like of int, shape of ``grad_output``

    Returns
    -------
    numpy.ndarray
        Shape of ``x``.

    Examples
    --------
    >>> import numpy as np, convcore.pooling as P
    >>> x = np.array([[1.0, 5.0, 3.0, 4.0, 2.0]])
    >>> y, idx = P.adaptive_max_pool1d(x, 2, return_indices=True)
    >>> P.scatter_indices_backward(1, np.ones((1, 2)), x, idx)
    array([[0., 1., 0., 1., 0.]])
    """
    name = "scatter_indices_backward"
    x = _pool_input(nd, name, x)
    go = _pool_input(nd, name, grad_output, "grad_output")
    if go.shape[:-nd] != x.shape[:-nd]:
        raise ValueError(f"{name}: grad_output with shape {go.shape} and x with shape "
                         f"{x.shape} differ in their leading (N, C) or (C,)")
    dtype = compute_dtype(x)
    in_dhw, out_dhw = lift_dhw(x.shape[-nd:], nd, 1), lift_dhw(go.shape[-nd:], nd, 1)
    idx = _index_array(name, indices, go.shape, "grad_output")
    plane = math.prod(in_dhw)
    if idx.size and (idx.min() < -1 or idx.max() >= plane):
        raise ValueError(f"{name}: indices must be in [-1, {plane}); got values in "
                         f"[{idx.min()}, {idx.max()}]")
    _reserve(name, [(go, dtype), (idx, _INDEX_DTYPE)], [(x.shape, dtype)])
    planes = math.prod(x.shape[:-nd])
    grad_in = _checks.result_array(x.shape, dtype)
    if grad_in.size:
        # a window of one cell (the scatter reads only the sizes)
        geom = PoolGeometry(nd, in_dhw, (1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 1, 1), out_dhw)
        _pool.max_pool_backward(_contiguous_planes(name, go, dtype, planes, out_dhw),
                                _contiguous_planes(name, idx, _INDEX_DTYPE, planes, out_dhw),
                                grad_in.reshape(planes, *in_dhw), geom, get_num_threads())
    return grad_in


# ----------------------------------------------------------- adaptive pools, 1-D and 3-D


def adaptive_avg_pool1d(x, output_size):
    """Average pooling to a fixed length, as ``torch.nn.functional.adaptive_avg_pool1d``.

    Output cell ``i`` of ``n`` averages input cells ``floor(i * L / n)`` to
    ``ceil((i + 1) * L / n) - 1``.

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
    output_size : int or (int or None,)
        None keeps the input length.

    Returns
    -------
    numpy.ndarray, shape (..., output_size)

    Raises
    ------
    TypeError, ValueError
        Bad shapes or an output size < 1.

    Examples
    --------
    >>> import convcore
    >>> convcore.adaptive_avg_pool1d([[1.0, 2.0, 3.0, 4.0, 5.0]], 2)
    array([[2., 4.]])
    """
    return _adaptive(1, "adaptive_avg_pool1d", x, output_size, "avg")


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """Max pooling to a fixed length, as ``torch.nn.functional.adaptive_max_pool1d``.

    Windows as :func:`adaptive_avg_pool1d`; ties and NaN as :func:`max_pool2d`.

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
    output_size : int or (int or None,)
    return_indices : bool
        Also return the int64 argmax of each window (positions in L).

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)

    Raises
    ------
    TypeError, ValueError
        As :func:`adaptive_avg_pool1d`.

    Examples
    --------
    >>> import convcore
    >>> convcore.adaptive_max_pool1d([[1.0, 5.0, 3.0, 4.0, 2.0]], 2, return_indices=True)
    (array([[5., 4.]]), array([[1, 3]]))
    """
    return _adaptive(1, "adaptive_max_pool1d", x, output_size, "max", return_indices)


def adaptive_avg_pool3d(x, output_size):
    """Average pooling to a fixed output size, as ``torch.nn.functional.adaptive_avg_pool3d``.

    Windows as :func:`adaptive_avg_pool2d` along depth, height and width.

    Parameters
    ----------
    x : array_like, shape (N, C, D, H, W) or (C, D, H, W)
    output_size : int or (int or None, int or None, int or None)
        None keeps that input size.

    Returns
    -------
    numpy.ndarray, shape (..., out_d, out_h, out_w)

    Raises
    ------
    TypeError, ValueError
        As :func:`adaptive_avg_pool1d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.adaptive_avg_pool3d(np.arange(8.0).reshape(1, 2, 2, 2), (1, None, 1))
    array([[[[2.5],
             [4.5]]]])
    """
    return _adaptive(3, "adaptive_avg_pool3d", x, output_size, "avg")


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """Max pooling to a fixed output size, as ``torch.nn.functional.adaptive_max_pool3d``.

    Windows as :func:`adaptive_avg_pool3d`; ties and NaN as :func:`max_pool2d`.

    Parameters
    ----------
    x : array_like, shape (N, C, D, H, W) or (C, D, H, W)
    output_size : int or (int or None, int or None, int or None)
    return_indices : bool
        Also return the int64 argmax of each window, flat per volume.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)

    Raises
    ------
    TypeError, ValueError
        As :func:`adaptive_avg_pool1d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.adaptive_max_pool3d(np.arange(8.0).reshape(1, 2, 2, 2), 1,
    ...                              return_indices=True)
    (array([[[[7.]]]]), array([[[[7]]]]))
    """
    return _adaptive(3, "adaptive_max_pool3d", x, output_size, "max", return_indices)


def global_avg_pool3d(x):
    """Mean of each (n, c) volume: (N, C, D, H, W) -> (N, C, 1, 1, 1).

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.global_avg_pool3d(np.arange(16.0).reshape(2, 2, 2, 2)).ravel()
    array([ 3.5, 11.5])
    """
    return _adaptive(3, "global_avg_pool3d", x, 1, "avg")


def global_max_pool3d(x):
    """Maximum of each (n, c) volume: (N, C, D, H, W) -> (N, C, 1, 1, 1).

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.global_max_pool3d(np.arange(16.0).reshape(2, 2, 2, 2)).ravel()
    array([ 7., 15.])
    """
    return _adaptive(3, "global_max_pool3d", x, 1, "max")


# ------------------------------------------------------------------------- unpooling


def _unpool_output_size(nd: int, name: str, in_sizes, kernel_size, stride, padding,
                       output_size) -> tuple:
    """The spatial output size of a max unpool, PyTorch's rule: by default
    ``(L - 1) * stride + kernel_size - 2 * padding``; a given ``output_size`` (nd sizes, or
    a whole shape whose last nd are used) must lie strictly within ``stride`` of it."""
    ks = int_tuple("kernel_size", kernel_size, nd)
    ss = ks if stride is None else int_tuple("stride", stride, nd)
    ps = int_tuple("padding", padding, nd, minimum=0)
    default = tuple((n - 1) * s + k - 2 * p
                    for n, k, s, p in zip(in_sizes, ks, ss, ps, strict=True))
    if output_size is None:
        sizes = default
    else:
        if not isinstance(output_size, tuple | list):
            raise TypeError(f"{name}: output_size must be a sequence of {nd} or {nd + 2} "
                            f"ints, got {output_size!r}")
        if len(output_size) == nd + 2:
            output_size = output_size[2:]
        if len(output_size) != nd:
            raise ValueError(f"{name}: output_size must have {nd} or {nd + 2} elements, got "
                             f"{output_size!r}")
        sizes = tuple(as_int("output_size", o) for o in output_size)
        for d, (o, dflt, s) in enumerate(zip(sizes, default, ss, strict=True)):
            if not dflt - s < o < dflt + s:
                raise ValueError(f"{name}: output_size {tuple(sizes)} is invalid: size {d} "
                                 f"must be strictly between {dflt - s} and {dflt + s}")
    if min(sizes) < 1:
        raise ValueError(f"{name}: output size {tuple(sizes)} must be >= 1 in every "
                         f"dimension (kernel_size {ks}, stride {ss}, padding {ps})")
    return sizes


def _max_unpool(nd, name, x, indices, kernel_size, stride, padding, output_size):
    x = _pool_input(nd, name, x)
    sizes = _unpool_output_size(nd, name, x.shape[-nd:], kernel_size, stride, padding,
                               output_size)
    idx = _index_array(name, indices, x.shape, "x")
    plane = math.prod(sizes)
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise ValueError(f"{name}: indices must be in [0, {plane}) (flat positions in one "
                         f"output plane of size {tuple(sizes)}); got values in "
                         f"[{idx.min()}, {idx.max()}]")
    dtype = compute_dtype(x)
    lead = x.shape[:-nd]
    planes, in_plane = math.prod(lead), math.prod(x.shape[-nd:])
    shape = (*lead, *sizes)
    _reserve(name, [(x, dtype), (idx, _INDEX_DTYPE)], [(shape, dtype)])
    y = _checks.result_array(shape, dtype)
    if y.size:
        _pool.max_unpool(_contiguous_planes(name, x, dtype, planes, (in_plane,)),
                         _contiguous_planes(name, idx, _INDEX_DTYPE, planes, (in_plane,)),
                         y.reshape(planes, plane), get_num_threads())
    return y


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool1d`, as ``torch.nn.functional.max_unpool1d``.

    Every value of ``x`` goes to its position ``indices`` (from ``max_pool1d(...,
    return_indices=True)``) in a zero output; where indices repeat, the last value wins.

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
    indices : array_like of int, shape of ``x``
        Positions in [0, Lout).
    kernel_size, stride, padding : int or (int,)
        Those of the max pool; ``stride`` defaults to ``kernel_size``.
    output_size : sequence of int, optional
        (Lout,) or (N, C, Lout), strictly within ``stride`` of the default
        ``(L - 1) * stride + kernel_size - 2 * padding`` (PyTorch's rule).

    Returns
    -------
    numpy.ndarray, shape (N, C, Lout) or (C, Lout)
        float32 for float32 ``x``, else float64.

    Raises
    ------
    TypeError
        Non-real ``x``, non-integer indices or parameters.
    ValueError
        ``indices`` not of the shape of ``x``, out of range, or a bad ``output_size``.

    Examples
    --------
    >>> import convcore
    >>> y, idx = convcore.max_pool1d([[1.0, 3.0, 2.0, 5.0]], 2, return_indices=True)
    >>> convcore.max_unpool1d(y, idx, 2)
    array([[0., 3., 0., 5.]])
    """
    return _max_unpool(1, "max_unpool1d", x, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool2d`, as ``torch.nn.functional.max_unpool2d``.

    Parameters and rules as :func:`max_unpool1d` on (N, C, H, W) or (C, H, W); indices
    flat per plane (``ih * Wout + iw``).

    Returns
    -------
    numpy.ndarray, shape (N, C, Hout, Wout) or (C, Hout, Wout)

    Raises
    ------
    TypeError, ValueError
        As :func:`max_unpool1d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.array([[[1.0, 4.0], [3.0, 2.0]]])
    >>> y, idx = convcore.max_pool2d(x, 2, return_indices=True)
    >>> convcore.max_unpool2d(y, idx, 2)
    array([[[0., 4.],
            [0., 0.]]])
    """
    return _max_unpool(2, "max_unpool2d", x, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool3d`, as ``torch.nn.functional.max_unpool3d``.

    Parameters and rules as :func:`max_unpool1d` on (N, C, D, H, W) or (C, D, H, W);
    indices flat per volume.

    Returns
    -------
    numpy.ndarray, shape (N, C, Dout, Hout, Wout) or (C, Dout, Hout, Wout)

    Raises
    ------
    TypeError, ValueError
        As :func:`max_unpool1d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.max_unpool3d(np.full((1, 1, 1, 1), 9.0), np.array([[[[6]]]]), 2)[0, 1]
    array([[0., 0.],
           [9., 0.]])
    """
    return _max_unpool(3, "max_unpool3d", x, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool_backward(grad_output, indices, nd: int):
    """Gradient of a max unpool with respect to its ``x``: ``grad_output`` read back at
    ``indices`` (every input gets its position's gradient, repeated indices included, as
    PyTorch's autograd does).

    Parameters
    ----------
    grad_output : array_like, shape (N, C, *out) or (C, *out)
        Gradient of the unpool's result.
    indices : array_like of int, shape (N, C, *in) or (C, *in)
        The unpool's indices, flat per plane, in [0, prod(out)).
    nd : {1, 2, 3}
        The number of spatial dimensions.

    Returns
    -------
    numpy.ndarray
        Shape of ``indices``, float32 for float32 ``grad_output``, else float64.

    Raises
    ------
    TypeError, ValueError
        Non-real gradient, non-integer indices, mismatched leading dimensions or indices
        out of range.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.max_unpool_backward(np.arange(4.0).reshape(1, 4), np.array([[3, 1]]), 1)
    array([[3., 1.]])
    """
    nd = as_int("nd", nd)
    if nd not in (1, 2, 3):
        raise ValueError(f"max_unpool_backward: nd must be 1, 2 or 3, got {nd}")
    g = _pool_input(nd, "max_unpool_backward", grad_output, "grad_output")
    idx = _int_array("max_unpool_backward", indices)
    lead = g.shape[:-nd]
    if idx.shape[:-nd] != lead or idx.ndim != g.ndim:
        raise ValueError(f"max_unpool_backward: indices with shape {idx.shape} do not match "
                         f"grad_output with shape {g.shape} (the same leading (N, C) or (C,) "
                         f"and {nd} spatial dimensions)")
    plane = math.prod(g.shape[-nd:])
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise ValueError(f"max_unpool_backward: indices must be in [0, {plane}); got values "
                         f"in [{idx.min()}, {idx.max()}]")
    planes, in_plane = math.prod(lead), math.prod(idx.shape[-nd:])
    # a gather, bandwidth-bound: NumPy's take_along_axis runs it at memory speed
    out = np.take_along_axis(g.reshape(planes, plane).astype(compute_dtype(g), copy=False),
                             idx.reshape(planes, in_plane).astype(np.intp, copy=False), axis=1)
    return out.reshape(idx.shape)
