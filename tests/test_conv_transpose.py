"""conv_transpose1d/2d/3d and their gradients against the slow NumPy reference
(transpose_reference.py), PyTorch where installed, finite differences, at every SIMD
level the CPU supports (bad arguments: the table of test_robust_validation.py)."""

import numpy as np
import pytest
from conftest import assert_close, random_array, rel_err, results_per_thread_count
from hypothesis import assume, given
from hypothesis import strategies as st
from transpose_reference import conv_transpose_ref

import convcore

FORWARD = {1: convcore.conv_transpose1d, 2: convcore.conv_transpose2d,
           3: convcore.conv_transpose3d}
BACKWARD = {1: convcore.conv_transpose1d_backward, 2: convcore.conv_transpose2d_backward,
            3: convcore.conv_transpose3d_backward}
LAYOUTS = ("C", "F", "strided", "reversed")


def random_config(rng, nd, small=False):
    """Random shapes and options: strides 1-3, dilation 1-3, padding (symmetric or
    asymmetric), output_padding up to its limit, groups, odd sizes."""
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        cg, kg = int(rng.integers(1, 4)), int(rng.choice([1, 2, 3, 5, 8, 17]))
        kernel = [int(rng.integers(1, 5)) for _ in range(nd)]
        stride = [int(rng.choice([1, 2, 2, 3])) for _ in range(nd)]
        dilation = [int(rng.choice([1, 1, 2, 3])) for _ in range(nd)]
        op = [int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation, strict=True)]
        if rng.random() < 0.3:
            pad = [(int(rng.integers(0, 4)), int(rng.integers(0, 4))) for _ in range(nd)]
        else:
            pad = [int(rng.integers(0, 3)) for _ in range(nd)]
        hi = 4 if small or nd == 3 else 9
        sizes = [int(rng.integers(1, hi)) for _ in range(nd)]
        pairs = [(p, p) if isinstance(p, int) else p for p in pad]
        outs = [(n - 1) * s - a - b + d * (k - 1) + o + 1 for n, s, (a, b), d, k, o in
                zip(sizes, stride, pairs, dilation, kernel, op, strict=True)]
        if min(outs) >= 1:
            break
    return dict(x=(int(rng.integers(1, 3)), cg * groups, *sizes), w=(cg * groups, kg, *kernel),
                groups=groups, stride=tuple(stride), dilation=tuple(dilation),
                padding=tuple(pad), output_padding=tuple(op))


def _options(cfg):
    return dict(stride=cfg["stride"], padding=cfg["padding"],
                output_padding=cfg["output_padding"], groups=cfg["groups"],
                dilation=cfg["dilation"])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(12))
def test_matches_reference(nd, dtype, seed):
    rng = np.random.default_rng(1000 * nd + seed)
    cfg = random_config(rng, nd)
    layout = LAYOUTS[seed % len(LAYOUTS)]
    x = random_array(rng, cfg["x"], dtype, layout)
    w = random_array(rng, cfg["w"], dtype, LAYOUTS[(seed + 1) % len(LAYOUTS)])
    b = random_array(rng, (cfg["w"][1] * cfg["groups"],), dtype) if seed % 3 else None
    x0, w0 = x.copy(), w.copy()
    ref = conv_transpose_ref(x, w, b, **_options(cfg))
    algorithms = ("auto", "direct", "im2col") if nd < 3 else ("auto", "direct")
    for algorithm in algorithms:
        got = FORWARD[nd](x, w, b, **_options(cfg), algorithm=algorithm)
        assert got.dtype == dtype
        assert_close(got, ref, dtype, terms=cfg["w"][0] * int(np.prod(cfg["w"][2:])),
                     err_msg=f"{algorithm} {cfg}")
    np.testing.assert_array_equal(x, x0)  # inputs never modified
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_at_each_isa_level(isa, nd, rng):
    for _ in range(3):
        cfg = random_config(rng, nd)
        x = random_array(rng, cfg["x"], np.float32)
        w = random_array(rng, cfg["w"], np.float32)
        out = np.full((cfg["x"][0], cfg["w"][1] * cfg["groups"],
                       *conv_transpose_ref(x[:, :, ...], w, **_options(cfg)).shape[2:]),
                      np.nan, np.float32)  # an output cell the kernel skips stays NaN
        got = FORWARD[nd](x, w, None, **_options(cfg), out=out)
        assert got is out
        assert_close(got, conv_transpose_ref(x, w, None, **_options(cfg)), np.float32,
                     terms=int(np.prod(cfg["w"][2:])) * cfg["w"][0], err_msg=f"{isa} {cfg}")


