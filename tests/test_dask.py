"""convcore.dask: block-by-block convolution (2-D and 3-D) and pooling equal the in-memory
functions.

Every test compares a Dask result with the in-memory function on the computed array.
Pooling must match exactly (max is exact; average pooling sums each window in the same
row-major order and divides by the same divisor).  The direct convolution must match
exactly too: each output is the bias plus its (c, r, s) products accumulated in one
fixed order by the same statement in every tile of the kernel, wherever the output
sits in its row.  So must im2col: each output is the bias plus its column rows' products
in their order, on the same GEMM tile, whatever the tile of pixels or block of channels
it falls in.  'auto' may choose another route for a block than for the whole array, so
it is compared to a few units in the last place per reduction term.
"""

import re
import threading
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import convcore  # noqa: E402
import convcore.dask as cdask  # noqa: E402


def chunking(draw, n):
    """A random split of n cells into chunks (possibly 1-cell ones)."""
    if n == 1:
        return (1,)
    cuts = draw(st.sets(st.integers(1, n - 1), max_size=min(n - 1, 4)))
    bounds = [0, *sorted(cuts), n]
    return tuple(b - a for a, b in zip(bounds[:-1], bounds[1:], strict=True))


def assert_conv_equal(got, ref, algorithm, terms):
    assert got.shape == ref.shape and got.dtype == ref.dtype
    if algorithm in ("direct", "im2col"):
        np.testing.assert_array_equal(got, ref)
        return
    tol = 4 * np.finfo(ref.dtype).eps * terms
    scale = max(1.0, float(np.nanmax(np.abs(ref), initial=0.0)))
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * scale)


def check_against_memory(conv, dask_conv, xd, args, algorithm):
    """The Dask convolution of xd equals the in-memory one on its computed array, or
    both refuse the call with the same message."""
    x = xd.compute()
    try:
        ref = conv(x, *args, algorithm=algorithm)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            dask_conv(xd, *args, algorithm=algorithm)
        return
    y = dask_conv(xd, *args, algorithm=algorithm)
    assert y.shape == ref.shape and y.dtype == ref.dtype
    assert tuple(sum(ch) for ch in y.chunks) == ref.shape
    weight, groups = args[0], args[5]
    terms = (x.shape[-weight.ndim + 1] // groups) * int(np.prod(weight.shape[2:]))
    assert_conv_equal(y.compute(scheduler="sync"), ref, algorithm, terms)


paddings = st.one_of(
    st.sampled_from(["same", "valid"]),
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.tuples(st.integers(0, 5), st.integers(0, 5)),
              st.tuples(st.integers(0, 5), st.integers(0, 5))),
)


