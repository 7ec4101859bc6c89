"""FFT convolution in any number of spatial dimensions, by blocks (overlap-save).

The stride-1 output is cut into blocks of ``B`` outputs per dimension.  Each block
reads its window of ``L = B + k - 1`` inputs (zeros outside the image: the padding),
takes a real FFT of length ``L`` (a 2^a 3^b size: the fastest of ``next_fast_len``'s),
multiplies it by the FFT of the flipped kernel, summing over input channels at every
frequency, and keeps the ``B`` outputs of the inverse transform that did not wrap
around.  Blocks are transformed together in chunks whose size is bounded (and output
channels in passes when their kernel spectra would not fit), so the memory used beyond
the input and output stays bounded however large the image is.  float32 inputs are
transformed in float32 (complex64), float64 in float64.

Costs per output grow with ``log L`` rather than with the kernel's size: this wins for
large kernels on few channels (image filtering, long 1-D filters).  A NaN or inf
anywhere in a block's input window turns every output of that block (all output
channels) into NaN: the transform mixes every input of the window into every
frequency.  Strided calls compute the stride-1 outputs of each block and keep every
``stride``-th one; dilated kernels are zero-filled to their span.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import scipy.fft

from convcore._blas import single_threaded_blas
from convcore._checks import (
    as_int,
    as_real_array,
    check_alloc,
    compute_dtype,
    int_tuple,
    padding_pairs,
)
from convcore._shapes import output_length
from convcore._threads import get_num_threads

# Elements (real) of the input blocks of one chunk, times its channels: ~32 MiB of
# float64 input; with the spectra and the products about 4x that at once.
CHUNK_ELEMENTS = 1 << 22
# The same for the blocks that go through the transforms together when every kernel
# spectrum is made once per call (elements times channels: 1 MiB of one-channel float32
# input), so that a pass's blocks, their spectra and products stay in L2 from one step
# (window copy, transform, product, inverse, scatter) to the next, and a pass reuses the
# arrays of the one before.  Measurements: docs/algorithms.md (FFT, memory).
PASS_ELEMENTS = 1 << 18


def _length_23(n: int) -> int:
    """The smallest 2^a 3^b >= n: pocketfft's fastest real lengths (factors of 5 and 7,
    which next_fast_len also allows, ran measurably slower in the block transforms)."""
    best, p3 = 1 << max(n - 1, 0).bit_length(), 1
    while p3 < n:
        p2 = p3 << max(0, (-(-n // p3) - 1).bit_length())
        best, p3 = min(best, p2), p3 * 3
    return min(best, p3)


@functools.lru_cache(maxsize=256)
def block_lengths(out_sizes: tuple, spans: tuple) -> tuple[int, ...]:
    """FFT length per dimension: over the ways of cutting the ``n`` outputs into ``nb``
    equal blocks, the length ``2^a 3^b >= ceil(n / nb) + span - 1`` that minimises the
    predicted work ``nb * L * (log2 L + 20)`` (the constant stands for the per-element
    copies and products besides the transform, measured on the 2048^2 and 10^6-sample
    cases), with blocks at least as long as the kernel's span and at least 4096
    elements in all (shorter ones cost more in per-block bookkeeping than they save).
    Both arguments are tuples (the answer is cached).

    Examples
    --------
    >>> from convcore.fft import block_lengths
    >>> block_lengths((2048, 2048), (31, 31))
    (324, 324)
    """
    out = []
    min_len = 2 ** -(-12 // len(spans))
    for n, k in zip(out_sizes, spans, strict=True):
        whole = _length_23(n + k - 1)
        best, best_cost, nb = whole, math.inf, 1
        while True:
            b = -(-n // nb)
            length = min(_length_23(max(b + k - 1, min_len)), whole)
            blocks = -(-n // (length - k + 1))  # as many as that length needs
            cost = blocks * length * (math.log2(length) + 20)
            if cost < best_cost:
                best, best_cost = length, cost
            if b <= k or b + k - 1 <= min_len:
                break
            nb = max(nb + 1, nb * 21 // 20)     # ~5% steps: a few hundred candidates
        out.append(best)
    return tuple(out)


def _dilated(w: np.ndarray, dilation) -> np.ndarray:
    if all(d == 1 for d in dilation):
        return w
    spans = [d * (k - 1) + 1 for k, d in zip(w.shape[2:], dilation, strict=True)]
    wd = np.zeros(w.shape[:2] + tuple(spans), dtype=w.dtype)
    wd[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in dilation)] = w
    return wd


@np.errstate(invalid="ignore", over="ignore")   # NaN/inf inputs spread as documented
def correlate(x: np.ndarray, w: np.ndarray, bias, pads, strides, dilation, groups: int,
              y: np.ndarray, workers: int) -> None:
    """y = cross-correlation of x (N, C, *S) with w (K, C // groups, *k) plus bias, by
    FFT blocks; every argument already validated, ``y`` (N, K, *O) of x's dtype."""
    d = x.ndim - 2
    N, C = x.shape[:2]
    K = w.shape[0]
    Cg, Kg = C // groups, K // groups
    wd = _dilated(w, dilation)
    spans = wd.shape[2:]
    sizes = x.shape[2:]
    outs = y.shape[2:]
    full = tuple((o - 1) * s + 1 for o, s in zip(outs, strides, strict=True))
    lengths = block_lengths(full, tuple(spans))
    keep = tuple(L - k + 1 for L, k in zip(lengths, spans, strict=True))
    axes = tuple(range(-d, 0))
    grid = [range(-(-f // b)) for f, b in zip(full, keep, strict=True)]
    # output channels per pass: their kernel spectra (kc x Cg x F complex) stay within
    # the chunk budget too; with more, each block chunk goes through the passes in turn
    nfreq = math.prod(lengths[:-1]) * (lengths[-1] // 2 + 1)
    kc = min(Kg, max(1, CHUNK_ELEMENTS // (Cg * nfreq)))
    per_block = N * max(Cg, kc) * math.prod(lengths)
    chunk = max(1, (PASS_ELEMENTS if kc == Kg else CHUNK_ELEMENTS) // per_block)
    flip = (slice(None), slice(None)) + (slice(None, None, -1),) * d
    blocks = list(itertools.product(*grid))

    def spectrum(k0: int, k1: int, fft_workers: int = workers) -> np.ndarray:
        # the flipped kernel's spectrum turns the circular convolution into correlation
        wf = scipy.fft.rfftn(wd[k0:k1][flip], s=lengths, axes=axes, workers=fft_workers)
        if Cg == 1:
            return wf[:, 0]                                 # (kc, *F)
        return np.ascontiguousarray(wf.reshape(k1 - k0, Cg, -1).transpose(2, 1, 0))

    def run(grp: int, whole, first: int, last: int, fft_workers: int, stop=None) -> None:
        """Chunks first..last-1 (chunk indices) of group ``grp``."""
        xg = x[:, grp * Cg:(grp + 1) * Cg]
        for c0 in range(first * chunk, min(last * chunk, len(blocks)), chunk):
            if stop is not None and stop.is_set():
                return
            part = blocks[c0:c0 + chunk]
            if d == 1:
                xb = _windows_1d(xg, c0, len(part), keep[0], lengths[0], pads[0][0])
            else:
                xb = _windows(xg, part, keep, lengths, pads, sizes)
            xf = scipy.fft.rfftn(xb, axes=axes, workers=fft_workers)
            del xb
            fshape = xf.shape[3:]
            if Cg > 1:
                xf = xf.reshape(len(part) * N, Cg, -1).transpose(2, 0, 1)
            for k0 in range(0, Kg, kc):
                k1 = min(Kg, k0 + kc)
                ws = (whole if whole is not None
                      else spectrum(grp * Kg + k0, grp * Kg + k1, fft_workers))
                if Cg == 1:
                    yf = xf * ws                            # (nb, N, kc, *F)
                else:
                    yf = np.matmul(xf, ws).transpose(1, 2, 0).reshape(
                        (len(part), N, k1 - k0) + fshape)
                yb = scipy.fft.irfftn(yf, s=lengths, axes=axes, workers=fft_workers)
                del yf
                _scatter(y[:, grp * Kg + k0:grp * Kg + k1], yb, part, keep, spans, strides, outs)
                del yb

    chunks = -(-len(blocks) // chunk)
    with single_threaded_blas():  # the channel products (np.matmul) on convcore's threads
        for grp in range(groups):
            whole = spectrum(grp * Kg, (grp + 1) * Kg) if kc == Kg else None
            if workers > 1 and chunks >= 2 * workers:
                _in_threads(functools.partial(run, grp, whole), chunks, workers)
            else:
                run(grp, whole, 0, chunks, workers)
    if bias is not None and len(bias):
        y += np.asarray(bias, dtype=y.dtype).reshape((1, K) + (1,) * d)


def _in_threads(run, chunks: int, workers: int) -> None:
    """run(first, last, 1, stop) on ``workers`` threads, each over its own contiguous
    range of the ``chunks`` chunks: every step of a chunk (window copy, transforms,
    product, scatter) then runs in parallel, where a multi-threaded transform leaves the
    copies and products to one thread and meets its threads twice per chunk.  Each
    chunk is computed as on one thread (one-thread transforms), so the result does not
    depend on ``workers``.  On an exception in a thread, or Ctrl-C in the caller, the
    other threads stop at their next chunk and are joined before it propagates."""
    import concurrent.futures
    import threading

    stop = threading.Event()

    def guarded(first: int, last: int) -> None:
        try:
            run(first, last, 1, stop)
        except BaseException:
            stop.set()  # the other threads stop at their next chunk
            raise

    bounds = [chunks * i // workers for i in range(workers + 1)]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(guarded, a, b)
                   for a, b in zip(bounds, bounds[1:], strict=False)]
        try:
            for f in futures:
                f.result()
        except BaseException:
            stop.set()
            raise


def _windows_1d(xg, first: int, count: int, keep: int, length: int, pad: int) -> np.ndarray:
    """(count, N, Cg, length) input windows of consecutive 1-D blocks first.. as a
    strided view of the input where the span they cover lies inside it, else of one
    zero-padded copy of that span (no Python loop over the blocks)."""
    lo = first * keep - pad                     # first input of the first window
    span = (count - 1) * keep + length
    if lo >= 0 and lo + span <= xg.shape[2]:    # no padding: a view of the input itself
        n, c, e = xg.strides
        return np.lib.stride_tricks.as_strided(xg[:, :, lo:], (count,) + xg.shape[:2]
                                               + (length,), (keep * e, n, c, e),
                                               writeable=False)
    buf = np.zeros(xg.shape[:2] + (span,), dtype=xg.dtype)
    a, e = max(lo, 0), min(lo + span, xg.shape[2])
    if e > a:
        buf[:, :, a - lo:e - lo] = xg[:, :, a:e]
    n, c, _ = buf.strides
    view = np.lib.stride_tricks.as_strided(buf, (count,) + xg.shape[:2] + (length,),
                                           (keep * buf.itemsize, n, c, buf.itemsize),
                                           writeable=False)
    return view


def _windows(xg, part, keep, lengths, pads, sizes) -> np.ndarray:
    """(len(part), N, Cg, *lengths) input windows of the blocks ``part``, zeros outside."""
    xb = np.zeros((len(part),) + xg.shape[:2] + tuple(lengths), dtype=xg.dtype)
    for i, b in enumerate(part):
        src, dst = [], []
        for bi, kp, L, p, n in zip(b, keep, lengths, pads, sizes, strict=True):
            lo = bi * kp - p[0]            # first input of the window
            a, e = max(lo, 0), min(lo + L, n)
            src.append(slice(a, max(a, e)))
            dst.append(slice(a - lo, a - lo + max(e - a, 0)))
        xb[(i, slice(None), slice(None)) + tuple(dst)] = xg[(slice(None), slice(None))
                                                            + tuple(src)]
    return xb


def _scatter(y, yb, part, keep, spans, strides, outs) -> None:
    """Write the valid, strided outputs of the blocks ``part`` (yb: their inverse
    transforms) into y (N, kc, *O)."""
    for i, b in enumerate(part):
        src, dst = [], []
        for bi, kp, k, s, o in zip(b, keep, spans, strides, outs, strict=True):
            first = bi * kp              # first stride-1 output of the block
            j0 = -(-first // s)
            j1 = min(-(-(first + kp) // s), o)
            src.append(slice(k - 1 + j0 * s - first, k - 1 + (j1 - 1) * s - first + 1, s))
            dst.append(slice(j0, j1))
        y[(slice(None), slice(None)) + tuple(dst)] = yb[(i, slice(None), slice(None))
                                                        + tuple(src)]


def run_conv(nd: int, g, xc, wc, bc, y4, n_threads: int) -> None:
    """``algorithm='fft'`` of conv1d/conv2d on a validated geometry ``g``.  A 2-D call on
    rows of one pixel (input, kernel and output one row high: a signal stored as a 1 x L
    image) takes the 1-D route, whose blocks are one strided view of the signal rather
    than one copy per block."""
    if nd == 1 or (xc.shape[2] == wc.shape[2] == y4.shape[2] == 1 and g.pad[0] == (0, 0)):
        correlate(xc[:, :, 0, :], wc[:, :, 0, :], bc, g.pad[1:], g.stride[1:],
                  g.dilation[1:], g.groups, y4[:, :, 0, :], n_threads)
    else:
        correlate(xc, wc, bc, g.pad, g.stride, g.dilation, g.groups, y4, n_threads)


def fft_conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """N-d convolution (cross-correlation, as :func:`convcore.conv2d`) by FFT blocks.

    The core of ``algorithm="fft"``, for any number ``d >= 1`` of spatial dimensions
    (a 3-D convolution is ``d = 3``).

    Parameters
    ----------
    x : array_like, shape (N, C, *S)
        ``d = x.ndim - 2`` spatial dimensions.
    weight : array_like, shape (K, C // groups, *k)
    bias : array_like, shape (K,), optional
    stride, dilation : int or d ints
        Strided calls compute the stride-1 outputs block by block and keep every
        ``stride``-th one.
    padding : int, d ints or d (before, after) pairs
        Zero padding.
    groups : int

    Returns
    -------
    numpy.ndarray, shape (N, K, *O)
        ``O_i = floor((S_i + pad_i - dilation_i * (k_i - 1) - 1) / stride_i) + 1``;
        float32 when x and weight are float32, else float64.

    Raises
    ------
    TypeError
        Non-real data or non-int parameters.
    ValueError
        Shapes that do not match, parameters out of range, a kernel larger than the
        padded input.
    MemoryError
        If the output would not fit in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore.fft import fft_conv
    >>> x = np.ones((1, 1, 4, 4, 4))
    >>> fft_conv(x, np.ones((2, 1, 3, 3, 3)), padding=1)[0, 0, :, 0, 0].round(6)
    array([ 8., 12., 12.,  8.])
    """
    x = as_real_array("x", x)
    weight = as_real_array("weight", weight)
    if x.ndim < 3:
        raise ValueError(f"x must have shape (N, C, *spatial) with at least one spatial "
                         f"dimension; got shape {x.shape}")
    d = x.ndim - 2
    if weight.ndim != x.ndim:
        raise ValueError(f"weight must have shape (K, C // groups, *kernel) with {d} kernel "
                         f"dimensions; got shape {weight.shape}")
    groups = as_int("groups", groups)
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    N, C = x.shape[:2]
    K, Cg = weight.shape[:2]
    if C == 0 or C % groups or K % groups or Cg * groups != C:
        raise ValueError(f"weight has {Cg} input channels per group and {K} filters; input "
                         f"has {C} channels (groups={groups}): C and K must be divisible by "
                         f"groups and C // groups must equal {Cg}")
    if any(k < 1 for k in weight.shape[2:]) or any(n < 1 for n in x.shape[2:]):
        raise ValueError(f"kernel and spatial sizes must be >= 1; got weight {weight.shape}, "
                         f"x {x.shape}")
    strides = int_tuple("stride", stride, d)
    dilations = int_tuple("dilation", dilation, d)
    pads = padding_pairs(padding, d)
    outs = []
    for n, k, s, p, dl in zip(x.shape[2:], weight.shape[2:], strides, pads, dilations,
                              strict=True):
        o = output_length(n, k, s, p, dl, False)
        if o < 1:
            raise ValueError(f"kernel size {k} (dilation {dl}) is larger than the input size "
                             f"{n} padded by {p[0]} + {p[1]}")
        outs.append(o)
    dtype = compute_dtype(x, weight)
    if bias is not None:
        bias = as_real_array("bias", bias)
        if bias.shape != (K,):
            raise ValueError(f"bias must have shape ({K},); got shape {bias.shape}")
    shape = (N, K, *outs)
    check_alloc("the convolution output", shape, dtype.itemsize)
    y = np.empty(shape, dtype=dtype)
    if y.size:
        correlate(np.asarray(x, dtype=dtype), np.asarray(weight, dtype=dtype), bias, pads,
                  strides, dilations, groups, y, get_num_threads())
    return y
