"""The pool of scratch buffers Winograd's weights and workspace and the transposed
convolution's merged phases come from."""

import os
import select
import signal
import sys
import threading

import numpy as np
import pytest
from conftest import assert_close
from reference import conv2d_ref

import convcore
from convcore import _scratch


@pytest.fixture(autouse=True)
def empty_pool():
    _scratch.clear()
    yield
    _scratch.clear()


@pytest.fixture
def poisoned_pool(monkeypatch):
    """Every buffer the pool hands out is full of NaN (all bits set)."""
    take = _scratch._take

    def poisoned(nbytes):
        buf = take(nbytes)
        buf[:] = 0xFF
        return buf

    monkeypatch.setattr(_scratch, "_take", poisoned)


def test_buffer_is_reused_and_sized():
    with _scratch.scratch(1000, np.float32) as a:
        assert a.shape == (1000,) and a.dtype == np.float32
        base = a.base
    assert _scratch.kept_bytes() >= 4000
    with _scratch.scratch(600, np.float64):  # 4800 bytes: more than the buffer holds
        pass
    with _scratch.scratch(900, np.float32) as c:  # 3600 bytes: the 4000-byte buffer
        assert c.base is base
    with _scratch.scratch(100, np.float32) as d:  # 400 bytes: not a buffer 10x as large
        assert d.base is not base


def test_buffer_given_back_on_error():
    with pytest.raises(RuntimeError), _scratch.scratch(256, np.float64):
        raise RuntimeError("in the call")
    assert _scratch.kept_bytes() == 2048


def test_buffer_larger_than_the_cap_is_not_kept(monkeypatch):
    monkeypatch.setattr(_scratch, "KEEP_BYTES", 10_000)
    with _scratch.scratch(6000, np.uint8):
        pass
    with _scratch.scratch(20_000, np.uint8):
        pass
    assert _scratch.kept_bytes() == 6000  # the small one stays


def test_kept_bytes_are_capped(monkeypatch):
    monkeypatch.setattr(_scratch, "KEEP_BYTES", 10_000)
    for n in (4000, 8000, 16000):  # bytes; distinct sizes, none reusable by the next
        with _scratch.scratch(n, np.uint8):
            pass
    assert _scratch.kept_bytes() == 8000  # 4000 went for 8000; 16000 alone is too much
    _scratch.clear()
    assert _scratch.kept_bytes() == 0
    with _scratch.scratch(3000, np.uint8), _scratch.scratch(5000, np.uint8):
        pass
    assert _scratch.kept_bytes() == 8000
    with _scratch.scratch(7000, np.uint8):  # a third buffer: the oldest kept (5000) goes
        pass
    assert _scratch.kept_bytes() == 10_000


def test_concurrent_calls_take_different_buffers():
    with _scratch.scratch(1 << 16, np.float32), _scratch.scratch(1 << 16, np.float32), \
            _scratch.scratch(1 << 16, np.float32), _scratch.scratch(1 << 16, np.float32):
        pass  # four reusable buffers of the size the threads ask for
    assert _scratch.kept_bytes() == 4 << 18
    seen, barrier = [], threading.Barrier(4)

    def worker():
        with _scratch.scratch(1 << 16, np.float32) as a:
            barrier.wait(timeout=60)
            seen.append(a.__array_interface__["data"][0])
            barrier.wait(timeout=60)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(set(seen)) == 4
    assert _scratch.kept_bytes() == 4 << 18  # all four back, no new one


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_winograd_does_not_rely_on_fresh_memory(isa, dtype, rng, poisoned_pool):
    """Stale values in a reused buffer must not reach the result: every buffer the pool
    hands out here is full of NaN (all bits set)."""
    x = rng.standard_normal((2, 20, 13, 11)).astype(dtype)
    w = rng.standard_normal((24, 20, 3, 3)).astype(dtype) / 13
    ref = conv2d_ref(x, w, None, padding=((1, 1), (1, 1)))
    for _ in range(2):
        got = convcore.conv2d(x, w, padding=1, algorithm="winograd")
        assert_close(got, ref, dtype, terms=20 * 9 * 8, err_msg=isa)
    x3 = rng.standard_normal((1, 4, 5, 9, 10)).astype(dtype)
    w3 = rng.standard_normal((6, 4, 2, 3, 3)).astype(dtype) / 8
    ref3 = convcore.conv3d(x3, w3, padding=1, algorithm="direct")
    got3 = convcore.conv3d(x3, w3, padding=1, algorithm="winograd")
    assert_close(got3, ref3, dtype, terms=4 * 18 * 8, err_msg=isa)


@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
def test_transposed_phases_do_not_rely_on_fresh_memory(algorithm, rng, poisoned_pool):
    """The merged phase result of a strided transposed convolution comes from the pool:
    NaN-filled buffers there change nothing (1-D, 2-D and 3-D, both dtypes)."""
    from transpose_reference import conv_transpose_ref

    for dtype in (np.float32, np.float64):
        for xs, ws in (((2, 5, 11), (5, 3, 4)), ((2, 6, 7, 9), (6, 4, 4, 3)),
                       ((1, 3, 4, 5, 6), (3, 2, 3, 4, 2))):
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            b = rng.standard_normal(ws[1]).astype(dtype)
            f = {3: convcore.conv_transpose1d, 4: convcore.conv_transpose2d,
                 5: convcore.conv_transpose3d}[len(xs)]
            ref = conv_transpose_ref(x, w, b, stride=2, padding=1)
            for _ in range(2):  # the second call reuses the first call's buffer
                got = f(x, w, b, stride=2, padding=1, algorithm=algorithm)
                assert_close(got, ref, dtype, terms=ws[0] * int(np.prod(ws[2:])))
    assert _scratch.kept_bytes() > 0


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_forked_child_starts_with_an_empty_pool():
    with _scratch.scratch(1 << 20, np.float32):
        pass
    assert _scratch.kept_bytes() > 0
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the pool, then a Winograd call
        code = 1
        try:
            kept = _scratch.kept_bytes()
            y = convcore.conv2d(np.ones((1, 16, 8, 8), np.float32),
                                np.ones((16, 16, 3, 3), np.float32), padding=1,
                                algorithm="winograd")
            os.write(wfd, f"{kept} {float(y[0, 0, 4, 4])}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    ready, _, _ = select.select([r], [], [], 120)
    if not ready:  # a hung child fails the test instead of hanging the suite
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child did not answer within 120 s")
    with os.fdopen(r) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    kept, value = out.split()
    assert int(kept) == 0
    assert float(value) == pytest.approx(16 * 9, rel=1e-5)


def test_release_buffers_frees_and_reports_them():
    convcore.conv2d(np.ones((1, 16, 8, 8), np.float32), np.ones((16, 16, 3, 3), np.float32),
                    algorithm="winograd")
    held = _scratch.kept_bytes()
    assert held > 0
    assert convcore.config_info()["kept_buffer_bytes"] == held
    assert convcore.release_buffers() == held
    assert _scratch.kept_bytes() == 0
    assert convcore.release_buffers() == 0