@given(data=st.data())
def test_conv2d_matches_whole_array(data):
    d = data.draw
    dtype = d(st.sampled_from([np.float32, np.float64]))
    groups = d(st.sampled_from([1, 2]))
    n, c, k = d(st.integers(1, 3)), groups * d(st.integers(1, 2)), groups * d(st.integers(1, 2))
    h, w = d(st.integers(1, 20)), d(st.integers(1, 20))
    r, s = d(st.integers(1, 5)), d(st.integers(1, 5))
    stride = d(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    dilation = d(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = d(paddings)
    algorithm = d(st.sampled_from(["direct", "im2col", "auto"]))
    batched = d(st.booleans())
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, h, w) if batched else (c, h, w)).astype(dtype)
    weight = rng.standard_normal((k, c // groups, r, s)).astype(dtype)
    bias = rng.standard_normal(k).astype(dtype) if d(st.booleans()) else None
    chunks = (chunking(d, h), chunking(d, w))
    chunks = ((chunking(d, n), c, *chunks) if batched else (c, *chunks))
    check_against_memory(convcore.conv2d, cdask.conv2d, da.from_array(x, chunks=chunks),
                         (weight, bias, stride, padding, dilation, groups), algorithm)


paddings3 = st.one_of(
    st.sampled_from(["same", "valid"]),
    st.integers(0, 2),
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(*(st.tuples(st.integers(0, 3), st.integers(0, 3)) for _ in range(3))),
)


@given(data=st.data())
def test_conv3d_matches_whole_array(data):
    d = data.draw
    dtype = d(st.sampled_from([np.float32, np.float64]))
    groups = d(st.sampled_from([1, 2]))
    n, c, k = d(st.integers(1, 2)), groups * d(st.integers(1, 2)), groups * d(st.integers(1, 2))
    sizes = tuple(d(st.integers(1, 9)) for _ in range(3))
    kernel = tuple(d(st.integers(1, 3)) for _ in range(3))
    stride = d(st.one_of(st.integers(1, 3), st.tuples(*(st.integers(1, 3),) * 3)))
    dilation = d(st.one_of(st.integers(1, 2), st.tuples(*(st.integers(1, 2),) * 3)))
    padding = d(paddings3)
    algorithm = d(st.sampled_from(["direct", "im2col", "auto"]))
    batched = d(st.booleans())
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, *sizes) if batched else (c, *sizes)).astype(dtype)
    weight = rng.standard_normal((k, c // groups, *kernel)).astype(dtype)
    bias = rng.standard_normal(k).astype(dtype) if d(st.booleans()) else None
    chunks = tuple(chunking(d, size) for size in sizes)
    chunks = ((chunking(d, n), c, *chunks) if batched else (c, *chunks))
    check_against_memory(convcore.conv3d, cdask.conv3d, da.from_array(x, chunks=chunks),
                         (weight, bias, stride, padding, dilation, groups), algorithm)


def test_conv3d_blocks_read_only_their_receptive_field():
    # chunks of 4 along D, H, W; a 3x3x3 'same' layer: each block reads its chunk and one
    # plane of each neighbour, never a whole neighbouring chunk
    x = da.ones((1, 2, 8, 8, 8), chunks=(1, 2, 4, 4, 4))
    y = cdask.conv3d(x, np.ones((3, 2, 3, 3, 3)), padding=1, algorithm="direct")
    graph = dict(y.__dask_graph__())
    halos = [v for key, v in graph.items()
             if isinstance(key, tuple) and "halo" in key[0]]
    assert halos, "neighbouring chunks must be sliced"
    for task in halos:
        bounds = task[2]
        assert sum(b - a == 1 for a, b in bounds) >= 1  # one plane of the neighbour
    assert y.chunks[2:] == ((4, 4),) * 3
    np.testing.assert_array_equal(y.compute(), convcore.conv3d(x.compute(),
                                                               np.ones((3, 2, 3, 3, 3)),
                                                               padding=1, algorithm="direct"))


def test_conv3d_bad_input_raises_clear_errors():
    x = da.zeros((1, 3, 4, 8, 8), chunks=4)
    w = np.ones((2, 3, 3, 3, 3))
    with pytest.raises(TypeError, match="conv3d: x must be a dask.array.Array"):
        cdask.conv3d(np.zeros((1, 3, 4, 8, 8)), w)
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, D, H, W\)"):
        cdask.conv3d(da.zeros((8, 8)), w)
    with pytest.raises(ValueError, match="kernel depth 3"):
        cdask.conv3d(da.zeros((1, 3, 2, 8, 8)), w)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        cdask.conv3d(x, w, algorithm="fft")
    with pytest.warns(cdask.ChannelRechunkWarning, match="conv3d"):
        cdask.conv3d(da.zeros((1, 3, 4, 8, 8), chunks=(1, 1, 4, 8, 8)), w)


@given(data=st.data())
def test_pooling_matches_whole_array(data):
    d = data.draw
    dtype = d(st.sampled_from([np.float32, np.float64, np.int32]))
    batched = d(st.booleans())
    n, c = d(st.integers(1, 3)), d(st.integers(1, 3))
    h, w = d(st.integers(1, 20)), d(st.integers(1, 20))
    kernel = (d(st.integers(1, 5)), d(st.integers(1, 5)))
    stride = d(st.one_of(st.none(), st.integers(1, 4),
                         st.tuples(st.integers(1, 4), st.integers(1, 4))))
    padding = (d(st.integers(0, kernel[0] // 2)), d(st.integers(0, kernel[1] // 2)))
    ceil_mode = d(st.booleans())
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal((n, c, h, w) if batched else (c, h, w)) * 10).astype(dtype)
    if dtype != np.int32:
        x[rng.random(x.shape) < d(st.sampled_from([0.0, 0.1, 0.5]))] = -np.inf
        x[rng.random(x.shape) < d(st.sampled_from([0.0, 0.05]))] = np.nan
    chunks = (chunking(d, c), chunking(d, h), chunking(d, w))
    xd = da.from_array(x, chunks=(chunking(d, n), *chunks) if batched else chunks)
    check_pooling_matches(d, 2, x, xd, kernel, stride, padding, ceil_mode)


def check_pooling_matches(d, nd, x, xd, kernel, stride, padding, ceil_mode):
    """A max (with a drawn dilation, with indices) or average (drawn count_include_pad and
    divisor) pooling over ``nd`` axes of the Dask array equals the in-memory one."""
    if d(st.booleans()):
        dilation = tuple(d(st.integers(1, 3)) for _ in range(nd))
        args = (kernel, stride, padding, dilation, ceil_mode, True)
        try:
            ref, ref_idx = getattr(convcore, f"max_pool{nd}d")(x, *args)
        except ValueError:
            with pytest.raises(ValueError):
                getattr(cdask, f"max_pool{nd}d")(xd, *args)
            return
        y, idx = getattr(cdask, f"max_pool{nd}d")(xd, *args)
        got, got_idx = dask.compute(y, idx, scheduler="sync")
        np.testing.assert_array_equal(got_idx, ref_idx)
        assert got_idx.dtype == np.int64
    else:
        divisor = d(st.one_of(st.none(), st.integers(1, 9)))
        args = (kernel, stride, padding, ceil_mode, d(st.booleans()), divisor)
        try:
            ref = getattr(convcore, f"avg_pool{nd}d")(x, *args)
        except ValueError:
            with pytest.raises(ValueError):
                getattr(cdask, f"avg_pool{nd}d")(xd, *args)
            return
        got = getattr(cdask, f"avg_pool{nd}d")(xd, *args).compute(scheduler="sync")
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


@given(data=st.data())
def test_plan_axis_reads_exactly_the_receptive_field(data):
    d = data.draw
    size = d(st.integers(1, 40))
    chunks = chunking(d, size)
    kernel, stride, dilation = d(st.integers(1, 6)), d(st.integers(1, 5)), d(st.integers(1, 3))
    before, after = d(st.integers(0, 6)), d(st.integers(0, 6))
    n_out = (size + before + after - dilation * (kernel - 1) - 1) // stride + 1
    if n_out < 1:
        return
    spans = cdask._plan_axis(size, chunks, kernel, stride, dilation, before, n_out)
    starts = np.concatenate([[0], np.cumsum(chunks)])
    assert spans[0].o0 == 0 and spans[-1].o1 == n_out
    for prev, span in zip(spans[:-1], spans[1:], strict=True):
        assert prev.o1 == span.o0  # contiguous, no empty block
    for span in spans:
        assert span.o1 > span.o0
        # first tap of the first window to last tap of the last window, nothing more
        assert span.lo == span.o0 * stride - before
        assert span.hi == (span.o1 - 1) * stride - before + dilation * (kernel - 1) + 1
        cells = [starts[j] + i for j, a, b in span.pieces for i in range(a, b)]
        assert cells == list(range(max(span.lo, 0), min(span.hi, size)))


def test_output_chunks_follow_input_chunks():
    x = da.zeros((2, 3, 64, 48), chunks=(1, 3, 16, (20, 28)))
    w = np.ones((4, 3, 3, 3))
    same = cdask.conv2d(x, w, padding="same")
    assert same.chunks == ((1, 1), (4,), (16,) * 4, (20, 28))
    # stride 2: about half; a window goes with the chunk holding its centre tap
    assert cdask.conv2d(x, w, stride=2, padding="same").chunks[2:] == ((8,) * 4, (10, 14))
    assert cdask.conv2d(x, w).chunks[2:] == ((15, 16, 16, 15), (19, 27))
    # a stride that divides no chunk size
    y = cdask.conv2d(x, w, stride=3, padding=1)
    assert y.chunks[2:] == ((6, 5, 5, 6), (7, 9))
    assert cdask.max_pool2d(x, 2).chunks == ((1, 1), (3,), (8,) * 4, (10, 14))
    assert cdask.max_pool2d(x, 3, 2, 1).chunks[2:] == ((8,) * 4, (10, 14))
    assert cdask.avg_pool2d(x, 2, ceil_mode=True).chunks[2:] == ((8,) * 4, (10, 14))
    # chunks smaller than the stride: output chunks that would be empty are dropped
    tiny = da.zeros((1, 1, 10, 10), chunks=1)
    assert cdask.conv2d(tiny, np.ones((1, 1, 1, 1)), stride=4).chunks[2:] == ((1, 1, 1),) * 2


def test_stride_2_even_chunks_need_no_halo():
    """2x2/2 pooling over even chunks reads each input chunk once, whole."""
    x = da.arange(4 * 8 * 8, dtype=np.float64, chunks=64).reshape(4, 8, 8).rechunk((1, 4, 4))
    y = cdask.max_pool2d(x, 2)
    tasks = dict(y.__dask_graph__())
    assert not [k for k in tasks if isinstance(k, tuple) and "-halo-" in k[0]]
    np.testing.assert_array_equal(y.compute(), convcore.max_pool2d(x.compute(), 2))


def test_three_dimensional_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 17, 23)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 2)).astype(np.float32)
    xd = da.from_array(x, chunks=(3, 6, 7))
    y = cdask.conv2d(xd, w, padding=((2, 0), (1, 3)), stride=(2, 1), algorithm="direct")
    assert y.ndim == 3 and y.chunks[0] == (5,)
    np.testing.assert_array_equal(
        y.compute(), convcore.conv2d(x, w, padding=((2, 0), (1, 3)), stride=(2, 1),
                                     algorithm="direct"))
    xd = da.from_array(x, chunks=(1, 6, 7))
    np.testing.assert_array_equal(cdask.avg_pool2d(xd, 3, 2, 1, True, False).compute(),
                                  convcore.avg_pool2d(x, 3, 2, 1, True, False))
    y, idx = cdask.max_pool2d(xd, (2, 3), 1, (1, 1), 2, return_indices=True)
    ref, ref_idx = convcore.max_pool2d(x, (2, 3), 1, (1, 1), 2, return_indices=True)
    np.testing.assert_array_equal(y.compute(), ref)
    np.testing.assert_array_equal(idx.compute(), ref_idx)


