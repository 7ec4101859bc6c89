"""Polyphase Winograd for 3x3 layers at stride 2 (algorithm='winograd' on a stride-2
conv2d, convcore.winograd.run_stride2) against the NumPy reference: random geometries
at every SIMD level, border modes, non-contiguous inputs, NaN and inf, poisoned
outputs, threads, the chunk and streaming paths, and the rule 'auto' follows."""

import numpy as np
import pytest
from conftest import random_3x3_layer, random_array, rel_err, results_per_thread_count
from reference import conv2d_ref

import convcore
from convcore import _auto, _winograd, winograd
from convcore._geometry import prepare_conv

TOL = {np.float32: 2e-6, np.float64: 1e-14}
NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _run(x, w, b=None, padding=0, groups=1, out=None, padding_mode="zeros"):
    return convcore.conv2d(x, w, b, stride=2, padding=padding, groups=groups,
                           algorithm="winograd", out=out, padding_mode=padding_mode)


def _pads(x, w, padding, groups=1):
    return prepare_conv(2, x, w, None, 2, padding, 1, groups)[0].pad


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_geometries_match_reference(isa, seed, dtype):
    """Odd and even sizes from 1 pixel up, asymmetric padding, groups, output channels
    that leave a partial block of the level's tile, with and without bias; the output
    NaN-poisoned before the call, so every element must be written."""
    rng = np.random.default_rng(seed)
    N, C, K, H, W, groups, padding = random_3x3_layer(rng, 40, 150)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if seed % 2 else None
    ref = conv2d_ref(x, w, b, stride=2, padding=padding, groups=groups)
    out = np.full(ref.shape, np.nan, dtype)
    got = _run(x, w, b, padding, groups, out=out)
    assert got is out and got.dtype == dtype
    assert np.isfinite(got).all()
    assert rel_err(got, ref) < TOL[dtype], (isa, N, C, K, H, W, padding, groups)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, K", [
    ((1, 2, 9, 530), 5),     # rows of more tiles than a chunk: chunks inside a row
    ((2, 12, 17, 41), 4),    # 12 channels: float64 chunks shrink to fit their budget
    ((3, 1, 5, 3), 7),       # one tile per row: a vector's tiles span many rows
])
def test_chunk_paths(isa, dtype, shape, K):
    rng = np.random.default_rng(sum(shape) + K)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((K, shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    for padding in (0, 1, ((2, 0), (0, 1))):
        ref = conv2d_ref(x, w, b, stride=2, padding=padding)
        assert rel_err(_run(x, w, b, padding), ref) < TOL[dtype], (shape, padding)


def test_streamed_output_matches_reference(isa):
    """An output of 10 MB, past the size the route writes by non-temporal stores."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 1, 800, 800)).astype(np.float32)
    w = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    g = prepare_conv(2, x, w, None, 2, 1, 1, 1)[0]
    assert _winograd.s2w_streams(g, 4)
    ref = conv2d_ref(x, w, stride=2, padding=1)
    assert rel_err(_run(x, w, padding=1), ref) < TOL[np.float32]


@pytest.mark.parametrize("mode", sorted(NP_MODES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_border_modes(isa, mode, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 15, 38)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    for padding in (1, 2, ((1, 2), (2, 1))):
        (t, bo), (le, ri) = _pads(x, w, padding)
        xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (le, ri)), mode=NP_MODES[mode])
        ref = conv2d_ref(xp, w, stride=2)
        got = _run(x, w, padding=padding, padding_mode=mode)
        assert rel_err(got, ref) < TOL[dtype], (mode, padding)


@pytest.mark.parametrize("layout", ["F", "strided", "negative"])
def test_non_contiguous_inputs_unchanged(layout):
    rng = np.random.default_rng(9)
    x = random_array(rng, (2, 4, 21, 33), np.float64, layout)
    w = random_array(rng, (6, 4, 3, 3), np.float64, layout)
    b = rng.standard_normal(6)
    keep = x.copy(), w.copy(), b.copy()
    ref = conv2d_ref(x, w, b, stride=2, padding=1)
    assert rel_err(_run(x, w, b, 1), ref) < TOL[np.float64]
    for a, k in zip((x, w, b), keep, strict=True):
        np.testing.assert_array_equal(a, k)


def test_nan_and_inf_reach_their_tiles_only(isa):
    """A NaN or inf input makes every output whose 2 x 2 tile's 5 x 5 patch holds it
    non-finite (all output channels); the other outputs stay within rounding."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((1, 2, 20, 22))
    w = rng.standard_normal((4, 2, 3, 3))
    for bad in (np.nan, np.inf, -np.inf):
        xb = x.copy()
        xb[0, 1, 9, 12] = bad
        ref = conv2d_ref(xb, w, stride=2, padding=1)
        got = _run(xb, w, padding=1)
        assert not np.isfinite(got[~np.isfinite(ref)]).any()
        # tile (a, j) covers outputs 2a, 2a+1 and reads padded rows 4a .. 4a+4: input
        # row 9 (padded 10) lies in the patches of tile rows 2 (rows 8-12) only
        touched = np.zeros(got.shape[2:], bool)
        for a in range(touched.shape[0] // 2 + 1):
            for j in range(touched.shape[1] // 2 + 1):
                if 4 * a <= 10 <= 4 * a + 4 and 4 * j <= 13 <= 4 * j + 4:
                    touched[2 * a:2 * a + 2, 2 * j:2 * j + 2] = True
        clean = np.broadcast_to(~touched, got.shape)
        assert np.isfinite(got[clean]).all()
        np.testing.assert_allclose(got[clean], ref[clean], rtol=1e-12, atol=1e-12)


def test_same_result_for_any_thread_count():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 3, 70, 90)).astype(np.float32)
    w = rng.standard_normal((10, 3, 3, 3)).astype(np.float32)
    results = results_per_thread_count(lambda: _run(x, w, padding=1))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_levels_agree_on_the_rounding(isa):
    """Every level sums each output in one order (channel, then the 25 products, then
    the two additions along rows and columns): FMA levels agree to the last bit on data
    whose products are exact."""
    x = np.arange(2 * 3 * 13 * 17, dtype=np.float64).reshape(2, 3, 13, 17) % 7 - 3
    w = np.arange(4 * 3 * 9, dtype=np.float64).reshape(4, 3, 3, 3) % 5 - 2
    np.testing.assert_array_equal(_run(x, w, padding=1), conv2d_ref(x, w, stride=2, padding=1))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 64, 48)).astype(np.float32)
    w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                      torch.from_numpy(b), stride=2, padding=1).numpy()
    assert rel_err(_run(x, w, b, 1), want) < 1e-5


