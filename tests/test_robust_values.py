"""Every public function on awkward but valid data: empty batches and zero output
channels give correctly shaped empty (or zero) results; inputs are never modified,
whatever their memory layout; NaN and inf propagate as IEEE arithmetic says, without
warnings (the references below are computed with warnings silenced)."""

import warnings

import numpy as np
import pytest
from conftest import assert_close
from conv_backward_reference import conv1d_backward_ref, conv2d_backward_ref
from pool_reference import (
    adaptive_avg_pool2d_ref,
    adaptive_max_pool2d_ref,
    avg_pool1d_ref,
    avg_pool2d_backward_ref,
    avg_pool2d_ref,
    max_pool1d_ref,
    max_pool2d_backward_ref,
    max_pool2d_ref,
)
from reference import col2im_ref, conv1d_ref, conv2d_ref, im2col_ref

import convcore
from convcore import _conv, _im2col, _matrix, _pool


def _quiet(ref):
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"):
            return ref(*args, **kwargs)
    return wrapped


(conv1d_backward_ref, conv2d_backward_ref, adaptive_avg_pool2d_ref, adaptive_max_pool2d_ref,
 avg_pool1d_ref, avg_pool2d_backward_ref, avg_pool2d_ref, max_pool1d_ref,
 max_pool2d_backward_ref, max_pool2d_ref, col2im_ref, conv1d_ref, conv2d_ref, im2col_ref) = map(
    _quiet, (conv1d_backward_ref, conv2d_backward_ref, adaptive_avg_pool2d_ref,
             adaptive_max_pool2d_ref, avg_pool1d_ref, avg_pool2d_backward_ref, avg_pool2d_ref,
             max_pool1d_ref, max_pool2d_backward_ref, max_pool2d_ref, col2im_ref, conv1d_ref,
             conv2d_ref, im2col_ref))

CONV_ALGORITHMS = ("direct", "im2col", "auto", "sparse")
GRAD_ALGORITHMS = ("direct", "im2col", "auto")


# ---------------------------------------------------------------- empty batches, K = 0


def _zeros(*shape, dtype=np.float64):
    return np.zeros(shape, dtype)