def test_unbatched_and_integer_input():
    x = np.arange(12).reshape(2, 2, 3)
    w = np.arange(24).reshape(2, 3, 2, 2)
    got = convcore.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
    assert got.dtype == np.float64 and got.shape == (3, 3, 5)
    np.testing.assert_allclose(got, conv_transpose_ref(x[None], w, stride=2, padding=1,
                                                       output_padding=1)[0])


def test_nan_and_inf_propagate_like_the_reference(rng):
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 3, 3, 4))
    x[0, 1, 2, 3], x[1, 2, 0, 0], x[1, 3, 4, 5] = np.nan, np.inf, -np.inf
    for opts in (dict(stride=2, padding=1), dict(stride=(3, 2), dilation=2,
                                                 output_padding=(1, 1))):
        ref = conv_transpose_ref(x, w, **opts)
        got = convcore.conv_transpose2d(x, w, **opts)
        assert_close(got, ref, np.float64)
        assert np.isnan(got).any()
        w2 = w.copy()
        w2[1, 2, 0, 1], w2[3, 0, 2, 2] = np.inf, np.nan  # the per-tap route
        assert_close(convcore.conv_transpose2d(x, w2, **opts),
                     conv_transpose_ref(x, w2, **opts), np.float64)


def test_infinite_weight_reaches_only_the_outputs_it_scatters_to():
    x = np.ones((1, 1, 3))
    w = np.array([[[1.0, np.inf, 1.0]]])
    got = convcore.conv_transpose1d(x, w, stride=2, padding=1)
    ref = conv_transpose_ref(x, w, stride=2, padding=1)
    np.testing.assert_array_equal(got, ref)
    assert np.isfinite(got[0, 0, 1::2]).all() and np.isinf(got[0, 0, ::2]).all()


def test_same_bits_for_any_thread_count(rng):
    x = rng.standard_normal((3, 12, 9, 11)).astype(np.float32)
    w = rng.standard_normal((12, 10, 4, 3)).astype(np.float32)
    before = convcore.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            convcore.set_num_threads(n)
            results.append(convcore.conv_transpose2d(x, w, stride=(2, 3), padding=1,
                                                     groups=2))
    finally:
        convcore.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_phases_without_taps_hold_the_bias():
    # kernel 1, stride 3: two outputs of three receive no tap, only the bias
    x = np.ones((1, 2, 4))
    w = np.full((2, 1, 1), 2.0)
    got = convcore.conv_transpose1d(x, w, np.array([0.5]), stride=3, output_padding=2)
    np.testing.assert_array_equal(got[0, 0], np.tile([4.5, 0.5, 0.5], 4))


def test_adjoint_of_conv():
    # <conv_transpose(x, w), y> == <x, conv(y, w)> for the same weights and options
    rng = np.random.default_rng(5)
    for nd, conv in ((1, convcore.conv1d), (2, convcore.conv2d), (3, convcore.conv3d)):
        cfg = random_config(rng, nd)
        x = rng.standard_normal(cfg["x"])
        w = rng.standard_normal(cfg["w"])
        opts = _options(cfg)
        y = FORWARD[nd](x, w, **opts)
        g = rng.standard_normal(y.shape)
        pads = [(p, p) if isinstance(p, int) else p for p in cfg["padding"]]
        back = conv(g, w, stride=cfg["stride"], padding=tuple(pads) if nd > 1 else pads[0],
                    dilation=cfg["dilation"], groups=cfg["groups"])
        back = back[(slice(None), slice(None), *(slice(0, n) for n in x.shape[2:]))]
        np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, back), rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------- gradients