def test_rules_and_other_routes_unchanged():
    x, w = np.zeros((1, 3, 12, 12)), np.zeros((2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"winograd needs stride 1 \(or 2 on a 2-D layer\)"):
        convcore.conv2d(x, w, stride=(2, 1), algorithm="winograd")
    with pytest.raises(ValueError, match="winograd needs stride 1"):
        convcore.conv1d(np.zeros((1, 2, 9)), np.zeros((1, 2, 3)), stride=2,
                        algorithm="winograd")
    with pytest.raises(ValueError, match="winograd needs dilation 1"):
        convcore.conv2d(x, w, stride=2, dilation=2, algorithm="winograd")
    g = prepare_conv(2, x, w, None, 2, 1, 1, 1)[0]
    assert not winograd.grad_weight_applies(g)  # the weight gradient stays stride 1


def test_auto_weighs_the_route_by_its_model():
    """'auto' takes the route only where its estimate (per SIMD level: the tile's output
    channels, whether FMAs take a broadcast from memory) beats the others by the margin,
    and only for stride-2 3x3 layers whose chunk fits its budget."""
    x, w = np.zeros((8, 3, 224, 224), np.float32), np.zeros((32, 3, 3, 3), np.float32)
    g = prepare_conv(2, x, w, None, 2, 1, 1, 1)[0]
    cycles = _auto.estimate_cycles(g)
    assert "winograd" in cycles
    others = min(v for k, v in cycles.items() if k != "winograd")
    want = "winograd" if cycles["winograd"] * _auto.S2W_MARGIN < others else None
    assert (_auto.choose_algorithm(g) == "winograd") == (want == "winograd")
    deep = prepare_conv(2, np.zeros((1, 64, 56, 56)), np.zeros((64, 64, 3, 3)), None, 2,
                        1, 1, 1)[0]
    assert "winograd" not in _auto.estimate_cycles(deep, np.float64)  # past the budget
    one = prepare_conv(2, x, w, None, 1, 1, 1, 1)[0]
    assert "winograd" not in _auto.estimate_cycles(one)  # stride 1: the model above it