@pytest.mark.parametrize("algorithm", CONV_ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_empty_batch_and_zero_output_channels(algorithm, dtype):
    kw = dict(algorithm=algorithm, padding=1, stride=(1, 2))
    cases = [
        (_zeros(0, 4, 8, 8, dtype=dtype), _zeros(6, 4, 3, 3, dtype=dtype), None, (0, 6, 8, 4)),
        (_zeros(2, 4, 8, 8, dtype=dtype), _zeros(0, 4, 3, 3, dtype=dtype), None, (2, 0, 8, 4)),
        (_zeros(0, 4, 8, 8, dtype=dtype), _zeros(0, 2, 3, 3, dtype=dtype), _zeros(0, dtype=dtype),
         (0, 0, 8, 4)),
        (_zeros(4, 8, 8, dtype=dtype), _zeros(0, 4, 3, 3, dtype=dtype), None, (0, 8, 4)),
    ]
    for x, w, b, shape in cases:
        groups = x.shape[-3] // w.shape[1]
        y = convcore.conv2d(x, w, b, groups=groups, **kw)
        assert y.shape == shape and y.dtype == dtype
        out = np.empty(shape, dtype)
        assert convcore.conv2d(x, w, b, groups=groups, out=out, **kw) is out
    for x, w, shape in [(_zeros(0, 3, 9), _zeros(5, 3, 2), (0, 5, 5)),
                        (_zeros(2, 3, 9), _zeros(0, 3, 2), (2, 0, 5)),
                        (_zeros(3, 9), _zeros(0, 3, 2), (0, 5))]:
        y = convcore.conv1d(x.astype(dtype), w.astype(dtype), algorithm=algorithm, stride=2,
                            padding=1)
        assert y.shape == shape and y.dtype == dtype


@pytest.mark.parametrize("algorithm", GRAD_ALGORITHMS)
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("n, k", [(0, 6), (2, 0), (0, 0)])
def test_conv_backward_empty_batch_and_zero_output_channels(algorithm, groups, n, k):
    """Zero output channels used to fail on the direct route ('x has 0 channels')."""
    x, w = np.ones((n, 4, 8, 9)), np.ones((k, 4 // groups, 3, 3))
    go = np.ones((n, k, 4, 5))
    gx, gw, gb = convcore.conv2d_backward(go, x, w, stride=2, padding=1, groups=groups,
                                          algorithm=algorithm)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (k,)
    for g in (gx, gw, gb):
        assert g.dtype == np.float64 and not g.any()
    gx, gw, gb = convcore.conv1d_backward(go[:, :, 0], x[:, :, 0], w[:, :, 0], stride=2,
                                          padding=1, groups=groups, algorithm=algorithm)
    assert gx.shape == x[:, :, 0].shape and gw.shape == w[:, :, 0].shape and gb.shape == (k,)
    assert not gx.any() and not gw.any()
    if n:  # unbatched, no output channel
        gx, gw, gb = convcore.conv2d_backward(go[0], x[0], w, stride=2, padding=1,
                                              groups=groups, algorithm=algorithm,
                                              needs=("input",))
        assert gx.shape == x[0].shape and not gx.any() and gw is None and gb is None


def test_unfold_fold_pool_matrix_empty():
    x0 = np.zeros((0, 4, 8, 8), np.float32)
    assert convcore.im2col(x0, 3, padding=1).shape == (0, 36, 64)
    assert convcore.col2im(np.zeros((0, 36, 64)), 8, 3, padding=1).shape == (0, 4, 8, 8)
    for x in (x0, np.zeros((2, 0, 8, 8), np.float32), np.zeros((0, 8, 8), np.float32)):
        lead = x.shape[:-2]
        y, idx = convcore.max_pool2d(x, 3, 2, 1, return_indices=True)
        assert y.shape == idx.shape == (*lead, 4, 4) and y.dtype == np.float32
        assert idx.dtype == np.int64
        assert convcore.avg_pool2d(x, 2).shape == (*lead, 4, 4)
        g = np.zeros((*lead, 4, 4), np.float32)
        for gx in (convcore.max_pool2d_backward(g, x, 3, 2, 1),
                   convcore.max_pool2d_backward(g, x, 3, 2, 1, indices=idx),
                   convcore.avg_pool2d_backward(g, x, 3, 2, 1)):
            assert gx.shape == x.shape and gx.dtype == np.float32
        assert convcore.adaptive_avg_pool2d(x, (3, None)).shape == (*lead, 3, 8)
        y, idx = convcore.adaptive_max_pool2d(x, 5, return_indices=True)
        assert y.shape == idx.shape == (*lead, 5, 5)
        assert convcore.global_avg_pool2d(x).shape == (*lead, 1, 1)
        assert convcore.global_max_pool2d(x).shape == (*lead, 1, 1)
    x1 = np.zeros((0, 3, 10))
    assert convcore.max_pool1d(x1, 2).shape == (0, 3, 5)
    assert convcore.avg_pool1d(x1, 3, 1, 1).shape == (0, 3, 10)
    assert convcore.max_pool1d_backward(np.zeros((0, 3, 5)), x1, 2).shape == x1.shape
    assert convcore.avg_pool1d_backward(np.zeros((0, 3, 5)), x1, 2).shape == x1.shape
    for fmt in ("csr", "dense"):
        m = convcore.conv_matrix((4, 8, 8), np.zeros((0, 4, 3, 3)), format=fmt)
        assert m.shape == (0, 256)
    assert convcore.relu(np.zeros((0, 3))).shape == (0, 3)


# ---------------------------------------------------------------- inputs never modified

LAYOUTS = ("C", "F", "strided", "reversed", "readonly", "unaligned", "byteswapped")


def in_layout(a, layout, rng):
    """(view equal to ``a`` in ``layout``, the array owning its memory)."""
    if layout == "unaligned":  # C-contiguous, but one byte off the dtype's alignment
        owner = np.zeros(a.nbytes + 1, np.uint8)
        view = owner[1:].view(a.dtype).reshape(a.shape)
        view[...] = a
        assert not view.flags.aligned or a.size == 0
        return view, owner
    if layout == "byteswapped":  # non-native byte order
        v = a.astype(a.dtype.newbyteorder())
        return v, v
    if layout == "F":
        v = np.asfortranarray(a)
        return v, v
    if layout == "strided":  # every other element of a buffer full of sentinels
        big = rng.uniform(-9, 9, tuple(2 * n for n in a.shape)).astype(a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view, big
    if layout == "reversed":
        flip = tuple(slice(None, None, -1) for _ in a.shape)
        owner = np.ascontiguousarray(a[flip])
        return owner[flip], owner
    v = a.copy()
    if layout == "readonly":
        v.flags.writeable = False
    return v, v


def _calls(rng, dtype):
    """name -> (function of the named arrays, the arrays)."""
    r = lambda *s: rng.uniform(-1, 1, s).astype(dtype)  # noqa: E731
    x, w, b = r(2, 4, 9, 10), r(6, 2, 3, 2), r(6)
    x1, w1 = r(2, 4, 12), r(6, 2, 3)
    xp, xp1 = r(2, 3, 9, 10), r(2, 3, 11)
    idx = convcore.max_pool2d(xp, 3, 2, 1, return_indices=True)[1]
    calls = {}
    for a in CONV_ALGORITHMS:
        calls[f"conv2d-{a}"] = (lambda x, w, b, a=a: convcore.conv2d(
            x, w, b, stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2), groups=2,
            algorithm=a), dict(x=x, w=w, b=b))
        calls[f"conv1d-{a}"] = (lambda x, w, b, a=a: convcore.conv1d(
            x, w, b, stride=2, padding="same", groups=2, algorithm=a), dict(x=x1, w=w1, b=b))
    for a in GRAD_ALGORITHMS:
        calls[f"conv2d_backward-{a}"] = (lambda g, x, w, a=a: convcore.conv2d_backward(
            g, x, w, stride=2, padding=1, groups=2, algorithm=a),
            dict(g=r(2, 6, 5, 6), x=x, w=w))
        calls[f"conv1d_backward-{a}"] = (lambda g, x, w, a=a: convcore.conv1d_backward(
            g, x, w, padding=(2, 0), groups=2, algorithm=a), dict(g=r(2, 6, 12), x=x1, w=w1))
    calls["conv2d-nhwc-1x1"] = (lambda x, w, b: convcore.conv2d(x, w, b, layout="NHWC"),
                                dict(x=r(2, 5, 6, 4), w=r(3, 4, 1, 1), b=r(3)))
    calls["conv2d-nhwc"] = (lambda x, w: convcore.conv2d(x, w, padding=1, layout="NHWC"),
                            dict(x=r(2, 5, 6, 4), w=r(3, 4, 3, 3)))
    calls["max_pool2d-nhwc"] = (lambda x: convcore.max_pool2d(
        x, 3, 2, 1, return_indices=True, layout="NHWC"), dict(x=r(2, 9, 10, 5)))
    calls["avg_pool2d-nhwc"] = (lambda x: convcore.avg_pool2d(x, 3, 2, 1, layout="NHWC"),
                                dict(x=r(2, 9, 10, 5)))
    calls["im2col"] = (lambda x: convcore.im2col(x, (3, 2), stride=2, padding=1,
                                                 dilation=(1, 2)), dict(x=x))
    calls["col2im"] = (lambda c: convcore.col2im(c, (9, 10), (3, 2), stride=2, padding=1,
                                                 dilation=(1, 2)),
                       dict(c=r(2, 24, 25)))
    calls["max_pool2d"] = (lambda x: convcore.max_pool2d(x, 3, 2, 1, return_indices=True),
                           dict(x=xp))
    calls["avg_pool2d"] = (lambda x: convcore.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
                           dict(x=xp))
    calls["max_pool1d"] = (lambda x: convcore.max_pool1d(x, 3, 2, 1, dilation=2), dict(x=xp1))
    calls["avg_pool1d"] = (lambda x: convcore.avg_pool1d(x, 4, 3, 2, count_include_pad=False),
                           dict(x=xp1))
    calls["max_pool2d_backward"] = (lambda g, x, i: convcore.max_pool2d_backward(
        g, x, 3, 2, 1, indices=i), dict(g=r(2, 3, 5, 5), x=xp, i=idx))
    calls["max_pool2d_backward-argmax"] = (lambda g, x: convcore.max_pool2d_backward(
        g, x, 3, 2, 1), dict(g=r(2, 3, 5, 5), x=xp))
    calls["avg_pool2d_backward"] = (lambda g, x: convcore.avg_pool2d_backward(
        g, x, 3, 2, 1), dict(g=r(2, 3, 5, 5), x=xp))
    calls["max_pool1d_backward"] = (lambda g, x: convcore.max_pool1d_backward(
        g, x, 2), dict(g=r(2, 3, 5), x=xp1))
    calls["avg_pool1d_backward"] = (lambda g, x: convcore.avg_pool1d_backward(
        g, x, 2, 1), dict(g=r(2, 3, 10), x=xp1))
    calls["adaptive_avg_pool2d"] = (lambda x: convcore.adaptive_avg_pool2d(x, (4, 3)),
                                    dict(x=xp))
    calls["adaptive_max_pool2d"] = (lambda x: convcore.adaptive_max_pool2d(x, 4, True),
                                    dict(x=xp))
    calls["global_avg_pool2d"] = (convcore.global_avg_pool2d, dict(x=xp))
    calls["global_max_pool2d"] = (convcore.global_max_pool2d, dict(x=xp))
    calls["conv_matrix"] = (lambda w: convcore.conv_matrix((4, 9, 10), w, 2, 1, groups=2),
                            dict(w=w))
    calls["relu"] = (convcore.relu, dict(x=x))
    return calls


def _flat(result):
    if isinstance(result, tuple):
        return [a for r in result for a in _flat(r)]
    if result is None:
        return []
    if hasattr(result, "indptr"):
        return [result.data, result.indices, result.indptr]
    return [result]


CALL_NAMES = sorted(_calls(np.random.default_rng(0), np.float64))


@pytest.fixture
def bridge_arrays(monkeypatch):
    """Wrap every Cython bridge function: record each array it receives that is not
    C-contiguous, aligned and in native byte order (what the C kernels assume).  The
    tiled product (matmul) and the strided copy take views of any strides in whole
    elements, aligned and native.  No plan of
    a repeated call is kept meanwhile (DirectCall, which tests its own arrays:
    tests/test_repeated_calls.py), so every call reaches a wrapper."""
    bad = []
    monkeypatch.setattr(convcore.functional, "_remember", lambda *args: None)
    monkeypatch.setattr(convcore.functional, "_REPEATED", {})
    for module in (_conv, _im2col, _pool, _matrix):
        for attr in dir(module):
            fn = getattr(module, attr)
            if attr.startswith("_") or not callable(fn) or isinstance(fn, type):
                continue

            def wrapper(*args, _fn=fn, _name=attr, **kwargs):
                for a in (*args, *kwargs.values()):
                    if not isinstance(a, np.ndarray):
                        continue
                    layout_ok = a.flags.c_contiguous or (
                        _name in ("copy_into", "matmul")
                        and all(s % a.itemsize == 0 for s in a.strides))
                    if not (layout_ok and a.flags.aligned and a.dtype.isnative):
                        bad.append((_name, a.shape, a.dtype.str, a.flags.c_contiguous,
                                    a.flags.aligned))
                return _fn(*args, **kwargs)

            monkeypatch.setattr(module, attr, wrapper)
    return bad


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CALL_NAMES)
def test_inputs_never_modified_and_layout_does_not_change_the_result(name, dtype, layout, rng,
                                                                     bridge_arrays):
    """Also: whatever the layout, the kernels only ever see C-contiguous, aligned,
    native-order arrays (an unaligned float* is undefined behaviour in C, and a vector
    loop peeled for alignment would fault on it)."""
    fn, arrays = _calls(rng, dtype)[name]
    expected = _flat(fn(**arrays))  # C-contiguous inputs
    views, owners = {}, {}
    for k, a in arrays.items():
        views[k], owners[k] = in_layout(a, layout, rng)
    before = {k: o.tobytes() for k, o in owners.items()}
    got = _flat(fn(**views))
    for k, o in owners.items():
        assert o.tobytes() == before[k], f"{name} wrote into {k} ({layout})"
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)  # same values, bit for bit
    assert not bridge_arrays, bridge_arrays[:3]


@pytest.mark.parametrize("fn", ["conv2d", "conv1d"])
def test_unaligned_out_is_refused(fn):
    x, w = (np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))) if fn == "conv2d" else (
        np.ones((1, 2, 5)), np.ones((3, 2, 3)))
    shape = getattr(convcore, fn)(x, w).shape
    out, _ = in_layout(np.zeros(shape), "unaligned", None)
    with pytest.raises(ValueError, match="out must be aligned"):
        getattr(convcore, fn)(x, w, out=out)
    assert not out.any()


