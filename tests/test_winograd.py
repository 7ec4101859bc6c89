"""Winograd convolution (algorithm='winograd', convcore.winograd) against the NumPy
reference: random geometries, accuracy, NaN/inf, threads, SIMD levels, reuse, errors."""

import numpy as np
import pytest
from conftest import random_3x3_layer, rel_err
from reference import conv1d_ref, conv2d_ref

import convcore
from convcore import _winograd, winograd
from convcore._geometry import prepare_conv as _prepare
from convcore._isa import isa_levels

TOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tile", [4, 6])
def test_random_geometries_match_reference(seed, dtype, tile):
    rng = np.random.default_rng(seed)
    N, C, K, H, W, groups, padding = random_3x3_layer(rng, 30, 90)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if seed % 2 else None
    ref = conv2d_ref(x, w, b, padding=padding, groups=groups)
    ww = convcore.winograd_weights(w, groups, tile)
    got = winograd.conv2d(x, ww, b, padding=padding)
    assert got.dtype == dtype
    assert rel_err(got, ref) < TOL[dtype] * (3 if tile == 6 else 1)
    if tile == 4:
        via_api = convcore.conv2d(x, w, b, padding=padding, groups=groups,
                                  algorithm="winograd")
        np.testing.assert_array_equal(via_api, got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_images_use_every_tile_path(dtype):
    """Rows of many tiles (the vector gather/scatter of whole tile rows), edges, batch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 37, 203)).astype(dtype)
    w = rng.standard_normal((7, 5, 3, 3)).astype(dtype)
    for padding in (0, 1, "same", ((2, 0), (0, 2))):
        pads = _prepare(2, x, w, None, 1, padding, 1, 1)[0].pad
        ref = conv2d_ref(x, w, padding=pads)
        for tile in (4, 6):
            got = winograd.conv2d(x, convcore.winograd_weights(w, tile=tile), padding=padding)
            assert rel_err(got, ref) < TOL[dtype] * 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tile", [4, 6])
def test_conv1d(dtype, tile):
    rng = np.random.default_rng(2)
    for L, pad, groups in ((1, 1, 1), (5, 0, 1), (97, 1, 2), (300, (2, 0), 3)):
        x = rng.standard_normal((2, 6, L)).astype(dtype)
        w = rng.standard_normal((12, 6 // groups, 3)).astype(dtype)
        b = rng.standard_normal(12).astype(dtype)
        ref = conv1d_ref(x, w, b, padding=pad, groups=groups)
        got = winograd.conv1d(x, convcore.winograd_weights(w, groups, tile), b, padding=pad)
        assert rel_err(got, ref) < TOL[dtype] * 3
        if tile == 4:
            np.testing.assert_array_equal(
                convcore.conv1d(x, w, b, padding=pad, groups=groups, algorithm="winograd"), got)


@pytest.mark.parametrize("C", [16, 64, 512])
def test_documented_accuracy(C):
    """Unit-variance data, weights scaled by 1/sqrt(9 C): the error relative to max|y|
    stays below 1e-4 in float32 (F(4x4,3x3)) and 1e-11 in float64 (both tiles)."""
    rng = np.random.default_rng(C)
    x = rng.standard_normal((1, C, 14, 14))
    w = rng.standard_normal((8, C, 3, 3)) / np.sqrt(9 * C)
    ref = conv2d_ref(x.astype(np.float32), w.astype(np.float32), padding=1)
    got32 = convcore.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1,
                            algorithm="winograd")
    assert rel_err(got32, ref) < 1e-4
    ref64 = conv2d_ref(x, w, padding=1)
    for tile in (4, 6):
        got64 = winograd.conv2d(x, convcore.winograd_weights(w, tile=tile), padding=1)
        assert rel_err(got64, ref64) < 1e-11


def test_nan_and_inf_reach_their_tiles_only():
    """A NaN or inf input makes the outputs of every tile whose patch holds it
    non-finite (all output channels); every other output stays exact."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 16, 16))
    w = rng.standard_normal((3, 2, 3, 3))
    for bad in (np.nan, np.inf):
        xb = x.copy()
        xb[0, 1, 7, 9] = bad
        ref = conv2d_ref(xb, w, padding=1)
        got = convcore.conv2d(xb, w, padding=1, algorithm="winograd")
        assert not np.isfinite(got[~np.isfinite(ref)]).any()
        # F(4x4): output tile (i, j) reads input rows 4i-1 .. 4i+4; pixel (7, 9) is in the
        # patches of tile rows 1-2 and tile columns 2; outside them nothing changes.
        touched = np.zeros((16, 16), bool)
        for ti in range(4):
            for tj in range(4):
                if 4 * ti - 1 <= 7 <= 4 * ti + 4 and 4 * tj - 1 <= 9 <= 4 * tj + 4:
                    touched[4 * ti:4 * ti + 4, 4 * tj:4 * tj + 4] = True
        clean = np.broadcast_to(~touched, got.shape)
        np.testing.assert_allclose(got[clean], ref[clean], rtol=1e-12, atol=1e-12)


def test_same_result_for_any_thread_count():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 32, 20, 44)).astype(np.float32)
    w = rng.standard_normal((24, 32, 3, 3)).astype(np.float32)
    old = convcore.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            convcore.set_num_threads(n)
            results.append(convcore.conv2d(x, w, padding=1, algorithm="winograd"))
    finally:
        convcore.set_num_threads(old)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("level", isa_levels())
