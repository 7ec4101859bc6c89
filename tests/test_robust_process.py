"""convcore inside a process's life: fork, Ctrl-C and resource limits.

- a child made by fork() after multithreaded kernels in the parent runs kernels with any
  thread count (a 'fork' multiprocessing pool, with a timeout so that a hang fails);
- SIGINT during a long kernel raises KeyboardInterrupt promptly (the kernels work in
  chunks and check for signals between them), leaving no worker thread busy and no
  memory held;
- a thread count the system does not allow is refused with an exception, not by the
  OpenMP runtime killing the process.
Each case runs in a child process, so that a hang or a crash fails the test instead of
taking the test run down.
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import convcore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(convcore.__file__)))


def _child_conv(args):
    """Run in a forked worker: kernels of every family at the requested thread count."""
    n_threads, seed = args
    if n_threads is not None:
        convcore.set_num_threads(n_threads)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 16, 48, 48)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    return [convcore.conv2d(x, w, padding=1, algorithm=a).sum(dtype=np.float64)
            for a in ("direct", "im2col")] + [
        float(convcore.max_pool2d(x, 3, 1, 1).sum()),
        float(convcore.im2col(x, 3).sum()),
        float(convcore.conv2d_backward(convcore.conv2d(x, w, padding=1), x, w, padding=1,
                                       algorithm="im2col")[1].sum())]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_forked_pool_after_parallel_calls_works_at_any_thread_count():
    convcore.set_num_threads(None)
    expected = _child_conv((2, 0))  # parallel calls in the parent first (every family)
    _child_conv((None, 1))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        result = pool.map_async(_child_conv, [(None, 0), (1, 0), (2, 0), (3, 0)])
        results = result.get(timeout=120)  # a hung child fails here instead of blocking
    for r in results:
        assert r == expected  # same bits in the children, whatever their thread count


def test_raw_fork_child_exits(tmp_path):
    """The reproducer of the issue: os.fork() after a parallel call, then a parallel
    call in the child, which must exit (a child still running after 60 s fails)."""
    script = textwrap.dedent("""
        import os, signal, numpy as np, convcore
        x = np.ones((4, 16, 64, 64), np.float32); w = np.ones((16, 16, 3, 3), np.float32)
        convcore.set_num_threads(2)
        convcore.conv2d(x, w, padding=1)
        convcore.conv2d(x, w, padding=1, algorithm="im2col")
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)  # a hang ends the child with SIGALRM, failing the test
            convcore.conv2d(x, w, padding=1)
            convcore.conv2d(x, w, padding=1, algorithm="im2col")
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("child status", status)
        raise SystemExit(0 if status == 0 else 1)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------ Ctrl-C