def test_unaligned_indices_and_bias(bridge_arrays):
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8))
    y, idx = convcore.max_pool2d(x, 2, return_indices=True)
    ui, _ = in_layout(idx, "unaligned", None)
    np.testing.assert_array_equal(convcore.max_pool2d_backward(np.ones_like(y), x, 2,
                                                               indices=ui),
                                  convcore.max_pool2d_backward(np.ones_like(y), x, 2))
    b, _ = in_layout(np.arange(4.0), "unaligned", None)
    w = np.ones((4, 3, 3, 3))
    np.testing.assert_array_equal(convcore.conv2d(x, w, b), convcore.conv2d(x, w, b.copy()))
    assert not bridge_arrays, bridge_arrays[:3]


def test_inputs_shared_between_arguments_are_not_modified(rng):
    """The same array as x and grad_output, or as weight and x: read, never written."""
    a = rng.standard_normal((2, 3, 6, 6))
    keep = a.copy()
    convcore.max_pool2d_backward(a, a, 1)
    convcore.avg_pool2d_backward(a, a, 1)
    convcore.conv2d(a, a[:, :, :3, :3])
    convcore.conv2d_backward(a[:, :2, :4, :4], a, a[:2, :, :3, :3])
    np.testing.assert_array_equal(a, keep)


