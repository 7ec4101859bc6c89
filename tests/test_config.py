"""Build facts, thread control and SIMD dispatch: show_config, set/get_num_threads,
OMP_NUM_THREADS, identical results for any thread count, every SIMD kernel level."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_close, random_array
from reference import conv2d_ref

import convcore
from convcore import _config, _conv
from convcore._isa import isa_levels

SIMD_LEVELS = isa_levels()


@pytest.fixture
def restore_threads():
    yield
    convcore.set_num_threads(None)


def test_config_info_keys():
    info = convcore.config_info()
    assert set(info) == {"version", "openmp", "threads", "simd_detected", "isa", "kernels",
                         "blas", "kept_buffer_bytes"}
    assert isinstance(info["kept_buffer_bytes"], int) and info["kept_buffer_bytes"] >= 0
    assert info["isa"] == convcore.get_isa()
    assert info["version"] == convcore.__version__
    assert isinstance(info["openmp"], bool)
    assert info["threads"] == convcore.get_num_threads() >= 1
    assert info["simd_detected"] in SIMD_LEVELS
    assert info["kernels"]["conv2d direct"] == _conv.simd_level()
    assert {"conv2d direct", "conv2d im2col", "im2col/col2im"} <= set(info["kernels"])
    assert info["kernels"]["GEMM products"].startswith(f"{_conv.simd_level()} GEMM tile")
    assert isinstance(info["blas"], str) and info["blas"]


def test_show_config(capsys, restore_threads):
    convcore.set_num_threads(3)
    convcore.show_config()
    out = capsys.readouterr().out
    info = convcore.config_info()
    assert out.startswith(f"convcore {convcore.__version__}\n")
    assert re.search(r"OpenMP:\s+" + ("yes" if info["openmp"] else "no"), out)
    assert re.search(rf"threads:\s+{convcore.get_num_threads()}\n", out)
    assert re.search(rf"CPU SIMD:\s+{info['simd_detected']}\n", out)
    for name, level in info["kernels"].items():
        assert re.search(rf"{re.escape(name)}:\s+{re.escape(level)}\n", out), name
    assert re.search(rf"BLAS.*:\s+{re.escape(info['blas'])}", out)


def test_set_get_num_threads(restore_threads):
    default = convcore.get_num_threads()
    assert default >= 1
    for n in (1, 3, np.int64(2)):
        convcore.set_num_threads(n)
        expected = int(n) if _config.openmp_enabled() else 1
        assert convcore.get_num_threads() == expected
        assert type(convcore.get_num_threads()) is int
    convcore.set_num_threads(None)
    assert convcore.get_num_threads() == default


@pytest.mark.parametrize("bad", [0, -1])
def test_set_num_threads_rejects_non_positive(bad, restore_threads):
    convcore.set_num_threads(2)
    with pytest.raises(ValueError, match=">= 1"):
        convcore.set_num_threads(bad)
    assert convcore.get_num_threads() == (2 if _config.openmp_enabled() else 1)


@pytest.mark.parametrize("bad", [1.5, "2", True, [2]])
def test_set_num_threads_rejects_non_int(bad, restore_threads):
    with pytest.raises(TypeError, match="int"):
        convcore.set_num_threads(bad)


def test_omp_num_threads_is_honoured():
    code = "import convcore; print(convcore.get_num_threads())"
    procs = {}
    for n in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": n}
        procs[n] = subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for n, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        expected = int(n) if _config.openmp_enabled() else 1
        assert int(out) == expected, f"OMP_NUM_THREADS={n}"


@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "xshape, wshape, kw",
    [
        ((4, 16, 30, 34), (24, 16, 3, 3), dict(padding=1)),
        ((1, 8, 40, 40), (32, 4, 3, 3), dict(stride=2, padding=(1, 2), groups=2)),
    ],
)
def test_result_independent_of_thread_count(rng, xshape, wshape, kw, dtype, algorithm,
                                            restore_threads):
    x = random_array(rng, xshape, dtype)
    w = random_array(rng, wshape, dtype)
    b = random_array(rng, wshape[:1], dtype)
    results = []
    for n in (1, 2, 1, 2):
        convcore.set_num_threads(n)
        results.append(convcore.conv2d(x, w, b, algorithm=algorithm, **kw))
    for r in results[1:]:
        assert np.array_equal(r, results[0])
    ref = conv2d_ref(x, w, b, groups=kw.get("groups", 1), stride=kw.get("stride", 1),
                     padding=kw["padding"])
    assert_close(results[0], ref, dtype, terms=int(np.prod(wshape[1:])))


@pytest.fixture(params=SIMD_LEVELS)
def simd_level(request):
    """Force the direct kernels to at most this level; restore the detected one after."""
    before = _conv.simd_level()
    request.addfinalizer(lambda: _conv.force_simd(before))
    _conv.force_simd(request.param)
    order = SIMD_LEVELS.index
    expected = min(request.param, _conv.simd_detected(), key=order)
    assert _conv.simd_level() == expected
    assert convcore.config_info()["kernels"]["conv2d direct"] == expected
    return expected


SIMD_CASES = [
    # x shape, w shape, conv2d keyword arguments
    ((2, 3, 9, 11), (5, 3, 3, 3), dict(padding=1)),
    ((1, 4, 13, 37), (9, 4, 3, 3), dict(stride=2, padding=1)),
    ((1, 2, 12, 70), (17, 2, 3, 3), dict(padding=((2, 0), (1, 2)))),
    ((1, 3, 10, 20), (4, 3, 2, 4), dict(stride=(1, 3), dilation=(2, 1), padding=2)),
    ((2, 6, 8, 40), (12, 2, 3, 3), dict(groups=3, stride=2, padding=(0, 1))),
    ((1, 4, 6, 30), (8, 4, 1, 1), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xshape, wshape, kw", SIMD_CASES)
def test_simd_levels_match_reference(simd_level, rng, xshape, wshape, kw, dtype):
    x = random_array(rng, xshape, dtype)
    w = random_array(rng, wshape, dtype)
    b = random_array(rng, wshape[:1], dtype)
    got = convcore.conv2d(x, w, b, algorithm="direct", **kw)
    ref = conv2d_ref(x, w, b, stride=kw.get("stride", 1), padding=kw.get("padding", 0),
                     dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
    assert_close(got, ref, dtype, terms=int(np.prod(wshape[1:])),
                 err_msg=f"simd {simd_level}")
