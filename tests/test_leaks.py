"""No leaks: thousands of calls of every function (forward, backward, pooling, unfold,
the matrix, errors raised part-way through validation, calls from several threads) keep
the memory flat once warmed up, by three measures:

- tracemalloc's traced memory (Python objects and NumPy's buffers, which NumPy registers);
- the C heap in use, from glibc's ``mallinfo2`` (what a ``malloc`` without ``free`` in C
  would leave, which tracemalloc cannot see);
- the resident set size, from ``/proc/self/statm`` (anything else: mappings, stacks).

The bounds are meaningful: 41 bytes per call traced, 64 bytes per call of C heap, 1 KiB per
call resident; the last tests show the measurements flagging a leak of 256 bytes per call
made by Python, one of 1 KiB per call made by C ``malloc`` and one of 16 KiB per call of
mapped pages.
"""

import ctypes
import gc
import mmap
import os
import threading
import tracemalloc

import numpy as np
import pytest

import convcore

PAGE = os.sysconf("SC_PAGE_SIZE")
LIBC = ctypes.CDLL(None)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


_MALLINFO2 = getattr(LIBC, "mallinfo2", None)  # glibc >= 2.33
if _MALLINFO2 is not None:
    _MALLINFO2.restype = _Mallinfo2
# AddressSanitizer keeps freed memory in quarantine, so the resident size grows without a
# leak there (scripts/sanitize.sh); its builds are checked on the traced memory only.
UNDER_ASAN = hasattr(LIBC, "__asan_init")
HEAP_BOUND = 64 * 1024       # C heap bytes gained over CALLS calls


def heap_bytes() -> int:
    """Bytes of the C heap in use (every arena and mmap'd chunk), or 0 without glibc."""
    if _MALLINFO2 is None or UNDER_ASAN:
        return 0
    info = _MALLINFO2()
    return info.uordblks + info.hblkhd
CALLS = 1000                 # calls of the resident-size window
TRACED = 400                 # calls of each of the two traced windows
WARMUP = 200
TRACED_BOUND = 16 * 1024     # traced bytes gained over the second traced window
RSS_BOUND = 1 << 20          # resident bytes gained over CALLS calls


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def growth(fn, calls=CALLS, traced_calls=TRACED, warmup=WARMUP):
    """(traced, C heap, resident) bytes gained over windows of calls after a warm-up.

    The heap and resident growths are over ``calls`` calls; the traced growth over the
    second of two windows of ``traced_calls`` (tracemalloc slows calls down): bounded
    caches (NumPy's, the interpreter's free lists, tracemalloc's own tables) fill during
    the first, and a leak grows in both.
    """
    for _ in range(warmup):
        fn()
    gc.collect()
    rss0, heap0 = rss_bytes(), heap_bytes()
    for _ in range(calls):
        fn()
    gc.collect()
    rss, heap = rss_bytes() - rss0, heap_bytes() - heap0
    tracemalloc.start()
    try:
        for _ in range(traced_calls):  # first traced window: caches settle
            fn()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(traced_calls):
            fn()
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return traced, heap, rss


def raises(fn, exc):
    def call():
        try:
            fn()
        except exc:
            return
        raise AssertionError("no error")
    return call


rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 12, 13)).astype(np.float32)
W = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
B = rng.standard_normal(6).astype(np.float32)
GO = rng.standard_normal((2, 6, 6, 7)).astype(np.float32)
X1, W1 = X[:, :, 0], W[:, :, 0]
XF = np.asfortranarray(X.astype(np.float64))
GP = rng.standard_normal((2, 4, 6, 7)).astype(np.float32)
OUT = np.empty((2, 6, 12, 13), np.float32)
_, IDX = convcore.max_pool2d(X, 3, 2, 1, return_indices=True)
_BUF = np.zeros(X.size + 2 * 6 * 10 * 11, np.float32)  # x and an out= overlapping it
XO = _BUF[:X.size].reshape(X.shape)
XO[...] = X
OUT_OVERLAP = _BUF[X.size // 2:X.size // 2 + 2 * 6 * 10 * 11].reshape(2, 6, 10, 11)

WORKLOADS = {
    "conv2d-direct": lambda: convcore.conv2d(X, W, B, padding=1, groups=2, algorithm="direct"),
    "conv2d-im2col": lambda: convcore.conv2d(X, W, B, 2, 1, groups=2, algorithm="im2col"),
    "conv2d-sparse": lambda: convcore.conv2d(X, W, B, padding=1, groups=2, algorithm="sparse"),
    "conv2d-out-F-input": lambda: convcore.conv2d(XF, W, B, padding=1, groups=2, out=OUT.astype(
        np.float64)),
    "conv2d-out": lambda: convcore.conv2d(X, W, B, padding=1, groups=2, out=OUT),
    "conv1d": lambda: convcore.conv1d(X1, W1, B, padding="same", groups=2),
    "conv2d_backward-direct": lambda: convcore.conv2d_backward(GO, X, W, 2, 1, groups=2,
                                                               algorithm="direct"),
    "conv2d_backward-im2col": lambda: convcore.conv2d_backward(GO, X, W, 2, 1, groups=2,
                                                               algorithm="im2col"),
    "conv1d_backward": lambda: convcore.conv1d_backward(GO[:, :, 0], X1, W1, 2, 1, groups=2),
    "im2col-col2im": lambda: convcore.col2im(convcore.im2col(X, 3, padding=1), (12, 13), 3,
                                             padding=1),
    "max_pool2d": lambda: convcore.max_pool2d(X, 3, 2, 1, return_indices=True),
    "avg_pool2d": lambda: convcore.avg_pool2d(X, 3, 2, 1, ceil_mode=True),
    "max_pool2d_backward": lambda: convcore.max_pool2d_backward(GP, X, 3, 2, 1, indices=IDX),
    "avg_pool2d_backward": lambda: convcore.avg_pool2d_backward(GP, X, 3, 2, 1),
    "pool1d": lambda: (convcore.max_pool1d(X1, 2), convcore.avg_pool1d_backward(
        np.ones((2, 4, 6)), X1, 2)),
    "adaptive-global": lambda: (convcore.adaptive_avg_pool2d(X, 5),
                                convcore.adaptive_max_pool2d(X, (3, None), True),
                                convcore.global_max_pool2d(X)),
    "conv_matrix-csr": lambda: convcore.conv_matrix((4, 12, 13), W, 1, 1, groups=2),
    "conv_matrix-dense": lambda: convcore.conv_matrix((4, 6, 6), W, groups=2, format="dense"),
    "relu-output_size": lambda: (convcore.relu(X), convcore.conv_output_size((12, 13), 3)),
    # errors raised part-way through validation, after arrays were converted or copied
    "error-dtype": raises(lambda: convcore.conv2d(X, W.astype(bool)), TypeError),
    "error-list-input-channels": raises(lambda: convcore.conv2d(X.tolist(), W), ValueError),
    "error-grad_output-shape": raises(lambda: convcore.conv2d_backward(GO[:, :, :5], X, W,
                                                                       groups=2), ValueError),
    "error-memory": raises(lambda: convcore.conv2d(X, W, padding=10**9, groups=2), MemoryError),
    "error-overflow": raises(lambda: convcore.im2col(X[:0], 3, padding=2**31 - 1), ValueError),
    "error-out-overlap": raises(lambda: convcore.conv2d(XO, W, groups=2, out=OUT_OVERLAP),
                                ValueError),
    "error-pool-indices": raises(lambda: convcore.max_pool2d_backward(
        GP, X, 3, 2, 1, indices=IDX + 1000), ValueError),
    "error-dense-limit": raises(lambda: convcore.conv_matrix((4, 12, 13), W, groups=2,
                                                             format="dense", max_bytes=10),
                                MemoryError),
    "error-algorithm": raises(lambda: convcore.conv2d(X, W, groups=2, algorithm="gemm"),
                              ValueError),
}


@pytest.fixture(autouse=True)
def one_thread():
    """One OpenMP thread, so a thread team's first start is not counted as growth."""
    convcore.set_num_threads(1)
    yield
    convcore.set_num_threads(None)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_repeated_calls_do_not_leak(name):
    traced, heap, rss = growth(WORKLOADS[name])
    assert traced < TRACED_BOUND, f"{name}: {traced} traced bytes after {TRACED} calls"
    assert heap < HEAP_BOUND, f"{name}: the C heap grew {heap} bytes over {CALLS} calls"
    assert rss < RSS_BOUND or UNDER_ASAN, f"{name}: resident set grew {rss} bytes"


def test_calls_from_many_threads_do_not_leak():
    convcore.set_num_threads(2)
    loads = [WORKLOADS[n] for n in ("conv2d-direct", "conv2d_backward-im2col", "max_pool2d",
                                    "error-memory", "conv_matrix-csr")]

    def batch():
        threads = [threading.Thread(target=lambda f=f: [f() for _ in range(20)]) for f in loads]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    traced, heap, rss = growth(batch, calls=20, traced_calls=8, warmup=20)  # x100 calls
    assert traced < TRACED_BOUND, traced
    assert heap < 4 * HEAP_BOUND, heap  # thread stacks' TLS blocks come and go
    # new threads get malloc arenas and OpenMP teams: a few MiB come and go (measured:
    # 1.5-4.5 MiB, flat over 160 batches), hence a looser bound than for one thread
    assert rss < 16 * RSS_BOUND or UNDER_ASAN, rss


# ---------------------------------------------------------------- the detector works

_kept = []


def test_detector_sees_a_python_leak():
    """A leak of 256 bytes per call (one small NumPy array kept alive) exceeds the bound."""
    def leaky():
        convcore.relu(X[0, 0])
        _kept.append(np.empty(32))
    traced, _, _ = growth(leaky)
    _kept.clear()
    assert traced > TRACED_BOUND, traced


@pytest.mark.skipif(_MALLINFO2 is None or UNDER_ASAN, reason="needs glibc's mallinfo2")
def test_detector_sees_a_c_leak():
    """A C-level leak of 1 KiB per call, invisible to tracemalloc, shows in the C heap
    (not necessarily in the resident size: freed heap pages may absorb it)."""
    LIBC.malloc.restype = ctypes.c_void_p
    LIBC.malloc.argtypes = [ctypes.c_size_t]
    LIBC.free.argtypes = [ctypes.c_void_p]
    blocks = np.zeros(WARMUP + CALLS + 2 * TRACED, np.uint64)  # no Python object per call
    count = [0]

    def leaky():
        convcore.relu(X[0, 0])
        blocks[count[0]] = LIBC.malloc(1024)
        count[0] += 1

    traced, heap, _ = growth(leaky)
    for p in blocks[:count[0]]:
        LIBC.free(int(p))
    assert traced < TRACED_BOUND  # tracemalloc cannot see it...
    assert heap > HEAP_BOUND, heap  # ...the heap count does


@pytest.mark.skipif(UNDER_ASAN, reason="AddressSanitizer's quarantine holds freed memory")
def test_detector_sees_a_mapping_leak():
    """Pages mapped and kept (16 KiB per call), outside malloc, show in the RSS."""
    kept = []

    def leaky():
        convcore.relu(X[0, 0])
        m = mmap.mmap(-1, 16384)
        m.write(b"x" * 16384)  # touched, so resident
        kept.append(m)

    _, _, rss = growth(leaky, traced_calls=0)
    for m in kept:
        m.close()
    assert rss > RSS_BOUND, rss