# ---------------------------------------------------------------- NaN and inf


def _specials(rng, shape, dtype, fraction=0.08):
    """Random values with NaN, +inf and -inf sprinkled in."""
    a = rng.uniform(-1, 1, shape)
    flat = a.reshape(-1)
    picks = rng.choice(flat.size, max(3, int(fraction * flat.size)), replace=False)
    flat[picks] = rng.choice([np.nan, np.inf, -np.inf], picks.size)
    return a.astype(dtype)


nan_tests = pytest.mark.filterwarnings("error")


@nan_tests
@pytest.mark.parametrize("algorithm", ["direct", "im2col", "auto"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_conv_nan_inf_propagate(algorithm, dtype, seed):
    rng = np.random.default_rng(seed)
    x = _specials(rng, (2, 4, 9, 11), dtype, 0.02)
    w = rng.uniform(-1, 1, (6, 2, 3, 3)).astype(dtype)
    w[rng.integers(6), rng.integers(2), 0, 0] = np.inf if seed % 2 else np.nan
    w[rng.integers(6), :, 1, 1] = 0.0  # 0 * inf = nan, 0 * nan = nan
    kw = dict(stride=(1, 2), padding=((2, 1), (1, 2)), groups=2)
    y = convcore.conv2d(x, w, **kw, algorithm=algorithm)
    ref = conv2d_ref(x, w, None, (1, 2), ((2, 1), (1, 2)), 1, 2)
    assert np.isnan(ref).any() and np.isinf(ref).any()
    assert_close(y, ref, dtype, terms=18)
    y1 = convcore.conv1d(x[:, :, 0], w[:, :, 0], padding=(3, 0), groups=2, algorithm=algorithm)
    assert_close(y1, conv1d_ref(x[:, :, 0], w[:, :, 0], None, 1, (3, 0), 1, 2), dtype, terms=6)


@nan_tests
@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
def test_infinite_weight_over_padding_gives_nan(algorithm):
    """Padding is a real zero input: an infinite weight that lands on it gives 0 * inf."""
    x = np.ones((1, 1, 4, 4))
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0] = np.inf
    y = convcore.conv2d(x, w, padding=1, algorithm=algorithm)[0, 0]
    assert np.isnan(y[0]).all() and np.isnan(y[:, 0]).all()
    assert np.isposinf(y[1:, 1:]).all()


@nan_tests
def test_sparse_algorithm_stores_no_padding():
    """algorithm='sparse' multiplies only the entries of the matrix, which holds no
    padding: NaN and inf in x propagate as in the kernels, but an infinite weight over
    padding does not turn into NaN (documented in docs/robustness.md)."""
    rng = np.random.default_rng(5)
    x = _specials(rng, (2, 3, 7, 8), np.float64, 0.03)
    w = rng.uniform(-1, 1, (4, 3, 3, 3))
    w[:, :, 1, 1] = 0.0
    y = convcore.conv2d(x, w, padding=1, algorithm="sparse")
    assert_close(y, conv2d_ref(x, w, None, 1, 1), np.float64, terms=27)
    w[0, 0, 0, 0] = np.inf
    y = convcore.conv2d(np.ones((1, 3, 4, 4)), w, padding=1, algorithm="sparse")
    assert np.isinf(y[0, 0, 1:, 1:]).all() and not np.isnan(y[0, 0, 0]).any()


@nan_tests
@pytest.mark.parametrize("algorithm", GRAD_ALGORITHMS)
@pytest.mark.parametrize("where", ["grad_output", "x", "weight"])
@pytest.mark.parametrize("seed", range(3))
def test_conv_backward_nan_inf_propagate(algorithm, where, seed):
    rng = np.random.default_rng(100 + seed)
    shapes = dict(grad_output=(2, 4, 5, 5), x=(2, 4, 9, 10), weight=(4, 2, 3, 3))
    arrays = {k: rng.uniform(-1, 1, s) for k, s in shapes.items()}
    arrays[where] = _specials(rng, shapes[where], np.float64, 0.05)
    kw = dict(stride=2, padding=1, groups=2)
    got = convcore.conv2d_backward(arrays["grad_output"], arrays["x"], arrays["weight"], **kw,
                                   algorithm=algorithm)
    ref = conv2d_backward_ref(arrays["grad_output"], arrays["x"], arrays["weight"], 2,
                              ((1, 1), (1, 1)), 1, 2)
    assert any(np.isnan(r).any() or np.isinf(r).any() for r in ref)
    for g, r, name in zip(got, ref, ("grad_input", "grad_weight", "grad_bias"), strict=True):
        assert_close(g, r, np.float64, terms=50, err_msg=name)
    g1 = convcore.conv1d_backward(arrays["grad_output"][:, :, 0], arrays["x"][:, :, 0],
                                  arrays["weight"][:, :, 0], **kw, algorithm=algorithm)
    r1 = conv1d_backward_ref(arrays["grad_output"][:, :, 0], arrays["x"][:, :, 0],
                             arrays["weight"][:, :, 0], 2, (1, 1), 1, 2)
    for g, r in zip(g1, r1, strict=True):
        assert_close(g, r, np.float64, terms=20)


@nan_tests
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_unfold_fold_nan_inf(dtype, seed):
    rng = np.random.default_rng(200 + seed)
    x = _specials(rng, (2, 3, 7, 9), dtype)
    cols = convcore.im2col(x, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1))
    np.testing.assert_array_equal(cols, im2col_ref(x, (2, 3), (1, 2), (2, 1), 1))
    c = _specials(rng, cols.shape, dtype)
    back = convcore.col2im(c, (7, 9), (2, 3), stride=(1, 2), padding=1, dilation=(2, 1))
    assert_close(back, col2im_ref(c, (7, 9), (2, 3), (1, 2), (2, 1), 1), dtype, terms=6)


