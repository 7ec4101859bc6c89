"""conv3d_backward on every route against the slow NumPy reference (output by output,
tap by tap) and PyTorch autograd: random geometries, every padding form, groups,
non-contiguous inputs, NaN and inf, the gradients asked for."""

import numpy as np
import pytest
from conftest import (
    ALGORITHMS,
    FLOAT_DTYPES,
    assert_close,
    random_array,
    results_per_thread_count,
)
from conv_backward_reference import conv3d_backward_ref
from reference import conv3d_ref, same_pad_ref

import convcore


def random_case(rng):
    """(x shape, w shape, kwargs, resolved pads) of a random conv3d call."""
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, kg = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    kernel = tuple(int(v) for v in rng.integers(1, 4, 3))
    stride = tuple(int(v) for v in rng.choice([1, 1, 2, 3], 3))
    dilation = tuple(int(v) for v in rng.choice([1, 1, 2], 3))
    sizes = tuple(d * (k - 1) + 1 + int(rng.integers(0, 4))
                  for k, d in zip(kernel, dilation, strict=True))
    form = int(rng.integers(4))
    if form == 0:
        padding = "same"
        pads = tuple(same_pad_ref(n, k, s, d)
                     for n, k, s, d in zip(sizes, kernel, stride, dilation, strict=True))
    elif form == 1:
        padding = int(rng.integers(0, 3))
        pads = ((padding, padding),) * 3
    else:
        pads = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (3, 2)))
        padding = pads
    x_shape = (int(rng.integers(1, 3)), cg * groups, *sizes)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x_shape, (kg * groups, cg, *kernel), kw, pads


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(12))
def test_matches_reference(seed, dtype, algorithm):
    rng = np.random.default_rng(8100 + seed)
    xs, ws, kw, pads = random_case(rng)
    layout = ["C", "F", "strided", "reversed"][seed % 4]
    x, w = random_array(rng, xs, dtype, layout), random_array(rng, ws, dtype)
    y_shape = conv3d_ref(x, w, None, kw["stride"], pads, kw["dilation"], kw["groups"]).shape
    go = random_array(rng, y_shape, dtype, "strided" if seed % 3 == 0 else "C")
    x0, w0, go0 = x.copy(), w.copy(), go.copy()
    gi, gw, gb = convcore.conv3d_backward(go, x, w, **kw, algorithm=algorithm)
    ri, rw, rb = conv3d_backward_ref(go, x, w, kw["stride"], pads, kw["dilation"], kw["groups"])
    assert gi.dtype == gw.dtype == gb.dtype == dtype
    msg = f"{algorithm} {xs} {ws} {kw}"
    assert_close(gi, ri, dtype, terms=int(np.prod(ws[2:])) * ws[0], err_msg=msg)
    assert_close(gw, rw, dtype, terms=int(np.prod(y_shape[2:])) * xs[0], err_msg=msg)
    assert_close(gb, rb, dtype, terms=int(np.prod(y_shape[2:])) * xs[0], err_msg=msg)
    for a, a0 in ((x, x0), (w, w0), (go, go0)):
        np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unbatched_and_needs(algorithm, rng):
    x = random_array(rng, (3, 4, 5, 6), np.float64)
    w = random_array(rng, (2, 3, 2, 2, 3), np.float64)
    go = random_array(rng, (2, 3, 4, 4), np.float64)
    gi, gw, gb = convcore.conv3d_backward(go, x, w, algorithm=algorithm)
    bi, bw, bb = convcore.conv3d_backward(go[None], x[None], w, algorithm=algorithm)
    assert gi.shape == x.shape and gw.shape == w.shape and gb.shape == (2,)
    np.testing.assert_allclose(gi, bi[0], rtol=1e-12)
    np.testing.assert_allclose(gw, bw, rtol=1e-12)
    only = convcore.conv3d_backward(go, x, w, needs="weight", algorithm=algorithm)
    assert only[0] is None and only[2] is None
    np.testing.assert_allclose(only[1], gw, rtol=1e-12)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_nan_and_inf_match_reference(algorithm, rng):
    x = random_array(rng, (1, 2, 4, 5, 6), np.float64)
    w = random_array(rng, (3, 2, 2, 3, 2), np.float64)
    x[0, 1, 2, 2, 2] = np.nan
    go = random_array(rng, (1, 3, 4, 4, 6), np.float64)
    go[0, 0, 1, 1, 1] = np.inf
    kw = dict(stride=1, padding=((1, 0), (1, 0), (0, 1)), dilation=1, groups=1)
    gi, gw, gb = convcore.conv3d_backward(go, x, w, **kw, algorithm=algorithm)
    ri, rw, rb = conv3d_backward_ref(go, x, w, (1, 1, 1), kw["padding"], (1, 1, 1))
    for got, ref in ((gi, ri), (gw, rw), (gb, rb)):
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        assert_close(got, ref, np.float64, terms=100)


def test_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for seed in range(10):
        xs, ws, kw, pads = random_case(np.random.default_rng(8300 + seed))
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        b = rng.standard_normal(ws[0])
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        flat = tuple(v for p in reversed(pads) for v in p)
        y = F.conv3d(F.pad(xt, flat), wt, bt, kw["stride"], 0, kw["dilation"], kw["groups"])
        go = rng.standard_normal(tuple(y.shape))
        y.backward(torch.from_numpy(go))
        for algorithm in ALGORITHMS:
            got = convcore.conv3d_backward(go, x, w, **kw, algorithm=algorithm)
            for g, t in zip(got, (xt.grad, wt.grad, bt.grad), strict=True):
                np.testing.assert_allclose(g, t.numpy(), rtol=1e-10, atol=1e-10,
                                           err_msg=f"{algorithm} {xs} {ws} {kw}")


def test_same_bits_for_any_thread_count(rng):
    x = random_array(rng, (2, 6, 5, 7, 9), np.float32)
    w = random_array(rng, (8, 6, 3, 3, 3), np.float32)
    go = random_array(rng, (2, 8, 5, 4, 5), np.float32)
    results = results_per_thread_count(lambda: convcore.conv3d_backward(
        go, x, w, stride=(1, 2, 2), padding=1, algorithm="im2col"))
    for r in results[1:]:
        for a, b in zip(r, results[0], strict=True):
            assert np.array_equal(a, b)