def _numeric_gradient(f, a, eps=1e-6):
    grad = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        old = a[idx]
        a[idx] = old + eps
        up = f()
        a[idx] = old - eps
        down = f()
        a[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_gradients_match_finite_differences(nd, seed):
    rng = np.random.default_rng(77 + 10 * nd + seed)
    cfg = random_config(rng, nd, small=True)
    x = rng.standard_normal(cfg["x"])
    w = rng.standard_normal(cfg["w"])
    b = rng.standard_normal(cfg["w"][1] * cfg["groups"])
    opts = _options(cfg)
    go = rng.standard_normal(FORWARD[nd](x, w, b, **opts).shape)

    def loss():
        return float(np.vdot(conv_transpose_ref(x, w, b, **opts), go))

    gi, gw, gb = BACKWARD[nd](go, x, w, **opts)
    np.testing.assert_allclose(gi, _numeric_gradient(loss, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gw, _numeric_gradient(loss, w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb, _numeric_gradient(loss, b), rtol=1e-5, atol=1e-6)
    only = BACKWARD[nd](go, x, w, **opts, needs=("weight",))
    assert only[0] is None and only[2] is None
    np.testing.assert_array_equal(only[1], gw)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_against_torch(nd, dtype):
    torch = pytest.importorskip("torch")
    fn = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
          3: torch.nn.functional.conv_transpose3d}[nd]
    rng = np.random.default_rng(300 + nd)
    for _ in range(15):
        cfg = random_config(rng, nd)
        if any(not isinstance(p, int) for p in cfg["padding"]):
            continue  # PyTorch pads both sides alike
        x = rng.standard_normal(cfg["x"]).astype(dtype)
        w = rng.standard_normal(cfg["w"]).astype(dtype)
        b = rng.standard_normal(cfg["w"][1] * cfg["groups"]).astype(dtype)
        opts = _options(cfg)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ty = fn(tx, tw, tb, cfg["stride"], cfg["padding"], cfg["output_padding"],
                cfg["groups"], cfg["dilation"])
        y = FORWARD[nd](x, w, b, **opts)
        terms = cfg["w"][0] * int(np.prod(cfg["w"][2:]))
        assert_close(y, ty.detach().numpy(), dtype, terms=terms, err_msg=str(cfg))
        go = rng.standard_normal(y.shape).astype(dtype)
        ty.backward(torch.tensor(go))
        gi, gw, gb = BACKWARD[nd](go, x, w, **opts)
        assert_close(gi, tx.grad.numpy(), dtype, terms=terms)
        assert_close(gw, tw.grad.numpy(), dtype, terms=go.size)
        assert_close(gb, tb.grad.numpy(), dtype, terms=go.size)


def test_output_padding_may_reach_the_stride_below_the_dilation():
    # PyTorch's rule: output_padding < stride or < dilation
    y = convcore.conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 2)), stride=1,
                                  dilation=3, output_padding=2)
    np.testing.assert_array_equal(y, conv_transpose_ref(np.ones((1, 1, 3)), np.ones((1, 1, 2)),
                                                        dilation=3, output_padding=2))


def test_empty_batch_and_out():
    W2 = np.ones((4, 3, 3, 3))
    y = convcore.conv_transpose2d(np.ones((0, 4, 5, 5)), W2, stride=2)
    assert y.shape == (0, 3, 11, 11)
    gi, gw, gb = convcore.conv_transpose2d_backward(np.ones((0, 3, 11, 11)),
                                                    np.ones((0, 4, 5, 5)), W2, stride=2)
    assert gi.shape == (0, 4, 5, 5) and not gw.any() and not gb.any()


@st.composite
def transpose_cases(draw):
    """Any valid call: 1 to 3 dimensions, every option, sizes down to 1."""
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    dims = []
    for _ in range(nd):
        k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
        op = draw(st.integers(0, max(s, d) - 1))
        n = draw(st.integers(1, 5 if nd < 3 else 3))
        full = (n - 1) * s + d * (k - 1) + 1 + op
        before = draw(st.integers(0, 3))
        after = draw(st.integers(0, max(0, min(3, full - before - 1))))
        dims.append((k, s, d, op, n, (before, after)))
    assume(all((n - 1) * s + d * (k - 1) + 1 + op - b - a >= 1
               for k, s, d, op, n, (b, a) in dims))
    seed = draw(st.integers(0, 2**32 - 1))
    return nd, groups, cg, kg, dims, seed


@given(transpose_cases())
def test_any_valid_call_matches_the_reference(case):
    nd, groups, cg, kg, dims, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, cg * groups, *(d[4] for d in dims)))
    w = rng.standard_normal((cg * groups, kg, *(d[0] for d in dims)))
    b = rng.standard_normal(kg * groups)
    opts = dict(stride=tuple(d[1] for d in dims), dilation=tuple(d[2] for d in dims),
                output_padding=tuple(d[3] for d in dims), padding=tuple(d[5] for d in dims),
                groups=groups)
    got = FORWARD[nd](x, w, b, **opts)
    assert_close(got, conv_transpose_ref(x, w, b, **opts), np.float64)