@nan_tests
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_pooling_nan_inf(dtype, seed):
    rng = np.random.default_rng(300 + seed)
    x = _specials(rng, (2, 3, 9, 11), dtype, 0.1)
    y, idx = convcore.max_pool2d(x, 3, 2, 1, return_indices=True)
    ry, ridx = max_pool2d_ref(x, 3, 2, 1)
    np.testing.assert_array_equal(y, ry.astype(dtype))
    np.testing.assert_array_equal(idx, ridx)
    assert_close(convcore.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
                 avg_pool2d_ref(x, 3, 2, 1, ceil_mode=True), dtype, terms=9)
    g = _specials(rng, y.shape, dtype)
    assert_close(convcore.max_pool2d_backward(g, x, 3, 2, 1),
                 max_pool2d_backward_ref(g, x, 3, 2, 1), dtype, terms=4)
    assert_close(convcore.avg_pool2d_backward(g, x, 3, 2, 1),
                 avg_pool2d_backward_ref(g, x, 3, 2, 1), dtype, terms=4)
    x1 = x[:, :, 0]
    np.testing.assert_array_equal(convcore.max_pool1d(x1, 3, 1, 1),
                                  max_pool1d_ref(x1, 3, 1, 1)[0].astype(dtype))
    assert_close(convcore.avg_pool1d(x1, 2), avg_pool1d_ref(x1, 2), dtype, terms=2)
    ay, aidx = convcore.adaptive_max_pool2d(x, (4, 5), return_indices=True)
    ry, ridx = adaptive_max_pool2d_ref(x, (4, 5))
    np.testing.assert_array_equal(ay, ry.astype(dtype))
    np.testing.assert_array_equal(aidx, ridx)
    assert_close(convcore.adaptive_avg_pool2d(x, (4, 5)), adaptive_avg_pool2d_ref(x, (4, 5)),
                 dtype, terms=12)
    assert_close(convcore.global_avg_pool2d(x), adaptive_avg_pool2d_ref(x, 1), dtype, terms=99)
    np.testing.assert_array_equal(np.isnan(convcore.global_max_pool2d(x)),
                                  np.isnan(x).any(axis=(2, 3), keepdims=True))


