"""Memory: bounded, batch-independent workspaces, and outputs too large to allocate are
refused with MemoryError before any allocation."""

import re
import tracemalloc

import numpy as np
import pytest

import convcore
from convcore import _conv
from convcore._geometry import prepare_conv

MiB = 1 << 20

# (C, H, K, R, stride, padding): square VGG / ResNet-like layers.
LAYERS = [
    (3, 224, 64, 3, 1, 1),
    (64, 224, 64, 3, 1, 1),
    (128, 112, 128, 3, 1, 1),
    (256, 56, 256, 3, 1, 1),
    (512, 28, 512, 3, 1, 1),
    (512, 14, 512, 3, 1, 1),
    (256, 56, 64, 1, 1, 0),
    (64, 56, 128, 3, 2, 1),
    (3, 227, 96, 11, 4, 0),
]


def _geometry(C, H, K, R, stride, padding, N):
    x = np.broadcast_to(np.float32(0), (N, C, H, H))  # shapes only: views, no memory
    w = np.broadcast_to(np.float32(0), (K, C, R, R))
    return prepare_conv(2, x, w, None, stride, padding, 1, 1)[0]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda v: "C{}_H{}_K{}_R{}_s{}".format(*v[:5]))
def test_gemm_workspace_bounded_and_batch_independent(layer):
    C, H, K, R, stride, padding = layer
    sizes, items = {}, {}
    for N in (1, 64):
        items[N], per_thread = _conv.gemm_plan(_geometry(*layer, N))
        sizes[N] = per_thread * 4  # float32 bytes per thread
    assert sizes[1] == sizes[64] > 0
    assert sizes[1] <= 2 * MiB
    # never more than the full column matrix of one image
    out = _geometry(*layer, 1).Wout
    assert sizes[1] <= C * R * R * out * out * 4
    # the work grows with the batch, the workspace does not (one image may split its
    # output channels into blocks to give every thread work: at most 16 items then)
    assert items[64] >= 64 * items[1] // 16 and items[64] >= items[1]


def _extra_bytes(fn):
    """Peak memory traced during fn() beyond what its result keeps."""
    fn()  # warm up caches (BLAS handles, thread pools)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        y = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base - y.nbytes


@pytest.mark.parametrize("algorithm", ["im2col", "direct"])
def test_conv2d_temporary_memory_independent_of_batch(rng, algorithm):
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    threads = convcore.get_num_threads()
    extra = {}
    for N in (1, 8):
        x = rng.standard_normal((N, 32, 40, 40)).astype(np.float32)
        extra[N] = _extra_bytes(lambda x=x: convcore.conv2d(x, w, padding=1,
                                                            algorithm=algorithm))
    if algorithm == "im2col":
        g = _geometry(32, 40, 64, 3, 1, 1, 1)
        _, per_thread = _conv.gemm_plan(g)
        bound = (per_thread * threads + _conv.gemm_packed_size(g)) * 4  # + packed weights
    else:
        bound = 2 * w.nbytes  # the repacked weights
    slack = 64 * 1024
    assert extra[8] <= bound + slack, extra
    assert abs(extra[8] - extra[1]) <= slack, extra


def test_output_too_large_raises_memory_error_before_allocating():
    x = np.broadcast_to(np.float32(1), (100000, 1, 1000, 1000))  # a view: no memory
    w = np.ones((64, 1, 1, 1), dtype=np.float32)
    for algorithm in ("auto", "direct", "im2col"):
        with pytest.raises(MemoryError, match=r"\d GB") as info:
            convcore.conv2d(x, w, algorithm=algorithm)
        needed = float(re.search(r"the output \(shape [^)]*\)\) ([\d.]+) GB", str(info.value))[1])
        assert needed == pytest.approx(100000 * 64 * 1000 * 1000 * 4 / 1e9, rel=0.01)


def test_unfold_too_large_raises_memory_error():
    x = np.broadcast_to(np.float64(1), (100000, 16, 1000, 1000))
    with pytest.raises(MemoryError, match="GB"):
        convcore.im2col(x, 3, padding=1)
    cols = np.broadcast_to(np.float64(1), (100000, 16 * 9, 4))
    with pytest.raises(MemoryError, match="GB"):
        convcore.col2im(cols, (200000, 200000), 3, stride=100000)