def test_every_simd_level(level):
    order = list(isa_levels())
    if order.index(level) > order.index(_winograd.simd_detected()):
        pytest.skip(f"this CPU has no {level}")
    rng = np.random.default_rng(5)
    # 23 x 71 puts groups of tiles across tile rows and images; 157 wide (plus 83 without
    # padding) gives groups of 16 tiles inside one tile row, which take the row path
    shapes = [((2, 6, 23, 71), 1), ((2, 3, 19, 157), 1), ((1, 2, 14, 83), 0)]
    old = _winograd.simd_level()
    try:
        _winograd.force_simd(level)
        assert _winograd.simd_level() == level
        for shape, pad in shapes:
            x = rng.standard_normal(shape).astype(np.float32)
            w = rng.standard_normal((5, shape[1], 3, 3)).astype(np.float32)
            for dtype in (np.float32, np.float64):
                ref = conv2d_ref(x.astype(dtype), w.astype(dtype), padding=pad)
                for tile in (4, 6):
                    ww = convcore.winograd_weights(w.astype(dtype), tile=tile)
                    got = winograd.conv2d(x.astype(dtype), ww, padding=pad)
                    assert rel_err(got, ref) < TOL[dtype] * 3, (shape, dtype, tile)
    finally:
        _winograd.force_simd(old)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channel_slices_and_both_weight_layouts_at_each_level(isa, dtype):
    """520 input channels take several slices of the GEMM tile's panels at every level
    (later slices add to the sums stored by the earlier ones); 7 output channels leave a
    partial block of the tile's rows (zero rows in the packed weights).  The call's packed
    weights and a WinogradWeights' plain rows give the same bits."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 520, 6, 9)).astype(dtype)
    w = (rng.standard_normal((7, 520, 3, 3)) / 70).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    ref = conv2d_ref(x, w, b, padding=((1, 1), (1, 1)))
    got = convcore.conv2d(x, w, b, padding=1, algorithm="winograd",
                          out=np.full(ref.shape, np.nan, dtype))
    assert rel_err(got, ref) < TOL[dtype] * 3
    rows = winograd.conv2d(x, convcore.winograd_weights(w), b, padding=1)
    np.testing.assert_array_equal(rows, got)


def test_packed_weights_run_at_the_level_they_were_packed_for(isa):
    """Weights packed for one SIMD level's GEMM tile (its block height) give the right
    result when another level is active by the time the products run."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 20, 11, 13))
    w = rng.standard_normal((13, 20, 3, 3))
    ref = conv2d_ref(x, w, padding=((1, 1), (1, 1)))
    g = _prepare(2, x, w, None, 1, 1, 1, 1)[0]
    kb = _winograd.u_block()
    u = winograd._transform(w, 4, 1, np.float64, kb=kb)
    old = convcore.get_isa()
    try:
        for level in ("generic", isa):
            convcore.set_isa(level)
            y = np.full(ref.shape, np.nan)
            winograd.run(g, u, 4, x, np.zeros(0), y, 2, kb)
            assert rel_err(y, ref) < TOL[np.float64], level
    finally:
        convcore.set_isa(old)


def test_layers_of_few_tiles_give_each_thread_a_block():
    """From 32 tiles up to twice the chosen block, a layer is cut in two blocks (one per
    thread of two); the blocks stay whole panels' worth or the layer's half."""
    for shape, k, blocks in (((2, 32, 56, 56), 32, 2), ((8, 512, 7, 7), 512, 2),
                             ((1, 8, 24, 24), 8, 2), ((1, 8, 20, 20), 8, 1)):
        x = np.broadcast_to(np.float32(0), shape)
        w = np.broadcast_to(np.float32(0), (k, shape[1], 3, 3))
        g = _prepare(2, x, w, None, 1, 1, 1, 1)[0]
        assert _winograd.winograd_plan(g, 4, 4)[0] == blocks, shape


