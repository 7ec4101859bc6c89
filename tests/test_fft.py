"""FFT convolution (algorithm='fft', convcore.fft.fft_conv) against NumPy references in
1, 2 and 3 dimensions: random geometries, blocks and chunks, dtypes, NaN, errors."""

import itertools

import numpy as np
import pytest
import scipy.fft
from reference import conv1d_ref, conv2d_ref

import convcore
from convcore import fft
from convcore.fft import block_lengths, fft_conv


def rel_err(got, ref):
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.abs(np.asarray(got, np.float64) - ref).max() / max(np.abs(ref).max(), 1e-300))


TOL = {np.float32: 1e-5, np.float64: 1e-12}


def convnd_ref(x, w, b, stride, pads, dilation, groups):
    """Grouped N-d cross-correlation, one kernel tap at a time in float64."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    d = x.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    Kg = K // groups
    outs = [(xp.shape[2 + i] - dilation[i] * (w.shape[2 + i] - 1) - 1) // stride[i] + 1
            for i in range(d)]
    y = np.zeros((N, K, *outs))
    for g in range(groups):
        for tap in itertools.product(*(range(k) for k in w.shape[2:])):
            sl = tuple(slice(t * dl, t * dl + s * (o - 1) + 1, s)
                       for t, dl, s, o in zip(tap, dilation, stride, outs, strict=True))
            patch = xp[(slice(None), slice(g * Cg, (g + 1) * Cg)) + sl]
            wt = w[(slice(g * Kg, (g + 1) * Kg), slice(None)) + tap]
            y[:, g * Kg:(g + 1) * Kg] += np.einsum("nc...,kc->nk...", patch, wt)
    if b is not None:
        y += np.asarray(b, np.float64).reshape((1, K) + (1,) * d)
    return y


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_random_geometries(seed, dtype):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2, 3]))
    C, K = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    R, S = int(rng.integers(1, 12)), int(rng.integers(1, 12))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pads = ((int(rng.integers(0, 5)), int(rng.integers(0, 5))),
            (int(rng.integers(0, 5)), int(rng.integers(0, 5))))
    H = int(rng.integers(1, 40)) + dilation[0] * (R - 1)
    W = int(rng.integers(1, 70)) + dilation[1] * (S - 1)
    x = rng.standard_normal((int(rng.integers(1, 3)), C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // groups, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if seed % 2 else None
    ref = conv2d_ref(x, w, b, stride, pads, dilation, groups)
    got = convcore.conv2d(x, w, b, stride, pads, dilation, groups, algorithm="fft")
    assert got.dtype == dtype and got.shape == ref.shape
    assert rel_err(got, ref) < TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_long_filter(dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 4, 3001)).astype(dtype)
    w = rng.standard_normal((6, 2, 201)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    for stride, pad in ((1, 0), (3, (100, 7))):
        ref = conv1d_ref(x, w, b, stride, pad, 1, 2)
        got = convcore.conv1d(x, w, b, stride, pad, groups=2, algorithm="fft")
        assert rel_err(got, ref) < TOL[dtype]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_3d_core_against_numpy(seed, dtype):
    rng = np.random.default_rng(seed + 100)
    groups = 1 + seed % 2
    x = rng.standard_normal((2, 2 * groups, 9, 11, 7)).astype(dtype)
    w = rng.standard_normal((2 * groups, 2, 3, 4, 2)).astype(dtype)
    b = rng.standard_normal(2 * groups).astype(dtype)
    stride, dilation = (1, 1 + seed % 2, 1), (1, 1, 1 + seed // 2)
    pads = ((1, 0), (2, 1), (0, seed))
    ref = convnd_ref(x, w, b, stride, pads, dilation, groups)
    got = fft_conv(x, w, b, stride, pads, dilation, groups)
    assert got.dtype == dtype and got.shape == ref.shape
    assert rel_err(got, ref) < TOL[dtype]


def test_many_blocks_and_chunks(monkeypatch):
    """Tiny chunks: every block of the grid is transformed in a separate chunk."""
    monkeypatch.setattr(fft, "CHUNK_ELEMENTS", 1)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 2, 300, 280))
    w = rng.standard_normal((3, 2, 9, 7))
    lengths = block_lengths((300 + 2 - 8, 280 + 2 - 6), (9, 7))
    assert lengths[0] < 300 or lengths[1] < 280   # more than one block
    got = convcore.conv2d(x, w, padding=1, algorithm="fft")
    assert rel_err(got, conv2d_ref(x, w, padding=1)) < 1e-12


@pytest.mark.parametrize("chunk", [1, 5000, 1 << 22])
def test_1d_windows_in_chunks(monkeypatch, chunk):
    """The 1-D windows (one strided view per chunk of consecutive blocks), padded on both
    ends, strided and grouped, in chunks of one block, a few blocks, or all."""
    monkeypatch.setattr(fft, "CHUNK_ELEMENTS", chunk)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 4, 20000))
    w = rng.standard_normal((6, 2, 301))
    for stride, pad in ((1, (150, 7)), (4, (0, 300))):
        ref = conv1d_ref(x, w, None, stride, pad, 1, 2)
        got = convcore.conv1d(x, w, None, stride, pad, groups=2, algorithm="fft")
        assert rel_err(got, ref) < 1e-12


def test_output_channels_in_passes(monkeypatch):
    """A chunk budget below one kernel spectrum: the output channels go in passes."""
    monkeypatch.setattr(fft, "CHUNK_ELEMENTS", 3000)
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 4, 30, 26))
    w = rng.standard_normal((6, 2, 5, 3))
    b = rng.standard_normal(6)
    got = convcore.conv2d(x, w, b, padding=(2, 1), groups=2, algorithm="fft")
    assert rel_err(got, conv2d_ref(x, w, b, padding=(2, 1), groups=2)) < 1e-12


def test_block_lengths_are_fast_and_cover_the_kernel():
    for out, span in (((2048, 2048), (31, 31)), ((10**6,), (1001,)), ((5,), (3,)),
                      ((1,), (1,)), ((50, 50, 50), (3, 3, 3))):
        for n, k, L in zip(out, span, block_lengths(out, span), strict=True):
            assert L >= k and L == scipy.fft.next_fast_len(L, real=True)
            assert L <= fft._length_23(n + k - 1)


def test_float32_is_transformed_in_float32_with_convcore_threads(monkeypatch):
    seen = []
    real = scipy.fft.rfftn

    def spy(a, *args, **kwargs):
        seen.append((a.dtype, kwargs.get("workers")))
        return real(a, *args, **kwargs)

    monkeypatch.setattr(scipy.fft, "rfftn", spy)
    old = convcore.get_num_threads()
    try:
        convcore.set_num_threads(2)
        x = np.ones((1, 1, 40, 40), np.float32)
        y = convcore.conv2d(x, np.ones((1, 1, 9, 9), np.float32), algorithm="fft")
    finally:
        convcore.set_num_threads(old)
    assert y.dtype == np.float32
    assert seen and all(dt == np.float32 and wk == 2 for dt, wk in seen)


def test_nan_and_inf_spread_over_the_block():
    """A NaN or inf input makes every output of its block non-finite (here one block),
    so the result is non-finite at least where the reference is."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((1, 1, 30, 30))
    w = rng.standard_normal((2, 1, 5, 5))
    for bad in (np.nan, np.inf):
        xb = x.copy()
        xb[0, 0, 3, 4] = bad
        ref = conv2d_ref(xb, w)
        got = convcore.conv2d(xb, w, algorithm="fft")
        assert not np.isfinite(got[~np.isfinite(ref)]).any()
        assert not np.isfinite(got).any()