def test_channels_split_across_chunks_are_rechunked_with_a_warning():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 9, 9))
    w = rng.standard_normal((6, 2, 3, 3))
    xd = da.from_array(x, chunks=(1, 2, 5, 5))
    with pytest.warns(cdask.ChannelRechunkWarning, match=r"4 channels in 2 chunks"):
        y = cdask.conv2d(xd, w, groups=2, padding=1, algorithm="direct")
    assert y.chunks[1] == (6,)
    np.testing.assert_array_equal(y.compute(), convcore.conv2d(x, w, padding=1, groups=2,
                                                               algorithm="direct"))
    with warnings.catch_warnings():  # pooling works per plane: no rechunk, no warning
        warnings.simplefilter("error")
        assert cdask.max_pool2d(xd, 2).chunks[1] == (2, 2)


def test_blocks_entirely_in_the_padding():
    """Windows that read only padding give the whole array's values, NaN included."""
    x = da.ones((1, 1, 4, 4), chunks=1)
    w = np.ones((1, 1, 2, 2))
    w[0, 0, 1, 1] = np.inf  # padding is a real zero: 0 * inf = nan, as in conv2d
    for wt in (np.ones((1, 1, 2, 2)), w):
        args = (wt, np.array([0.5]), (5, 3), ((6, 7), (2, 9)))
        ref = convcore.conv2d(np.ones((1, 1, 4, 4)), *args)
        y = cdask.conv2d(x, *args, algorithm="direct")
        np.testing.assert_array_equal(y.compute(), ref)
    # a dilated max window that skips the input: -inf, index -1
    ref, ref_idx = convcore.max_pool2d(np.ones((1, 2, 5)), 2, 1, 1, 3, return_indices=True)
    assert (ref_idx == -1).any()
    y, idx = cdask.max_pool2d(da.ones((1, 2, 5), chunks=1), 2, 1, 1, 3, return_indices=True)
    np.testing.assert_array_equal(y.compute(), ref)
    np.testing.assert_array_equal(idx.compute(), ref_idx)


