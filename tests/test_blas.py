"""The BLAS under the GEMM kernels: CONVCORE_BLAS chooses NumPy's or SciPy's OpenBLAS
(ILP64 or LP64), every GEMM route agrees with the reference through either, the results
do not depend on the thread count, and a bad choice is a clear error."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from convcore import _blas

# Runs in a child (the choice is made once per process): the im2col route (3x3, 1x1 and
# 3-D: on the ISA's GEMM tile, whatever the BLAS), Winograd and a weight gradient (its
# parts: on the BLAS when Winograd's), float32 and float64, on 1 and 2 threads (each
# layer large enough for a team of two), each against the float64 reference.
CHILD = textwrap.dedent("""
    import json, sys
    import convcore
    import numpy as np
    sys.path.insert(0, {tests!r})
    from reference import conv2d_ref, conv3d_ref
    from convcore import _blas

    rng = np.random.default_rng(5)
    out = {{"owner": _blas.kernel_blas().owner, "ilp64": _blas.kernel_blas().ilp64,
           "description": _blas.blas_description(), "errors": [], "thread_diffs": 0}}
    cases = [((2, 16, 24, 26), (20, 16, 3, 3), dict(padding=1), "im2col"),
             ((2, 64, 9, 10), (40, 64, 1, 1), dict(), "im2col"),
             ((2, 6, 12, 9), (8, 6, 3, 3), dict(padding=1), "winograd"),
             ((1, 3, 5, 6, 7), (4, 3, 2, 3, 3), dict(padding=1), "im2col")]
    for dtype in (np.float32, np.float64):
        for xs, ws, kw, algo in cases:
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            f, ref_f = ((convcore.conv3d, conv3d_ref) if len(xs) == 5 else
                        (convcore.conv2d, conv2d_ref))
            if len(xs) == 5:
                ref = ref_f(x.astype(np.float64), w.astype(np.float64), padding=1)
            else:
                p = kw.get("padding", 0)
                ref = ref_f(x.astype(np.float64), w.astype(np.float64),
                            padding=((p, p), (p, p)))
            got = []
            for threads in (1, 2):
                convcore.set_num_threads(threads)
                got.append(f(x, w, algorithm=algo, **kw))
            scale = float(np.abs(ref).max())
            out["errors"].append(float(np.abs(got[0] - ref).max()) / scale)
            out["thread_diffs"] += int(not np.array_equal(got[0], got[1]))
        x = rng.standard_normal((4, 16, 20, 20)).astype(dtype)
        w = rng.standard_normal((12, 16, 3, 3)).astype(dtype)
        go = rng.standard_normal((4, 12, 18, 18)).astype(dtype)
        grads = []
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            grads.append(convcore.conv2d_backward(go, x, w)[1])
        # dL/dw[k, c, r, s] = sum over n, i, j of go[n, k, i, j] x[n, c, i + r, j + s]
        ref = np.zeros(w.shape)
        for r in range(3):
            for s in range(3):
                ref[:, :, r, s] = np.einsum("nkij,ncij->kc", go.astype(np.float64),
                                            x[:, :, r:r + 18, s:s + 18].astype(np.float64))
        out["errors"].append(float(np.abs(grads[0] - ref).max() / np.abs(ref).max()))
        out["thread_diffs"] += int(not np.array_equal(grads[0], grads[1]))
    print(json.dumps(out))
""")


def _run(code: str, **env) -> subprocess.CompletedProcess:
    """``code`` in a child, with ``env`` over this environment (None drops a variable)."""
    base = {k: v for k, v in os.environ.items() if k != "CONVCORE_BLAS"}
    for k in env:
        base.pop(k, None)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**base, **env})


def _numpy_has_openblas() -> bool:
    """NumPy's BLAS is an OpenBLAS exporting sgemm and dgemm (CONVCORE_BLAS=numpy works)."""
    found = _blas._controllers_of("numpy")
    return bool(found) and _blas._open(found[0], "numpy") is not None


@pytest.mark.parametrize("choice", ["auto", "scipy", "numpy"])
def test_every_gemm_route_through_each_blas(choice):
    tests = os.path.dirname(os.path.abspath(__file__))
    r = _run(CHILD.format(tests=tests), CONVCORE_BLAS=choice)
    if choice == "numpy" and not _numpy_has_openblas():
        assert r.returncode != 0 and "CONVCORE_BLAS='numpy'" in r.stderr, r.stderr
        return
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if choice != "auto":
        assert out["owner"] == choice
        assert ("NumPy's" if choice == "numpy" else "SciPy's") in out["description"]
    if out["owner"] == "numpy":  # NumPy 2's OpenBLAS: the ILP64 adapter is the one tested
        found = _blas._open(_blas._controllers_of("numpy")[0], "numpy")
        assert out["ilp64"] == found.ilp64
    assert out["thread_diffs"] == 0
    assert len(out["errors"]) == 10
    # float32 cases first (5), then float64 (5)
    assert max(out["errors"][:5]) < 1e-4, out["errors"]
    assert max(out["errors"][5:]) < 1e-11, out["errors"]


def test_bad_choice_is_a_clear_error():
    r = _run("import numpy as np, convcore\n"
             "convcore.conv2d_backward(np.ones((1, 3, 3, 3)), np.ones((1, 2, 5, 5)), "
             "np.ones((3, 2, 3, 3)), needs=('weight',), algorithm='winograd')",
             CONVCORE_BLAS="mkl")
    assert r.returncode != 0
    assert "ValueError" in r.stderr and "CONVCORE_BLAS='mkl'" in r.stderr
    assert "'numpy'" in r.stderr and "'scipy'" in r.stderr


def test_auto_keeps_scipys_core_type_when_numpys_differs():
    """NumPy's OpenBLAS loaded before the core type was capped runs another core type than
    SciPy's: auto then takes SciPy's (the capped one), and NumPy's when they agree."""
    code = textwrap.dedent("""
        import os, json
        import numpy
        os.environ["OPENBLAS_CORETYPE"] = "Nehalem"  # set after NumPy's BLAS loaded
        import scipy.linalg
        from convcore import _blas
        archs = {o: getattr(_blas._controllers_of(o)[0], "architecture", None)
                 for o in ("numpy", "scipy")}
        print(json.dumps([archs, _blas.kernel_blas().owner]))
    """)
    r = _run(code, OPENBLAS_CORETYPE=None, CONVCORE_ISA=None)
    assert r.returncode == 0, r.stderr
    archs, owner = json.loads(r.stdout.strip().splitlines()[-1])
    assert archs["scipy"] == "Nehalem"
    if archs["numpy"] != "Nehalem":
        assert owner == "scipy"
    r = _run(code, OPENBLAS_CORETYPE="Nehalem", CONVCORE_ISA=None)  # both load with it
    assert r.returncode == 0, r.stderr
    archs, owner = json.loads(r.stdout.strip().splitlines()[-1])
    assert archs["numpy"] == archs["scipy"] == "Nehalem"
    assert owner == ("numpy" if _numpy_has_openblas() else "scipy")


def test_every_blas_runs_single_threaded_inside_a_gemm_call():
    """While a convcore GEMM runs, every loaded BLAS is at one thread (the FFT route's
    channel products are NumPy's), and the callers' counts come back after."""
    before = [c.num_threads for c in _blas._all_blas_controllers()]
    with _blas.single_threaded_blas():
        assert all(c.num_threads == 1 for c in _blas._all_blas_controllers())
    assert [c.num_threads for c in _blas._all_blas_controllers()] == before