def test_inputs_unchanged_and_out():
    rng = np.random.default_rng(14)
    x, w, b = rng.standard_normal((2, 12, 12)), rng.standard_normal((3, 2, 4, 4)), np.ones(3)
    copies = [a.copy() for a in (x, w, b)]
    out = np.full((3, 9, 9), np.nan)
    assert convcore.conv2d(x, w, b, algorithm="fft", out=out) is out
    for a, c in zip((x, w, b), copies, strict=True):
        np.testing.assert_array_equal(a, c)
    assert rel_err(out, conv2d_ref(x[None], w, b)[0]) < 1e-12


def test_fft_conv_validation():
    with pytest.raises(ValueError, match="at least one spatial"):
        fft_conv(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="3 kernel dimensions"):
        fft_conv(np.zeros((1, 1, 4, 4, 4)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="groups=2"):
        fft_conv(np.zeros((1, 3, 4)), np.zeros((2, 1, 3)), groups=2)
    with pytest.raises(ValueError, match="larger than the input"):
        fft_conv(np.zeros((1, 1, 4)), np.zeros((1, 1, 7)))
    with pytest.raises(ValueError, match="bias must have shape"):
        fft_conv(np.zeros((1, 1, 8)), np.zeros((2, 1, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="stride"):
        fft_conv(np.zeros((1, 1, 8)), np.zeros((2, 1, 3)), stride=0)
    with pytest.raises(TypeError):
        fft_conv(np.zeros((1, 1, 8), complex), np.zeros((2, 1, 3)))


def test_matches_torch_and_scipy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    x = rng.standard_normal((1, 1, 64, 80)).astype(np.float32)
    w = rng.standard_normal((1, 1, 15, 15)).astype(np.float32)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                     padding=7).numpy()
    got = convcore.conv2d(x, w, padding=7, algorithm="fft")
    assert rel_err(got, ref) < 1e-5
    import scipy.signal

    same = scipy.signal.fftconvolve(x[0, 0].astype(np.float64), w[0, 0, ::-1, ::-1],
                                    mode="same")
    assert rel_err(got[0, 0], same) < 1e-5


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_fft_on_one_row_images_takes_the_1d_route(dtype, tol, monkeypatch):
    """A signal stored as 1 x L images (conv2d with kernel and output one row high) is
    correlated along its row: the 1-D windows, the same values as the reference."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 1, 3001)).astype(dtype)
    w = rng.standard_normal((6, 2, 1, 101)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    windows = []
    original = fft._windows_1d
    monkeypatch.setattr(fft, "_windows_1d",
                        lambda *a: windows.append(a) or original(*a))
    for stride, padding, dilation in [((1, 1), (0, 50), (1, 1)), ((3, 2), (0, 7), (2, 3))]:
        got = convcore.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                              groups=2, algorithm="fft")
        ref = conv2d_ref(x, w, b, stride=stride, padding=padding, dilation=dilation,
                         groups=2)
        assert got.shape == ref.shape and got.dtype == dtype
        assert rel_err(got, ref) < tol
    assert len(windows) >= 2


@pytest.mark.parametrize("shape, kernel", [((2, 3, 60000), (4, 3, 201)),
                                           ((1, 2, 600, 500), (3, 2, 9, 7))])
def test_chunks_on_threads_do_not_depend_on_the_thread_count(monkeypatch, shape, kernel):
    """With many chunks each convcore thread takes a range of them (one-thread
    transforms): the result is the same bit for bit for 1, 2 and 3 threads, and right."""
    monkeypatch.setattr(fft, "PASS_ELEMENTS", 1)       # one block per chunk
    ranges = []
    real = fft._in_threads

    def spy(run, chunks, workers):
        ranges.append((chunks, workers))
        return real(run, chunks, workers)

    monkeypatch.setattr(fft, "_in_threads", spy)
    rng = np.random.default_rng(23)
    x, w = rng.standard_normal(shape), rng.standard_normal(kernel)
    b = rng.standard_normal(kernel[0])
    conv = convcore.conv1d if len(shape) == 3 else convcore.conv2d
    ref = (conv1d_ref(x, w, b, 1, (3, 2), 1, 1) if len(shape) == 3
           else conv2d_ref(x, w, b, padding=((3, 2), (3, 2))))
    old = convcore.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            convcore.set_num_threads(n)
            pad = (3, 2) if len(shape) == 3 else ((3, 2), (3, 2))
            results.append(conv(x, w, b, padding=pad, algorithm="fft"))
    finally:
        convcore.set_num_threads(old)
    assert [wk for _, wk in ranges] == [2, 3] and all(c >= 6 for c, _ in ranges)
    for r in results:
        np.testing.assert_array_equal(r, results[0])
    assert rel_err(results[0], ref) < 1e-12


def test_an_error_on_a_chunk_thread_reaches_the_caller(monkeypatch):
    """An exception raised while a thread runs its chunks is raised by the call, and the
    other thread stops at its next chunk (no hang, no lost error, no wasted work)."""
    import threading
    import time

    monkeypatch.setattr(fft, "PASS_ELEMENTS", 1)
    order, lock = {}, threading.Lock()
    calls = []
    real = scipy.fft.irfftn

    def failing(*args, **kwargs):
        with lock:
            me = order.setdefault(threading.get_ident(), len(order))
            calls.append(me)
        if me == 1:  # the second thread to get here fails on its first chunk
            raise MemoryError("chunk on the second thread")
        time.sleep(0.01)  # the first thread is slower: it sees the stop (the caller
        return real(*args, **kwargs)  # waits on it first, so only the thread can stop it)

    monkeypatch.setattr(scipy.fft, "irfftn", failing)
    threaded = []
    real_threads = fft._in_threads
    monkeypatch.setattr(fft, "_in_threads",
                        lambda run, chunks, workers: (threaded.append(chunks),
                                                      real_threads(run, chunks, workers)))
    old = convcore.get_num_threads()
    try:
        convcore.set_num_threads(2)
        with pytest.raises(MemoryError, match="second thread"):
            convcore.conv1d(np.ones((1, 1, 200000)), np.ones((1, 1, 301)), algorithm="fft")
    finally:
        convcore.set_num_threads(old)
    # the chunks went to two threads; the first ran a few of its half, not all of them
    assert threaded and threaded[0] >= 16
    assert calls.count(0) < threaded[0] // 2