def test_stride_far_larger_than_the_kernel():
    # most outputs are reached by no tap (the bias); the phases come from the taps, so
    # a stride of 1000 costs no more than the taps
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    w = np.arange(1.0, 7.0).reshape(1, 2, 1, 3)
    b = np.array([0.25, -1.0])
    opts = dict(stride=(1000, 999), padding=(0, 1), output_padding=(3, 5))
    got = convcore.conv_transpose2d(x, w, b, **opts)
    assert got.shape == (1, 2, 1004, 2004)
    np.testing.assert_array_equal(got, conv_transpose_ref(x, w, b, **opts))


def test_phase_taps_are_a_slice_of_the_kernel():
    """The phase weights are cut from the kernel by basic slices: every phase's taps are
    evenly spaced, and the slice picks exactly them, in the phase's order."""
    from convcore.transpose import _phase_tap_slice, _phases

    seen = 0
    for n in range(1, 7):
        for k in range(1, 8):
            for s in range(1, 5):
                for d in range(1, 4):
                    for pad in range((k - 1) * d + 1):
                        n_out = (n - 1) * s + (k - 1) * d + 1 - 2 * pad
                        for p in _phases(n, max(n_out, 1), k, s, d, pad):
                            assert list(range(k))[_phase_tap_slice(p.taps)] == list(p.taps)
                            seen += len(p.taps) > 2
    assert seen > 100  # the grid reaches phases of three and more taps


# ---------------------------------------------------------------------------------------
# algorithm="winograd": the phases as the output channels of one 3x3 Winograd layer

# kernel, stride, padding, output_padding: every phase reads at most 3 input pixels
# (outputs are multiples of the stride for every input size)
UNION_CASES = [(4, 2, 1, 0), (3, 2, 1, 1), (2, 2, 0, 0), (6, 3, 2, 1), (5, 2, 2, 1),
               ((4, 3), (2, 1), ((1, 1), (1, 1)), 0), ((4, 6), (2, 3), (1, (1, 2)), 0)]


@pytest.mark.parametrize("case", range(len(UNION_CASES)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_winograd_matches_reference(case, dtype):
    kernel, stride, padding, op = UNION_CASES[case]
    ks = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    rng = np.random.default_rng(case)
    for groups, layout in ((1, "C"), (2, "strided"), (3, "reversed")):
        # sizes whose outputs are multiples of the stride
        for hw in ((5, 6), (8, 3), (13, 17)):
            cfg = dict(stride=stride, padding=padding, output_padding=op, groups=groups)
            x = random_array(rng, (2, 2 * groups, *hw), dtype, layout)
            w = random_array(rng, (2 * groups, 3, *ks), dtype, "F")
            b = random_array(rng, (3 * groups,), dtype)
            ref = conv_transpose_ref(x, w, b, **cfg)
            out = np.full(ref.shape, np.nan, dtype)  # an output the phases skip stays NaN
            got = convcore.conv_transpose2d(x, w, b, **cfg, algorithm="winograd", out=out)
            assert got is out
            assert rel_err(got, ref) < (2e-5 if dtype == np.float32 else 1e-12), (case, hw)


def test_winograd_phases_that_skip_the_first_input_pixels(rng):
    """Padding beyond the kernel: the phases' window starts inside the input (cropped)."""
    for kernel, stride, padding in ((2, 2, 2), (4, 2, 5), (3, 2, 3)):
        x = rng.standard_normal((1, 3, 9, 11))
        w = rng.standard_normal((3, 2, kernel, kernel))
        op = 1 if kernel == 3 else 0
        ref = conv_transpose_ref(x, w, stride=stride, padding=padding, output_padding=op)
        got = convcore.conv_transpose2d(x, w, stride=stride, padding=padding,
                                        output_padding=op, algorithm="winograd")
        assert rel_err(got, ref) < 1e-12, (kernel, stride, padding)


def test_winograd_at_each_isa_level(isa, rng):
    x = rng.standard_normal((2, 20, 9, 7)).astype(np.float32)
    w = rng.standard_normal((20, 18, 4, 4)).astype(np.float32)
    ref = conv_transpose_ref(x, w, stride=2, padding=1)
    got = convcore.conv_transpose2d(x, w, stride=2, padding=1, algorithm="winograd")
    assert rel_err(got, ref) < 2e-5, isa


def test_winograd_dcgan_layer_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 128, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((128, 64, 4, 4)) / np.sqrt(128 * 4)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    ref = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w),
                                               torch.from_numpy(b), stride=2,
                                               padding=1).numpy()
    for algorithm in ("winograd", "auto"):
        got = convcore.conv_transpose2d(x, w, b, stride=2, padding=1, algorithm=algorithm)
        assert rel_err(got, ref) < 5e-5, algorithm