# Each case is a call whose uninterrupted run takes far more than the bound below (the
# operation counts are given; the machines reach ~200 GFLOP/s and ~50 GB/s at most), so
# a SIGINT 0.5 s after it starts arrives mid-call; the child reports how long the
# KeyboardInterrupt took and whether it was the call that raised it.
INTERRUPT_CASES = {
    # 2 * 256 * 64 * 15 * 15 * 512 * 512 = 1.9e12 flops: > 9 s at 200 GFLOP/s
    "conv2d-im2col": """
        x = np.ones((1, 64, 512, 512), np.float32); w = np.ones((256, 64, 15, 15), np.float32)
        call = lambda: convcore.conv2d(x, w, padding=7, algorithm="im2col")""",
    # 2 * 2 * 8 * 256 * 256 * 9 * 128**2 = 3.1e11 flops per call, 8 calls; the arrays
    # stay small (134 MB) so that no single NumPy step between kernels is long
    "conv2d_backward-im2col": """
        x = np.ones((8, 256, 128, 128), np.float32); w = np.ones((256, 256, 3, 3), np.float32)
        go = np.ones((8, 256, 128, 128), np.float32)
        def call():
            for _ in range(8):
                convcore.conv2d_backward(go, x, w, padding=1, algorithm="im2col")""",
    # FFT blocks on convcore's threads (each takes a range of chunks): 2 * 8 * 2e6 samples
    # through transforms of 16384 and 8 * 8 products per frequency, about 0.4 s per call
    # here, 40 calls (a first short call imports scipy.fft, which takes a while)
    "conv1d-fft": """
        x = np.ones((2, 8, 2_000_000), np.float32); w = np.ones((8, 8, 1001), np.float32)
        convcore.conv1d(x[:, :, :100_000], w, algorithm="fft")  # imports scipy.fft first
        def call():
            for _ in range(40):
                convcore.conv1d(x, w, algorithm="fft")""",
    # 2 * 4 * 128 * 128 * 128**2 * 16 = 3.4e10 flops per call, 100 calls, each a Winograd
    # layer of the four phases (auto's choice here) or the phase kernels
    "conv_transpose2d": """
        x = np.ones((4, 128, 128, 128), np.float32); w = np.ones((128, 128, 4, 4), np.float32)
        # a first short call imports the cost model ('auto' asks it, and it scipy.fft)
        convcore.conv_transpose2d(x[:1, :, :8, :8], w, stride=2, padding=1)
        def call():
            for _ in range(100):
                convcore.conv_transpose2d(x, w, stride=2, padding=1)""",
    # 63 x 63 windows over 1024 planes of 256 x 256: 1024 * 194**2 * 3969 = 1.5e11 taps
    # with indices, every window tap is visited: 16 * 64 * 194**2 * 3969 = 1.5e11 taps
    "max_pool2d": """
        x = np.ones((16, 64, 256, 256), np.float32)
        call = lambda: convcore.max_pool2d(x, 63, 1, return_indices=True)""",
    # without indices the window is separable, its width pass one tap at a time across
    # the row: 16 * 64 * 61442 * 4095 = 2.6e11 comparisons
    "max_pool1d_separable": """
        x = np.ones((16, 64, 65536), np.float32)
        call = lambda: convcore.max_pool1d(x, 4095, 1)""",
    "avg_pool2d": """
        x = np.ones((16, 64, 256, 256), np.float32)
        call = lambda: convcore.avg_pool2d(x, 63, 1)""",
    # 4096 planes of 128 x 128, 63 x 63 windows: 4096 * 66**2 * 3969 = 7.1e10 taps
    "max_pool2d_backward": """
        x = np.ones((64, 64, 128, 128), np.float32); go = np.ones((64, 64, 66, 66), np.float32)
        call = lambda: convcore.max_pool2d_backward(go, x, 63, 1)""",
    # channels-last: 8 images of 512 x 512 x 64, 31 x 31 windows: 8 * 482**2 * 64 * 961
    "max_pool2d-nhwc": """
        x = np.ones((8, 512, 512, 64), np.float32)
        call = lambda: convcore.max_pool2d(x, 31, 1, layout="NHWC")""",
    # one Winograd call of 16 * 256**2 * 9 * 224**2 * 2 = 9.5e11 direct flops (seconds
    # here): its work items run in rounds with Ctrl-C checked between them
    "conv2d-winograd": """
        x = np.ones((16, 256, 224, 224), np.float32); w = np.ones((256, 256, 3, 3), np.float32)
        call = lambda: convcore.conv2d(x, w, padding=1, algorithm="winograd")""",
    # a column matrix of 4 * 32 * 25 * 252**2 floats (0.8 GB) per call, 60 calls in a row:
    # each call is its own interruptible kernel run
    "im2col": """
        x = np.ones((4, 32, 256, 256), np.float32)
        def call():
            for _ in range(60):
                convcore.im2col(x, 5)""",
    # 16 * 16 * 25 * 96**2 = 59 M entries (0.7 GB) per matrix, 60 matrices
    "conv_matrix": """
        w = np.ones((16, 16, 5, 5), np.float32)
        def call():
            for _ in range(60):
                convcore.conv_matrix((16, 96, 96), w, padding=2)""",
}