def test_nothing_is_computed_until_asked():
    calls = []

    def source(block):
        if block.size:  # not Dask's probe for the output type
            calls.append(block.shape)
        return block

    x = da.ones((2, 3, 32, 32), chunks=(1, 3, 8, 8)).map_blocks(source, dtype=float)
    y = cdask.conv2d(x, np.ones((2, 3, 3, 3)), stride=2, padding="same")
    p = cdask.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
    m, i = cdask.max_pool2d(x, 2, return_indices=True)
    assert calls == []
    assert y[:, :, :4, :4].compute().shape == (2, 2, 4, 4)
    assert 0 < len(calls) < 32  # only the chunks near the requested corner
    assert p.dtype == np.float64 and i.dtype == np.int64 and m.shape == (2, 3, 16, 16)


def test_threaded_scheduler_and_float32_bias():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 61, 47)).astype(np.float32)
    w = rng.standard_normal((8, 3, 5, 5)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    xd = da.from_array(x, chunks=(2, 3, 16, 16))
    y = cdask.conv2d(xd, w, b, stride=2, padding="same", dilation=2, algorithm="direct")
    np.testing.assert_array_equal(
        y.compute(scheduler="threads"),
        convcore.conv2d(x, w, b, stride=2, padding="same", dilation=2, algorithm="direct"))
    # integer input, float64 result, as in memory
    xi = (x * 10).astype(np.int16)
    yi = cdask.conv2d(da.from_array(xi, chunks=(1, 3, 20, 20)), w.astype(np.float64))
    assert yi.dtype == np.float64
    assert_conv_equal(yi.compute(scheduler="threads"),
                      convcore.conv2d(xi, w.astype(np.float64)), "auto", 75)


def test_bad_input_raises_clear_errors():
    x = da.zeros((1, 3, 8, 8), chunks=4)
    w = np.ones((2, 3, 3, 3))
    with pytest.raises(TypeError, match="must be a dask.array.Array, got ndarray"):
        cdask.conv2d(np.zeros((1, 3, 8, 8)), w)
    with pytest.raises(TypeError, match="must be a dask.array.Array"):
        cdask.max_pool2d(np.zeros((1, 3, 8, 8)), 2)
    with pytest.raises(ValueError, match="weight has 3 input channels per group but input "
                                         "has 4 channels"):
        cdask.conv2d(da.zeros((1, 4, 8, 8)), w)
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\)"):
        cdask.conv2d(da.zeros((8, 8)), w)
    with pytest.raises(ValueError, match="kernel height 9"):
        cdask.conv2d(x, np.ones((2, 3, 9, 3)))
    with pytest.raises(ValueError, match="algorithm must be one of"):
        cdask.conv2d(x, w, algorithm="cudnn")
    with pytest.raises(TypeError, match="complex"):
        cdask.conv2d(x.astype(np.complex64), w)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        cdask.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="padding 2"):
        cdask.max_pool2d(x, 3, padding=2)
    with pytest.raises(TypeError, match="return_indices must be True or False"):
        cdask.max_pool2d(x, 2, return_indices=1)
    with pytest.raises(ValueError, match="divisor_override must be None or in"):
        cdask.avg_pool2d(x, 2, divisor_override=0)
    unknown = x[x[:, :, 0, 0].ravel() > 0]  # boolean indexing: unknown sizes
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        cdask.avg_pool2d(unknown, 2)