def test_winograd_same_bits_for_any_thread_count(rng):
    x = rng.standard_normal((4, 32, 40, 40)).astype(np.float32)  # several blocks of tiles
    w = rng.standard_normal((32, 16, 4, 4)).astype(np.float32)
    results = results_per_thread_count(
        lambda: convcore.conv_transpose2d(x, w, stride=2, padding=1, algorithm="winograd"))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_winograd_nan_and_inf(rng):
    """A non-finite input reaches, besides its own outputs, those of its Winograd tiles
    (NaN there, as conv2d's Winograd documents); a non-finite weight takes the per-tap
    route, exact."""
    x = rng.standard_normal((1, 4, 12, 12))
    w = rng.standard_normal((4, 3, 4, 4))
    x[0, 1, 5, 6] = np.inf
    ref = conv_transpose_ref(x, w, stride=2, padding=1)
    got = convcore.conv_transpose2d(x, w, stride=2, padding=1, algorithm="winograd")
    bad = ~np.isfinite(ref)
    assert (~np.isfinite(got[bad])).all()  # every output the inf reaches is non-finite
    clean = np.isfinite(got)
    np.testing.assert_allclose(got[clean], ref[clean], rtol=1e-12, atol=1e-12)
    x[0, 1, 5, 6] = 1.0
    w[2, 1, 0, 3] = np.nan
    np.testing.assert_allclose(
        convcore.conv_transpose2d(x, w, stride=2, padding=1, algorithm="winograd"),
        conv_transpose_ref(x, w, stride=2, padding=1), rtol=1e-12, atol=1e-12,
        equal_nan=True)


@pytest.mark.parametrize("call", [
    dict(nd=2, x=(1, 2, 5, 5), w=(2, 2, 4, 4), stride=1, padding=1),   # stride 1
    dict(nd=2, x=(1, 2, 5, 5), w=(2, 2, 7, 7), stride=2, padding=3),   # 4 taps a phase
    dict(nd=2, x=(1, 2, 5, 5), w=(2, 2, 4, 4), stride=2, padding=1, dilation=2),
    dict(nd=2, x=(1, 2, 5, 5), w=(2, 2, 3, 3), stride=2, padding=1),   # odd output size
    dict(nd=1, x=(1, 2, 5), w=(2, 2, 4), stride=2, padding=1),
    dict(nd=3, x=(1, 2, 3, 3, 3), w=(2, 2, 4, 4, 4), stride=2, padding=1),
])
def test_winograd_refuses_other_geometries(call):
    call = dict(call)
    nd = call.pop("nd")
    x, w = np.ones(call.pop("x")), np.ones(call.pop("w"))
    with pytest.raises(ValueError, match="algorithm='winograd' runs 2-D transposed"):
        FORWARD[nd](x, w, **call, algorithm="winograd")
    np.testing.assert_allclose(FORWARD[nd](x, w, **call),
                               conv_transpose_ref(x, w, **call))  # 'auto' runs it


def test_auto_leaves_narrow_and_short_layers_to_the_phases():
    from convcore.transpose import _union_pays, prepare_transpose

    def pays(xs, ws, **kw):
        g = prepare_transpose(2, np.zeros(xs), np.zeros(ws), None, kw.get("stride", 2),
                              kw.get("padding", 1), kw.get("output_padding", 0), 1, 1)[0]
        return _union_pays(g)

    assert not pays((8, 8, 32, 32), (8, 64, 4, 4))       # 8 input channels
    assert not pays((8, 64, 32, 32), (64, 8, 4, 4))      # 8 output channels
    assert not pays((1, 512, 4, 4), (512, 256, 4, 4))    # 4 tiles: the weights dominate
    assert not pays((8, 64, 32, 32), (64, 64, 4, 4), stride=1)  # one phase