# ---- one budget per call: the parts together, not each on its own

GiB = 1 << 30


@pytest.fixture
def available(monkeypatch):
    """Pretend the machine has ``avail[0]`` bytes available."""
    from convcore import _checks

    avail = [None]
    monkeypatch.setattr(_checks, "available_memory", lambda: avail[0])
    return avail


def _budget_cases():
    """name -> (call, its parts in bytes): calls whose every part fits alone in 80% of
    3 GiB but not all together.  Inputs are broadcast views (no memory) that need a copy."""
    f4 = np.float32
    x = np.broadcast_to(f4(1), (2, 64, 2048, 2048))          # 2 GiB when copied
    x_nhwc = np.broadcast_to(f4(1), (2, 2048, 2048, 64))
    w1 = np.ones((64, 64, 1, 1), f4)
    v = np.broadcast_to(f4(1), (1, 16, 64, 512, 512))          # 1 GiB when copied
    w3 = np.ones((16, 16, 3, 3, 3), f4)
    return {
        "conv2d-copy-and-output": (lambda: convcore.conv2d(x, w1), 2 * 2 * GiB),
        "conv2d-nhwc-1x1": (lambda: convcore.conv2d(x_nhwc, w1, layout="NHWC"), 2 * 2 * GiB),
        "avg_pool2d": (lambda: convcore.avg_pool2d(x, 1), 2 * 2 * GiB),
        "adaptive_max_pool2d": (lambda: convcore.adaptive_max_pool2d(x, 2048), 2 * 2 * GiB),
        "avg_pool2d-backward": (lambda: convcore.avg_pool2d_backward(x, x, 1), 2 * 2 * GiB),
        "im2col": (lambda: convcore.im2col(x, 1), 2 * 2 * GiB),
        "conv2d_backward": (lambda: convcore.conv2d_backward(x, x, w1, needs="input",
                                                             algorithm="im2col"),
                            3 * 2 * GiB),
        # the input's copy, the output and the copy padded in depth: 1 GiB each
        "conv3d-winograd": (lambda: convcore.conv3d(v, w3, padding=1, algorithm="winograd"),
                            3 * GiB),
    }


@pytest.mark.parametrize("name", sorted(_budget_cases()))
def test_parts_that_fit_alone_but_not_together_are_refused(name, available):
    call, total = _budget_cases()[name]
    available[0] = 3 * GiB  # 80%: 2.4 GiB, more than any single 2 GiB part
    with pytest.raises(MemoryError) as info:
        call()
    message = str(info.value)
    assert " + " in message, message  # names the parts
    needed = float(re.search(r"needs ([\d.]+) GB", message)[1])
    assert needed >= 0.99 * total / 1e9, message


def test_a_call_that_fits_is_not_refused(available):
    available[0] = 64 * GiB
    x = np.broadcast_to(np.float32(1), (1, 64, 2048, 2048))  # 1 GiB copy + 1 GiB output
    y = convcore.conv2d(x, np.ones((64, 64, 1, 1), np.float32))
    assert y.shape == (1, 64, 2048, 2048) and y[0, 0, 0, 0] == 64


def test_dense_matrix_is_refused_with_its_own_size():
    """(3, 1024, 1024) with 64 3x3 filters: the dense matrix is 64*1022**2 x 3*1024**2
    float32 entries, 841 TB: the message gives the size asked for, not the CSR bound."""
    w = np.ones((64, 3, 3, 3), np.float32)
    with pytest.raises(MemoryError) as info:
        convcore.conv_matrix((3, 1024, 1024), w, format="dense")
    message = str(info.value)
    rows, cols = 64 * 1022 * 1022, 3 * 1024 * 1024
    assert f"({rows}, {cols})" in message, message
    assert f"{rows * cols:,} float32" in message, message
    assert f"{rows * cols * 4 / 1e12:,.1f} TB" in message, message
    assert "CSR" not in message