CHILD = """
import gc, os, signal, sys, threading, time, tracemalloc
import numpy as np, convcore
convcore.set_num_threads(2)
{setup}
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
print("ready", flush=True)
start = time.perf_counter()
try:
    call()
    print("finished", time.perf_counter() - start, flush=True)
    sys.exit(3)
except KeyboardInterrupt:
    got = time.perf_counter()
print("interrupted after", got - start, flush=True)
gc.collect()
# buffers kept between calls on purpose (Winograd's, the transposed phases') are let go
print("kept", convcore.release_buffers(), flush=True)
held = tracemalloc.get_traced_memory()[0] - base
print("held", held, flush=True)
print("python threads", threading.active_count(), flush=True)
time.sleep(0.3)  # OpenMP workers spin briefly, then sleep
busy = []
for tid in os.listdir("/proc/self/task"):
    if int(tid) == threading.get_native_id():
        continue
    with open(f"/proc/self/task/{{tid}}/stat") as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    if state == "R":
        busy.append(tid)
print("busy workers", len(busy), flush=True)
"""


@pytest.mark.parametrize("name", sorted(INTERRUPT_CASES))
def test_sigint_interrupts_a_long_call_promptly(name):
    setup = textwrap.dedent(INTERRUPT_CASES[name]).strip()
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(setup=setup)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(0.5)  # well inside the call
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        first = proc.stdout.readline()
        reaction = time.perf_counter() - sent
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = dict(line.rsplit(" ", 1) for line in (first + out).splitlines() if " " in line)
    assert "interrupted after" in lines, first + out + err
    # generous for a shared machine, and far below the call's length (> 10 s)
    assert reaction < 2.0, f"{reaction:.2f} s from SIGINT to KeyboardInterrupt"
    print(f"{name}: KeyboardInterrupt {reaction:.3f} s after SIGINT")
    assert int(lines["held"]) < 1 << 20, "memory still held after the interrupt"
    assert lines["python threads"] == "1"
    assert lines["busy workers"] == "0", "a worker thread still running after the interrupt"
    assert proc.returncode == 0, err


# ------------------------------------------------------------------ resource limits

LIMIT_CHILD = """
import resource, numpy as np, convcore
# an address-space limit the process fits in, but not 1024 thread stacks (the same
# pthread_create failure as RLIMIT_NPROC, which does not apply to root)
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
try:
    convcore.set_num_threads(1024)
    print("accepted")
except RuntimeError as e:
    print("refused:", e)
x = np.ones((64, 64, 64, 64), np.float32)   # 4096 planes: a team of every thread
convcore.max_pool2d(x, 2)
convcore.conv2d(x[:8], np.ones((8, 64, 3, 3), np.float32), algorithm="im2col")
print("alive with", convcore.get_num_threads(), "threads")
"""


def test_too_many_threads_under_a_limit_raise_instead_of_killing_the_process():
    proc = subprocess.run([sys.executable, "-c", LIMIT_CHILD], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "refused: cannot use 1024 threads" in proc.stdout
    assert "RLIMIT_NPROC" in proc.stdout
    assert "alive with" in proc.stdout
    assert "Thread creation failed" not in proc.stderr


def test_set_num_threads_refusal_leaves_the_count_unchanged(monkeypatch):
    from convcore import _config, _threads

    convcore.set_num_threads(2)
    monkeypatch.setattr(_threads, "_allowed", 2)
    monkeypatch.setattr(_config, "threads_probe", lambda n: 5)  # only 6 threads at once
    with pytest.raises(RuntimeError, match="cannot use 64 threads.*only 6"):
        convcore.set_num_threads(64)
    assert convcore.get_num_threads() == 2
    convcore.set_num_threads(6)
    assert convcore.get_num_threads() == 6
    convcore.set_num_threads(None)