def test_local_cluster_of_two_worker_processes():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 50, 41)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    xd = da.from_array(x, chunks=(2, 4, 17, 13))
    # a volume in 2 x 3 x 3 blocks
    xv = da.from_array(rng.standard_normal((1, 3, 10, 21, 17)), chunks=(1, 3, 5, 7, 6))
    wv, bv = rng.standard_normal((4, 3, 3, 3, 3)), rng.standard_normal(4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        y = cdask.conv2d(xd, w, stride=2, padding="same", groups=2, algorithm="direct")
        m, i = cdask.max_pool2d(xd, 3, 2, 1, return_indices=True)
        a = cdask.avg_pool2d(xd, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        v = cdask.conv3d(xv, wv, bv, stride=(1, 2, 1), padding=1, algorithm="direct")
        y, m, i, a, v = client.compute([y, m, i, a, v], sync=True)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(
        v, convcore.conv3d(xv.compute(), wv, bv, stride=(1, 2, 1), padding=1,
                           algorithm="direct"))
    np.testing.assert_array_equal(
        y, convcore.conv2d(x, w, stride=2, padding="same", groups=2, algorithm="direct"))
    ref_m, ref_i = convcore.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(m, ref_m)
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_array_equal(a, convcore.avg_pool2d(x, 3, 2, 1, True, False))


class _Sink:
    """A da.store target that keeps only a checksum of what it is given."""

    def __init__(self):
        self.total = 0.0
        self.lock = threading.Lock()

    def __setitem__(self, key, block):
        with self.lock:
            self.total += float(block.sum(dtype=np.float64))


def _traced_peak(fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_bounded_by_the_chunks_not_the_image():
    """A 16384 x 2048 float32 image (128 MiB) filtered and written block by block with
    the threaded scheduler: the peak of Python-traced memory (NumPy's buffers included,
    also those made in worker threads) stays a fraction of the image, here about 25 MiB
    (a few rows of 512 x 512 chunks, 1 MiB each, plus Dask's bookkeeping)."""
    h, w, c = 16384, 2048, 512
    x = da.random.default_rng(0).random((1, 1, h, w), dtype=np.float32, chunks=(1, 1, c, c))
    y = cdask.conv2d(x, np.full((1, 1, 3, 3), 1 / 9, np.float32), padding="same")
    image = h * w * 4
    # a first run imports what Dask imports lazily (distributed, ...): not in the peak
    da.store(y[:, :, :c, :c], _Sink(), lock=False, scheduler="threads")
    # the measurement sees NumPy buffers made by Dask's worker threads
    materialised = _traced_peak(lambda: y[0, 0, : h // 4].compute(scheduler="threads"))
    assert materialised >= image // 4
    sink = _Sink()
    peak = _traced_peak(lambda: da.store(y, sink, lock=False, scheduler="threads"))
    assert peak < 0.4 * image, f"peak {peak / 2**20:.1f} MiB for a {image / 2**20:.0f} MiB image"
    assert abs(sink.total / (h * w) - 0.5) < 0.01  # every block was written