def test_weights_reuse_and_dtypes():
    rng = np.random.default_rng(6)
    w32 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    ww = convcore.winograd_weights(w32)
    assert ww.u.shape == (1, 36, 4, 3) and ww.dtype == np.float32 and ww.tile == 4
    x32 = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    np.testing.assert_array_equal(winograd.conv2d(x32, ww, padding=1),
                                  winograd.conv2d(x32, ww, padding=1))
    # float32 weights in a float64 computation are transformed again in float64
    x64 = x32.astype(np.float64)
    got = winograd.conv2d(x64, ww, padding=1)
    assert got.dtype == np.float64
    assert rel_err(got, conv2d_ref(x64, w32, padding=1)) < 1e-12
    w_before = w32.copy()
    w32 += 1  # the object holds its own copy of the weights
    assert rel_err(winograd.conv2d(x64, ww, padding=1), conv2d_ref(x64, w_before,
                                                                    padding=1)) < 1e-12


def test_inputs_unchanged_out_and_unbatched():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 10, 10))
    w = rng.standard_normal((2, 3, 3, 3))
    b = rng.standard_normal(2)
    copies = [a.copy() for a in (x, w, b)]
    out = np.full((2, 10, 10), np.nan)
    got = convcore.conv2d(x, w, b, padding=1, algorithm="winograd", out=out)
    assert got is out
    for a, c in zip((x, w, b), copies, strict=True):
        np.testing.assert_array_equal(a, c)
    assert rel_err(out, conv2d_ref(x[None], w, b, padding=1)[0]) < 1e-12


@pytest.mark.parametrize("kwargs, rule", [
    (dict(stride=3), r"winograd needs stride 1 \(or 2 on a 2-D layer\); got stride \(3, 3\)"),
    (dict(dilation=2), "winograd needs dilation 1"),
    (dict(wshape=(2, 3, 5, 5)), "winograd needs a 3x3 kernel; got 5x5"),
    (dict(wshape=(2, 3, 1, 3)), "winograd needs a 3x3 kernel; got 1x3"),
])
def test_unsupported_geometry_names_the_rule(kwargs, rule):
    x = np.zeros((1, 3, 12, 12))
    w = np.zeros(kwargs.pop("wshape", (2, 3, 3, 3)))
    out = np.full((1, 2) + convcore.conv_output_size((12, 12), w.shape[2:],
                                                     kwargs.get("stride", 1), 0,
                                                     kwargs.get("dilation", 1)), 7.0)
    with pytest.raises(ValueError, match=rule):
        convcore.conv2d(x, w, algorithm="winograd", out=out, **kwargs)
    with pytest.raises(ValueError, match="winograd needs a 3-tap kernel; got 5"):
        convcore.conv1d(np.zeros((1, 2, 9)), np.zeros((1, 2, 5)), algorithm="winograd")


def test_winograd_weights_validation():
    with pytest.raises(ValueError, match="tile must be 4 or 6"):
        convcore.winograd_weights(np.zeros((1, 1, 3, 3)), tile=2)
    with pytest.raises(ValueError, match="3x3 kernel; got 5x5"):
        convcore.winograd_weights(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="not divisible by groups=2"):
        convcore.winograd_weights(np.zeros((3, 1, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="must have shape"):
        convcore.winograd_weights(np.zeros((3, 3)))
    with pytest.raises(TypeError):
        convcore.winograd_weights(np.zeros((1, 1, 3, 3), complex))
    with pytest.raises(TypeError, match="WinogradWeights"):
        winograd.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)))
    ww1 = convcore.winograd_weights(np.zeros((1, 1, 3)))
    with pytest.raises(ValueError, match="for conv1d, not conv2d"):
        winograd.conv2d(np.zeros((1, 1, 5, 5)), ww1)
    ww = convcore.winograd_weights(np.zeros((2, 2, 3, 3)))
    with pytest.raises(ValueError, match="weight has 2 input channels per group but input "
                                         "has 3 channels"):
        winograd.conv2d(np.zeros((1, 3, 5, 5)), ww)


def test_workspace_is_tiles_of_the_batch():
    """The workspace per thread is one block of tiles, far below the transformed batch."""
    x = np.broadcast_to(np.float32(0), (32, 64, 56, 56))
    w = np.broadcast_to(np.float32(0), (64, 64, 3, 3))
    g = _prepare(2, x, w, None, 1, 1, 1, 1)[0]
    items, per_thread = _winograd.winograd_plan(g, 4, 4)
    whole = 36 * (g.C + g.K) * g.N * 14 * 14
    assert items > 1 and per_thread * 10 < whole
    # blocks near 2 MiB of V and M (csrc/winograd.c), the last one up to twice that
    assert per_thread * 4 <= 2 * 1.5 * 2 * 2**20


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 16, 19, 27)).astype(np.float32)
    w = (rng.standard_normal((8, 8, 3, 3)) / 12).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                     torch.from_numpy(b), padding=1, groups=2).numpy()
    got = convcore.conv2d(x, w, b, padding=1, groups=2, algorithm="winograd")
    assert rel_err(got, ref) < 1e-5