@nan_tests
def test_inf_minus_inf_in_a_window_is_nan():
    x = np.array([[[np.inf, -np.inf, 1.0, 2.0]]])
    assert np.isnan(convcore.avg_pool1d(x, 2)[0, 0, 0])
    assert convcore.avg_pool1d(x, 2)[0, 0, 1] == 1.5
    assert np.isnan(convcore.conv1d(x, np.ones((1, 1, 2)))[0, 0, 0])
    assert convcore.max_pool1d(x, 2)[0, 0, 0] == np.inf
    assert np.isnan(convcore.global_avg_pool2d(x[None])).all()


@nan_tests
def test_conv_matrix_and_relu_nan_inf():
    w = np.array([[[[1.0, np.nan], [np.inf, 0.0]]]])
    m = convcore.conv_matrix((1, 3, 3), w)
    x = np.arange(9.0).reshape(1, 3, 3)
    ref = conv2d_ref(x[None], w)[0].ravel()
    np.testing.assert_array_equal(m @ x.ravel(), ref)  # all NaN: every window holds the NaN
    assert np.isnan(m.data).sum() == 4 and np.isinf(m.data).sum() == 4
    r = convcore.relu(np.array([np.nan, -np.inf, np.inf, -1.0, 2.0], np.float32))
    np.testing.assert_array_equal(r, np.array([np.nan, 0, np.inf, 0, 2], np.float32))
    assert r.dtype == np.float32


