"""Output-size arithmetic for convolution and pooling windows."""

from __future__ import annotations

from convcore._checks import as_bool, as_int, int_tuple, padding_pairs


def output_length(
    size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int, ceil_mode: bool
) -> int:
    """Number of windows along one dimension (may be < 1: the caller decides).

    floor((size + pad_total - dilation * (kernel - 1) - 1) / stride) + 1; with
    ``ceil_mode`` rounded up instead, less one when the last window would start at or
    beyond ``size + pad_before`` (a window may not start in the trailing padding).
    """
    span = size + pad[0] + pad[1] - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1  # floor division, also for a negative span
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad[0]:
        out -= 1
    return out


def transpose_output_length(size: int, kernel: int, stride: int, pad: tuple[int, int],
                            dilation: int, output_padding: int) -> int:
    """Output length of a transposed convolution along one dimension (may be < 1):
    ``(size - 1) * stride - pad_before - pad_after + dilation * (kernel - 1)
    + output_padding + 1``."""
    return ((size - 1) * stride - pad[0] - pad[1] + dilation * (kernel - 1)
            + output_padding + 1)


def check_output_padding(output_padding, strides, dilations) -> tuple[int, ...]:
    """``output_padding`` per dimension, each >= 0 and smaller than the stride or the
    dilation of its dimension (PyTorch's rule: it only picks among the output sizes a
    strided convolution maps to the same input size)."""
    ops = int_tuple("output_padding", output_padding, len(strides), minimum=0)
    for op, s, d in zip(ops, strides, dilations, strict=True):
        if op >= max(s, d):
            raise ValueError(
                f"output_padding must be smaller than the stride or the dilation in every "
                f"dimension; got output_padding={output_padding!r} with stride "
                f"{tuple(strides)} and dilation {tuple(dilations)}"
            )
    return ops


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1, ceil_mode=False, *,
                     transposed=False, output_padding=0):
    """Output size of a convolution or pooling window along each spatial dimension.

    ``out = floor((in + pad_total - dilation * (kernel_size - 1) - 1) / stride) + 1``,
    where an int padding ``p`` pads ``p`` on each side (``pad_total = 2p``).  With
    ``ceil_mode=True`` the pooling rule: round up instead, but the last window may not
    start in the right/bottom padding.  With dilation ``d`` a kernel spans
    ``d * (k - 1) + 1`` input cells.  Any number of dimensions: a 3-tuple ``size`` is a
    volume (depth, height, width).

    With ``transposed=True`` the size of a transposed convolution
    (:func:`convcore.conv_transpose2d`, ``torch.nn.ConvTranspose2d``):
    ``out = (in - 1) * stride - pad_total + dilation * (kernel_size - 1)
    + output_padding + 1``, the inverse of the rule above for ``output_padding = 0``.

    Parameters
    ----------
    size : int or tuple of int
        Input size; a tuple gives one size per dimension.
    kernel_size, stride, dilation : int or tuple of int
        One value for all dimensions or one per dimension (``stride``, ``dilation``
        >= 1, ``kernel_size`` >= 1).
    padding : int, tuple of int, or tuple of (before, after) pairs
        Zero padding per side; a pair pads asymmetrically.  For an int ``size`` a single
        ``(before, after)`` pair is accepted too.
    ceil_mode : bool
        Round up (pooling's ``ceil_mode``); not with ``transposed``.
    transposed : bool
        The output size of a transposed convolution of input ``size``.
    output_padding : int or tuple of int
        Transposed only: added after each dimension; smaller than the stride or the
        dilation of that dimension (PyTorch's rule).

    Returns
    -------
    int or tuple of int
        Same form as ``size``.

    Raises
    ------
    ValueError
        If a size is < 1, a parameter is out of range, or the output would be empty
        (the message names the numbers).
    TypeError
        If a parameter is not an int (or a sequence of ints).

    Examples
    --------
    >>> from convcore import conv_output_size
    >>> conv_output_size(227, 11, stride=4)          # AlexNet conv1
    55
    >>> conv_output_size((300, 400), 5, padding=2)   # 'same' by padding
    (300, 400)
    >>> conv_output_size((300, 400), 2, stride=2)    # 2x2 max pool
    (150, 200)
    >>> conv_output_size(5, 2, stride=2, ceil_mode=True)
    3
    >>> conv_output_size((16, 56, 56), 3, padding=1)  # a 3-D (video) layer
    (16, 56, 56)
    >>> conv_output_size(32, 4, stride=2, padding=1, transposed=True)  # DCGAN upsampling
    64
    >>> conv_output_size((7, 7), 3, stride=2, padding=1, transposed=True, output_padding=1)
    (14, 14)
    """
    scalar = not isinstance(size, tuple | list)
    sizes = (as_int("size", size),) if scalar else tuple(as_int("size", s) for s in size)
    n = len(sizes)
    if n == 0:
        raise ValueError("size must be an int or a non-empty tuple of ints")
    if any(s < 1 for s in sizes):
        raise ValueError(f"size must be >= 1 in every dimension, got {size!r}")
    ks = int_tuple("kernel_size", kernel_size, n)
    ss = int_tuple("stride", stride, n)
    ds = int_tuple("dilation", dilation, n)
    pads = padding_pairs(padding, n)
    ceil = as_bool("ceil_mode", ceil_mode)
    if as_bool("transposed", transposed):
        if ceil:
            raise ValueError("ceil_mode applies to pooling windows, not to transposed "
                             "convolution (transposed=True)")
        ops = check_output_padding(output_padding, ss, ds)
        outs = []
        for i in range(n):
            out = transpose_output_length(sizes[i], ks[i], ss[i], pads[i], ds[i], ops[i])
            if out < 1:
                raise ValueError(
                    f"padding {pads[i]} crops the whole transposed convolution of input "
                    f"size {sizes[i]} (kernel {ks[i]}, stride {ss[i]}, dilation {ds[i]}, "
                    f"output_padding {ops[i]}): output size would be {out}"
                )
            outs.append(out)
        return outs[0] if scalar else tuple(outs)
    if any(int_tuple("output_padding", output_padding, n, minimum=0)):
        raise ValueError(f"output_padding={output_padding!r} applies to transposed "
                         "convolution only: pass transposed=True")
    outs = []
    for i in range(n):
        out = output_length(sizes[i], ks[i], ss[i], pads[i], ds[i], ceil)
        if out < 1:
            raise ValueError(
                f"kernel of size {ks[i]} (dilation {ds[i]}, spanning "
                f"{ds[i] * (ks[i] - 1) + 1}) does not fit in input of size {sizes[i]} "
                f"padded by {pads[i]}: output size would be {out}"
            )
        outs.append(out)
    return outs[0] if scalar else tuple(outs)