# ---- NaN and inf: silent on the routes that used to warn (NumPy products and sums)

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_inf_raise_no_warning_on_the_nhwc_gemm_and_sparse_routes(dtype):
    x = np.ones((2, 5, 6, 8), dtype)
    x[0, 1, 2, 3], x[1, 2, 3, 4], x[1, 0, 0, 0] = np.nan, np.inf, -np.inf
    w = np.ones((4, 8, 1, 1), dtype)
    w[1, 0, 0, 0] = np.inf
    b = np.array([np.inf, -np.inf, 1.0, np.nan], dtype)
    with np.errstate(all="ignore"):  # the reference may warn; convcore must not
        ref = np.einsum("nhwc,kc->nhwk", x.astype(np.float64),
                        w[:, :, 0, 0].astype(np.float64)) + b
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails
        y = convcore.conv2d(x, w, b, layout="NHWC")  # the 1x1 GEMM route
        xs = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        ws = np.ones((4, 8, 3, 3), dtype)
        ws[0, 0, 1, 1] = np.inf
        ys = convcore.conv2d(xs, ws, b, padding=1, algorithm="sparse")
        yd = convcore.conv2d(xs, ws, b, padding=1, algorithm="im2col")
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(y[finite], ref[finite], rtol=1e-5)
    np.testing.assert_array_equal(y[~finite & ~np.isnan(ref)], ref[~finite & ~np.isnan(ref)])
    # the sparse route never multiplies padding, the GEMM route does: they agree wherever
    # the inf weight's window stays inside the image
    inside = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    np.testing.assert_array_equal(np.isnan(ys[inside]), np.isnan(yd[inside]))
