"""The direct kernel at every SIMD level this CPU supports, over 1, 2 and 3 spatial
dimensions, against the NumPy references; choosing the level (set_isa, CONVCORE_ISA)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import assert_close, random_array
from reference import conv1d_ref, conv2d_ref, conv3d_ref, conv_border_ref

import convcore
from convcore._geometry import prepare_conv


def _poisoned(shape, dtype):
    """An output buffer full of NaN: a cell the kernel does not write fails the test."""
    return np.full(shape, np.nan, dtype=dtype)


def _random_geometry(rng, nd):
    """Random sizes that reach the tiles' edges: odd widths, channel counts around the
    register tiles (1-17 output channels per group), strides 1-3, dilation, padding."""
    groups = int(rng.choice([1, 1, 2, 3]))
    cg = int(rng.integers(1, 4))
    kg = int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 17]))
    kernel = [int(rng.integers(1, 4)) for _ in range(nd)]
    stride = [int(rng.choice([1, 1, 2, 3])) for _ in range(nd)]
    dilation = [int(rng.choice([1, 1, 2])) for _ in range(nd)]
    pad = [(int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(nd)]
    sizes = []
    for i in range(nd):
        span = dilation[i] * (kernel[i] - 1) + 1
        inner = i == nd - 1
        lo = max(1, span - sum(pad[i]))
        sizes.append(int(rng.integers(lo, lo + (70 if inner else 6))))
    n = int(rng.integers(1, 3))
    return dict(x=(n, cg * groups, *sizes), w=(kg * groups, cg, *kernel), groups=groups,
                stride=tuple(stride), dilation=tuple(dilation), padding=tuple(pad))


def _reference(nd, x, w, b, g):
    if nd == 1:
        return conv1d_ref(x, w, b, stride=g["stride"][0], padding=g["padding"][0],
                          dilation=g["dilation"][0], groups=g["groups"])
    if nd == 2:
        return conv2d_ref(x, w, b, stride=g["stride"], padding=g["padding"],
                          dilation=g["dilation"], groups=g["groups"])
    return conv3d_ref(x, w, b, stride=g["stride"], padding=g["padding"],
                      dilation=g["dilation"], groups=g["groups"])


CONV = {1: convcore.conv1d, 2: convcore.conv2d, 3: convcore.conv3d}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_direct_matches_reference_at_each_level(isa, nd, seed, dtype):
    rng = np.random.default_rng(1000 * nd + seed)
    g = _random_geometry(rng, nd)
    layout = ["C", "F", "strided", "reversed"][seed % 4]
    x = random_array(rng, g["x"], dtype, layout)
    w = random_array(rng, g["w"], dtype)
    b = random_array(rng, g["w"][:1], dtype) if seed % 2 else None
    ref = _reference(nd, x, w, b, g)
    out = _poisoned(ref.shape, dtype)
    got = CONV[nd](x, w, b, stride=g["stride"], padding=g["padding"], dilation=g["dilation"],
                   groups=g["groups"], algorithm="direct", out=out)
    assert got is out
    assert_close(got, ref, dtype, terms=int(np.prod(g["w"][1:])), err_msg=f"{isa} {g}")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_nan_and_inf_propagate_at_each_level(isa, nd, rng):
    g = dict(x=(1, 2) + (5,) * (nd - 1) + (37,), w=(7, 2) + (3,) * nd, groups=1,
             stride=(1,) * nd, dilation=(1,) * nd, padding=((1, 1),) * nd)
    x = random_array(rng, g["x"], np.float64)
    w = random_array(rng, g["w"], np.float64)
    x.reshape(-1)[[3, 40, 71]] = [np.nan, np.inf, -np.inf]
    w.reshape(-1)[5] = np.inf  # an infinite weight times the zero padding is NaN
    ref = _reference(nd, x, w, None, g)
    got = CONV[nd](x, w, padding=1, algorithm="direct", out=_poisoned(ref.shape, np.float64))
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    assert_close(got, ref, np.float64, terms=2 * 3**nd)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [((2, 16, 12, 40), (24, 16, 3, 3)),
                                   ((1, 8, 5, 9, 33), (12, 8, 3, 3, 3))])
def test_same_bits_for_any_thread_count_at_each_level(isa, shape, dtype, rng):
    xs, ws = shape
    x, w = random_array(rng, xs, dtype), random_array(rng, ws, dtype)
    conv = CONV[len(xs) - 2]
    results = []
    try:
        for n in (1, 2, 3, 4):
            convcore.set_num_threads(n)
            results.append(conv(x, w, padding=1, algorithm="direct"))
    finally:
        convcore.set_num_threads(None)
    for r in results[1:]:
        assert np.array_equal(r, results[0])


def test_levels_agree(rng):
    x = random_array(rng, (2, 5, 17, 43), np.float32)
    w = random_array(rng, (11, 5, 3, 3), np.float32)
    results = {}
    before = convcore.get_isa()
    try:
        for level in convcore.available_isas():
            convcore.set_isa(level)
            assert convcore.get_isa() == level
            assert convcore.config_info()["isa"] == level
            kernels = convcore.config_info()["kernels"]
            assert kernels["conv2d im2col"] == f"{level} (column tiles and GEMM tile)"
            assert kernels["im2col/col2im"] == level
            assert kernels["pooling"].startswith(f"{level} (forward, backward")
            results[level] = convcore.conv2d(x, w, stride=(1, 2), padding=1, algorithm="direct")
    finally:
        convcore.set_isa(before)
    ref = conv2d_ref(x, w, stride=(1, 2), padding=1)
    for level, y in results.items():
        assert_close(y, ref, np.float32, terms=45, err_msg=level)


def test_set_isa_rejects_bad_levels():
    with pytest.raises(ValueError, match="unknown ISA level 'sse9'.*generic, avx2, avx512"):
        convcore.set_isa("sse9")
    with pytest.raises(TypeError, match="string or None"):
        convcore.set_isa(2)
    assert convcore.available_isas()[0] == "generic"
    assert convcore.available_isas()[-1] == convcore.detected_isa()
    # the level in use: CONVCORE_ISA's when the suite runs at a forced level
    expected = os.environ.get("CONVCORE_ISA", "").strip().lower() or convcore.detected_isa()
    assert convcore.get_isa() == expected


def test_levels_are_the_rows_of_the_c_librarys_table():
    """Every extension module reads the same table of ISAs; on x86-64 it has the three
    levels, elsewhere the portable one; what the CPU runs is a prefix of it."""
    import platform

    from convcore import _conv, _isa, _peak, _pool, _winograd

    levels = _isa.isa_levels()
    for module in (_conv, _peak, _pool, _winograd):
        assert module.simd_levels() == levels
    x86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
    assert levels == (("generic", "avx2", "avx512") if x86 else ("generic",))
    assert levels[: len(convcore.available_isas())] == convcore.available_isas()


def test_a_level_without_calibration_takes_the_nearest_row_below(monkeypatch):
    """auto's model for a level added to the table and not yet calibrated: the row of the
    nearest level below that has one, down to the portable level's."""
    from convcore import _isa, analysis

    cal = analysis.CALIBRATION
    assert analysis.calibration_rates("avx512") is cal["avx512"]
    monkeypatch.setattr(_isa, "isa_levels", lambda: ("generic", "avx2", "avx512", "amx"))
    assert analysis.calibration_rates("amx") is cal["avx512"]
    monkeypatch.setattr(analysis, "CALIBRATION", {"generic": cal["generic"]})
    assert analysis.calibration_rates("amx") is cal["generic"]
    assert analysis.calibration_rates("avx2") is cal["generic"]
    with pytest.raises(ValueError, match="unknown SIMD level 'avx1024'"):
        analysis.calibration_rates("avx1024")


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


def test_environment_variable_forces_the_level():
    r = _run("import convcore; print(convcore.get_isa())", CONVCORE_ISA="generic")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "generic"
    r = _run("import convcore", CONVCORE_ISA="avx1024")
    assert r.returncode != 0
    assert "CONVCORE_ISA='avx1024': unknown ISA level" in r.stderr


def test_environment_variable_refuses_a_level_the_cpu_lacks():
    levels = convcore._isa.isa_levels()
    missing = [lv for lv in levels if lv not in convcore.available_isas()]
    level = missing[0] if missing else levels[-1]
    r = _run("import convcore; print(convcore.get_isa())", CONVCORE_ISA=level)
    if missing:
        assert r.returncode != 0
        assert "is not supported by this CPU" in r.stderr
    else:  # this CPU runs every level: the variable is obeyed
        assert r.returncode == 0 and r.stdout.strip() == level


def test_ctrl_c_interrupts_a_long_direct_convolution():
    """A one-channel 4096^2 image with a 255x255 kernel: about 2 * 10^12 flops (tens of
    seconds on any CPU), interrupted one second in; the process must raise
    KeyboardInterrupt promptly, not when the kernel ends."""
    code = """
        import sys, numpy as np, convcore
        x = np.ones((1, 1, 4096, 4096), np.float32)
        w = np.ones((1, 1, 255, 255), np.float32)
        print("ready", flush=True)
        try:
            convcore.conv2d(x, w, padding="same", algorithm="direct")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        print("finished", flush=True)
    """
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = p.communicate(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        p.kill()
    assert p.returncode == 3, (out, err)
    assert "interrupted" in out
    assert elapsed < 5.0, f"KeyboardInterrupt came {elapsed:.1f} s after SIGINT"


# Many output channels per group: the kernels vectorised along output channels, with rows
# longer than one segment of tiles, more input channels than one sweep, edge tiles that
# copy a stretch of the row and (dilation 60) ones too long to copy.
CHANNEL_TILE_CASES = [
    # x shape, w shape, stride, padding, dilation, groups
    ((1, 20, 5, 203), (70, 20, 3, 3), 1, 1, 1, 1),
    ((2, 34, 4, 97), (66, 17, 3, 3), 2, (1, 2), 1, 2),
    ((1, 3, 6, 150), (48, 3, 1, 5), (1, 3), (0, 4), (1, 2), 1),
    ((1, 2, 3, 300), (40, 2, 1, 3), 1, (0, 60), (1, 60), 1),
    ((1, 5, 4, 9, 41), (36, 5, 2, 3, 3), 1, 1, 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CHANNEL_TILE_CASES)
def test_channel_vectorised_tiles_match_reference(isa, case, dtype, rng):
    xs, ws, stride, padding, dilation, groups = case
    nd = len(xs) - 2
    x, w = random_array(rng, xs, dtype, "strided"), random_array(rng, ws, dtype)
    b = random_array(rng, ws[:1], dtype)
    per_dim = [padding] * nd if np.isscalar(padding) else padding
    g = dict(stride=(stride,) * nd if np.isscalar(stride) else stride,
             dilation=(dilation,) * nd if np.isscalar(dilation) else dilation,
             padding=tuple((q, q) if np.isscalar(q) else q for q in per_dim), groups=groups)
    ref = _reference(nd, x, w, b, g)
    got = CONV[nd](x, w, b, algorithm="direct", out=_poisoned(ref.shape, dtype), **g)
    assert_close(got, ref, dtype, terms=int(np.prod(ws[1:])), err_msg=isa)


# One-tap layers at stride 1 without padding: column tiles read the bands of the input in
# place and store rows without junk straight into the output when a band ends on a whole
# tile (rows of 64, 96 and 128 pixels; 7 is not).  A padded top row makes the first band
# of a plane a copy and the others in place (16 channels x 70 rows: several bands).
# Channel tiles (a reduction of at least 8 vectors: 160 channels, a padded top row) keep
# their copy.  Unpadded layers with a big tile's output channels or more (4 to 8 by level)
# run as pointwise GEMMs instead (POINTWISE_CASES below).
ONE_TAP_CASES = [
    # x shape, w shape, padding
    ((2, 3, 13, 64), (20, 3, 1, 1), 0),
    ((1, 5, 9, 96), (7, 5, 1, 1), 0),
    ((1, 1, 7, 128), (1, 1, 1, 1), 0),
    ((1, 2, 11, 7), (5, 2, 1, 1), 0),
    ((1, 16, 70, 64), (10, 16, 1, 1), ((1, 0), (0, 0))),
    ((1, 160, 5, 64), (40, 160, 1, 1), ((1, 0), (0, 0))),
    ((1, 3, 4, 6, 64), (10, 3, 1, 1, 1), 0),
    ((1, 3, 5, 6, 64), (10, 3, 1, 1, 1), ((1, 0), (0, 0), (0, 0))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ONE_TAP_CASES)
def test_one_tap_bands_match_reference(isa, case, dtype, rng):
    xs, ws, padding = case
    _check_one_tap(isa, xs, ws, padding, 1, dtype, rng)


def _check_one_tap(isa, xs, ws, padding, groups, dtype, rng):
    """A one-tap layer at stride 1 (padding 0 or per-dimension pairs), strided input and
    a bias, by the direct kernel into a NaN-poisoned output, against the reference."""
    nd = len(xs) - 2
    x, w = random_array(rng, xs, dtype, "strided"), random_array(rng, ws, dtype)
    b = random_array(rng, ws[:1], dtype)
    pads = ((0, 0),) * nd if padding == 0 else padding
    g = dict(stride=(1,) * nd, dilation=(1,) * nd, padding=pads, groups=groups)
    ref = _reference(nd, x, w, b, g)
    got = CONV[nd](x, w, b, algorithm="direct", out=_poisoned(ref.shape, dtype), **g)
    assert_close(got, ref, dtype, terms=int(np.prod(ws[1:])), err_msg=isa)


# One-channel tiles (depthwise layers, image filters) on bands whose rows end in junk
# columns run output row by output row once a row holds two vectors: rows of whole
# 4-vector tiles and tails of 1 to 4 vectors at each level and dtype, 3 taps (shuffled
# at AVX-512 and AVX2) and 5, one input channel per group and three, 2-D and 3-D,
# border modes.
ONE_CHANNEL_ROW_CASES = [
    # x shape, w shape, groups, padding, padding_mode
    ((2, 4, 7, 56), (4, 1, 3, 3), 4, 1, "zeros"),
    ((1, 3, 6, 61), (3, 1, 3, 3), 3, 1, "zeros"),
    ((1, 1, 9, 45), (1, 1, 3, 3), 1, 1, "reflect"),
    ((1, 3, 8, 70), (1, 3, 5, 5), 1, 2, "zeros"),
    ((1, 2, 5, 100), (2, 1, 3, 3), 2, ((0, 1), (0, 2)), "zeros"),
    ((1, 2, 5, 33), (2, 1, 3, 3), 2, 1, "replicate"),
    ((1, 2, 3, 4, 40), (2, 1, 3, 3, 3), 2, 1, "circular"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ONE_CHANNEL_ROW_CASES)
def test_one_channel_rows_match_reference(isa, case, dtype, rng):
    xs, ws, groups, padding, mode = case
    nd = len(xs) - 2
    x, w = random_array(rng, xs, dtype, "strided"), random_array(rng, ws, dtype)
    b = random_array(rng, ws[:1], dtype)
    x[(0, 0) + (1,) * (nd - 1) + (5,)] = np.nan
    x[(0, -1) + (2,) * (nd - 1) + (xs[-1] - 1,)] = np.inf
    pads = ((padding, padding),) * nd if isinstance(padding, int) else padding
    ref = conv_border_ref(x, w, b, pads=pads, groups=groups, padding_mode=mode)
    got = CONV[nd](x, w, b, padding=padding, groups=groups, padding_mode=mode,
                   algorithm="direct", out=_poisoned(ref.shape, dtype))
    assert np.array_equal(np.isnan(got), np.isnan(ref)), isa
    assert_close(got, ref, dtype, terms=int(np.prod(ws[1:])), err_msg=isa)


# One-channel 3x3 layers at stride 1 (depthwise layers, 3x3 image filters) run on strips
# of columns that walk down the input in place: rows of interior strips and of strips
# that load by mask at each end (or, under a border mode, copy their columns mapped by
# it), a last strip of one vector (wider strips are two), several bands of a plane, a
# band of one row, asymmetric padding and padding past the taps' reach, widths of
# exactly one vector at some level and dtype, each border mode.
STRIP_CASES = [
    # x shape, groups, padding, padding_mode
    ((2, 4, 7, 56), 4, 1, "zeros"),
    ((1, 3, 40, 33), 3, ((2, 0), (0, 2)), "zeros"),
    ((1, 1, 5, 80), 1, 1, "zeros"),
    ((1, 2, 1, 17), 2, ((1, 1), (2, 2)), "zeros"),
    ((1, 2, 3, 17), 2, 2, "zeros"),
    ((1, 2, 6, 30), 2, 0, "zeros"),
    ((2, 3, 9, 8), 3, 1, "zeros"),
    ((1, 2, 4, 16), 2, 1, "zeros"),
    ((2, 2, 7, 56), 2, 1, "reflect"),
    ((1, 1, 36, 33), 1, ((2, 0), (0, 2)), "replicate"),
    ((1, 2, 5, 17), 2, 1, "circular"),
    ((1, 3, 4, 40), 3, ((1, 2), (2, 1)), "reflect"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", STRIP_CASES)
def test_strips_match_reference(isa, case, dtype, rng):
    xs, groups, padding, mode = case
    x = random_array(rng, xs, dtype, "strided")
    w = random_array(rng, (xs[1], 1, 3, 3), dtype)
    b = random_array(rng, (xs[1],), dtype)
    x[0, 0, 0, 5] = np.nan
    x[-1, -1, -1, -1] = np.inf
    x[0, -1, xs[2] // 2, 0] = -np.inf
    if groups > 1 and mode == "zeros":
        w[1, 0, 2, 2] = np.inf  # NaN where it meets the zero padding, as with a padded input
    pads = ((padding, padding),) * 2 if isinstance(padding, int) else padding
    ref = conv_border_ref(x, w, b, pads=pads, groups=groups, padding_mode=mode)
    got = convcore.conv2d(x, w, b, padding=padding, groups=groups, padding_mode=mode,
                          algorithm="direct", out=_poisoned(ref.shape, dtype))
    assert np.array_equal(np.isnan(got), np.isnan(ref)), isa
    assert_close(got, ref, dtype, terms=9, err_msg=isa)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_strips_sum_as_the_row_tiles(isa, dtype, mode, rng):
    """A depthwise 3x3 layer on strips gives the bits of the same layer as a 1x3x3 3-D
    layer, which the row tiles run (bias, then tap rows, then taps, in FMAs)."""
    x = random_array(rng, (2, 4, 40, 57), dtype)
    w = random_array(rng, (4, 1, 3, 3), dtype)
    b = random_array(rng, (4,), dtype)
    g = dict(groups=4, padding_mode=mode, algorithm="direct")
    on_strips = convcore.conv2d(x, w, b, padding=1, **g)
    on_rows = convcore.conv3d(x[:, :, None], w[:, :, None], b, padding=(0, 1, 1), **g)
    assert np.array_equal(on_strips, on_rows[:, :, 0]), isa


def test_strips_run_one_channel_3x3_layers_at_stride_1(isa):
    """The plan takes strips for one input and one output channel per group, 3x3, stride
    1, dilation 1, any padding mode, rows of a vector or more; the row tiles otherwise."""
    def tile(xs, ws, groups, stride=1, dilation=1, padding=1, mode="zeros"):
        x, w = np.zeros(xs, np.float32), np.zeros(ws, np.float32)
        g = prepare_conv(2, x, w, None, stride, padding, dilation, groups,
                         padding_mode=mode)[0]
        return convcore._conv.direct_plan(g, np.float32)["tile"]

    assert tile((8, 64, 56, 56), (64, 1, 3, 3), 64) == "strip", isa
    assert tile((1, 1, 512, 512), (1, 1, 3, 3), 1) == "strip", isa
    assert tile((1, 4, 64, 64), (4, 1, 3, 3), 4, padding=((0, 2), (1, 0))) == "strip"
    assert tile((8, 64, 56, 56), (128, 1, 3, 3), 64) != "strip"  # two outputs a group
    assert tile((8, 64, 56, 56), (64, 1, 3, 3), 64, stride=2) != "strip"
    assert tile((8, 64, 56, 56), (64, 1, 3, 3), 64, dilation=2) != "strip"
    assert tile((8, 64, 56, 56), (64, 1, 3, 3), 64, mode="reflect") == "strip"
    assert tile((8, 64, 56, 56), (64, 1, 5, 5), 64, padding=2) != "strip"
    assert tile((8, 64, 3, 3), (64, 1, 3, 3), 64) != "strip"  # rows shorter than a vector


@pytest.mark.parametrize("k", [4, 5, 6, 7])
def test_few_channels_run_on_the_tile_of_fewest_rows(isa, k):
    """4-7 output channels (fewer than a big column tile's) on column tiles compute at most
    one row past the layer's at every level (AVX-512: 4 on 4 x 2 tiles, 5-6 on 6 x 2,
    7 on 8 x 2; AVX2: 4 and 7 on 4 x 3, 5-6 on 6 x 2)."""
    x = np.zeros((16, 8, 64, 64), np.float32)
    w = np.zeros((k, 8, 3, 3), np.float32)
    plan = convcore._conv.direct_plan(prepare_conv(2, x, w, None, 1, 1, 1, 1)[0], np.float32)
    if plan["tile"] != "channels":  # the portable level's tiles along output channels
        assert plan["tile"] in ("big", "mid", "short"), (isa, plan)
        assert -(-k // plan["kb"]) * plan["kb"] - k <= 1, (isa, plan)


# Output channels in blocks of a register tile's channels: where the level has two column
# tiles of as many accumulators (AVX2: 6 x 2 and 4 x 3 vectors), the one whose blocks
# pad fewer channels runs (32 channels: 8 blocks of 4, not 6 blocks of 6 computing 36).
# RGB-stem-like layers (stride 2, split by column phase), 3x3 and 5x5 at stride 1, and
# channel counts that no tile divides, at each level and dtype.
CHANNEL_BLOCK_CASES = [
    # x shape, w shape, stride, padding
    ((2, 3, 19, 90), (32, 3, 3, 3), 2, 1),
    ((1, 4, 9, 61), (64, 4, 3, 3), 1, 1),
    ((2, 5, 8, 33), (16, 5, 5, 5), 1, 2),
    ((1, 3, 7, 50), (20, 3, 3, 3), 1, 0),
    ((1, 2, 6, 41), (6, 2, 3, 3), 1, 1),
    ((1, 3, 5, 6, 40), (8, 3, 3, 3, 3), 1, 1),
    # fewer channels than a big tile's: 4-7 on the tile that computes the fewest rows
    # (at AVX-512 5 and 6 on the short 6 x 2 tile), a LeNet-C1-like 5x5 among them
    ((3, 2, 32, 32), (6, 2, 5, 5), 1, 0),
    ((2, 2, 7, 45), (5, 2, 3, 3), 2, 1),
    ((1, 2, 6, 41), (7, 2, 3, 3), 1, 1),
    ((1, 2, 6, 41), (4, 2, 3, 3), 1, 1),
    # channel tiles with a last block three quarters full (float32: 36 of 48 channels at
    # AVX2's 16-channel blocks, 48 of 64 at AVX-512's 32), and column tiles where the blocks
    # would be emptier (36 channels at AVX-512)
    ((1, 8, 6, 41), (36, 8, 3, 3), 1, 1),
    ((1, 16, 5, 37), (48, 16, 3, 3), 1, 1),
    # bands walked row by row (rows of whole vectors, not a whole number of tiles
    # apart): rows of 40, 48, 56 and 64 end in a last tile of 0 or 2 vectors across the
    # levels and dtypes; rows of 64 of a band split by column phase, whose taps the tiles
    # walk as one flat table (3 channels x 9 taps) or, past its 256 entries, as c, u loops
    # (29 channels x 9 taps), with 5 output channels on 6 x 2 tiles at every level and
    # dtype (with 32 and 8 at some); 4 channels
    ((2, 3, 9, 64), (32, 3, 3, 3), 1, 1),
    ((1, 2, 7, 40), (32, 2, 3, 3), 1, 1),
    ((1, 2, 6, 48), (12, 2, 5, 5), 1, 2),
    ((1, 2, 6, 56), (32, 2, 5, 5), 1, 2),
    ((1, 3, 9, 128), (32, 3, 3, 3), 2, 1),
    ((1, 29, 5, 128), (8, 29, 3, 3), 2, 1),
    ((1, 3, 9, 128), (5, 3, 3, 3), 2, 1),
    ((1, 29, 5, 128), (5, 29, 3, 3), 2, 1),
    ((2, 2, 5, 64), (4, 2, 3, 3), 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CHANNEL_BLOCK_CASES)
def test_channel_blocks_match_reference(isa, case, dtype, rng):
    xs, ws, stride, padding = case
    nd = len(xs) - 2
    x, w = random_array(rng, xs, dtype, "strided"), random_array(rng, ws, dtype)
    b = random_array(rng, ws[:1], dtype)
    x[(0, 1) + (2,) * nd] = np.nan
    g = dict(stride=(stride,) * nd, dilation=(1,) * nd, padding=((padding, padding),) * nd,
             groups=1)
    ref = _reference(nd, x, w, b, g)
    got = CONV[nd](x, w, b, algorithm="direct", out=_poisoned(ref.shape, dtype), **g)
    assert np.array_equal(np.isnan(got), np.isnan(ref)), isa
    assert_close(got, ref, dtype, terms=int(np.prod(ws[1:])), err_msg=isa)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channel_tiles_run_on_blocks_three_quarters_full(isa, dtype):
    """Tiles along output channels (blocks of kb channels) run only on at least one full
    block, the blocks three quarters full on average; emptier blocks took 1.3-2.1x the
    column tiles' time (1 -> 8, 3 -> 16, 16 -> 16 channels...): the column tiles run."""
    def plan(k):
        x, w = np.zeros((1, 16, 24, 24), dtype), np.zeros((k, 16, 5, 5), dtype)
        return convcore._conv.direct_plan(prepare_conv(2, x, w, None, 1, 2, 1, 1)[0], dtype)

    assert plan(512)["tile"] == "channels", isa     # every level has one
    kb = plan(512)["kb"]
    for k in range(1, 3 * kb):
        full = k >= kb and 4 * k >= 3 * (-(-k // kb) * kb)
        assert (plan(k)["tile"] == "channels") == full, (isa, k, plan(k))


# One-channel tiles in blocks of 4 output rows, on kernels of 4 rows or more: each
# input row loaded once per tap for the block's rows.  A band's last rows fewer than a
# block (11 and 9 rows), last blocks of 1-4 vectors (a partial one), several input
# channels, groups, several bands, inf and NaN (an infinite weight beside the zero
# padding), the border modes, and dilated rows (row by row).
ONE_CHANNEL_BLOCK_CASES = [
    # x shape, w shape, groups, padding, dilation, padding_mode
    ((1, 1, 11, 50), (1, 1, 7, 7), 1, 3, 1, "zeros"),
    ((2, 2, 9, 70), (2, 1, 15, 15), 2, 7, 1, "zeros"),
    ((1, 3, 10, 37), (2, 3, 4, 5), 1, 2, 1, "zeros"),
    ((1, 1, 13, 105), (1, 1, 6, 6), 1, 0, 1, "zeros"),
    ((1, 1, 70, 64), (1, 1, 5, 5), 1, 2, 1, "zeros"),
    ((1, 4, 12, 40), (4, 1, 5, 5), 4, 4, (2, 1), "zeros"),
    ((1, 1, 14, 45), (1, 1, 5, 5), 1, 2, 1, "reflect"),
    ((1, 2, 9, 33), (2, 1, 7, 7), 2, 3, 1, "replicate"),
    ((1, 1, 10, 40), (1, 1, 9, 9), 1, 4, 1, "circular"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ONE_CHANNEL_BLOCK_CASES)
def test_one_channel_blocks_match_reference(isa, case, dtype, rng):
    xs, ws, groups, padding, dilation, mode = case
    x, w = random_array(rng, xs, dtype, "strided"), random_array(rng, ws, dtype)
    b = random_array(rng, ws[:1], dtype)
    x[0, 0, 2, 3] = np.nan
    x[-1, -1, -3, -5] = np.inf
    if groups > 1 and mode == "zeros":
        w[1, 0, -1, -1] = np.inf  # NaN where it meets the zero padding
    dil = dilation if isinstance(dilation, tuple) else (dilation,) * 2
    pads = ((padding, padding),) * 2
    ref = conv_border_ref(x, w, b, (1, 1), pads, dil, groups, mode)
    got = convcore.conv2d(x, w, b, padding=padding, dilation=dil, groups=groups,
                          padding_mode=mode, algorithm="direct",
                          out=_poisoned(ref.shape, dtype))
    assert np.array_equal(np.isnan(got), np.isnan(ref)), isa
    assert np.array_equal(np.isinf(got), np.isinf(ref)), isa
    fin = np.isfinite(ref)
    assert_close(got[fin], ref[fin], dtype, terms=int(np.prod(ws[1:])), err_msg=isa)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", [(1, 5, 5), (3, 5, 5)])
def test_one_channel_blocks_in_3d(isa, kernel, dtype, rng):
    """A 3-D depthwise layer: with one kernel plane its bands' tap rows are consecutive
    (blocks of rows), with three they span planes (row by row)."""
    x = random_array(rng, (1, 2, 4, 9, 37), dtype, "strided")
    w, b = random_array(rng, (2, 1) + kernel, dtype), random_array(rng, (2,), dtype)
    x[0, 1, 1, 4, 7] = np.nan
    pads = tuple((k // 2, k // 2) for k in kernel)
    ref = conv_border_ref(x, w, b, pads=pads, groups=2)
    got = convcore.conv3d(x, w, b, padding=tuple(k // 2 for k in kernel), groups=2,
                          algorithm="direct", out=_poisoned(ref.shape, dtype))
    assert np.array_equal(np.isnan(got), np.isnan(ref)), isa
    assert_close(got, ref, dtype, terms=int(np.prod(kernel)), err_msg=isa)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_channel_blocks_have_the_bits_of_single_rows(isa, dtype, rng):
    """An output row computed in a block of rows has the bits of the same row computed on
    its own (a band's last rows): the image shifted down by one row (no padding along
    the rows) moves rows between the blocks and the band's last rows."""
    x = random_array(rng, (1, 1, 17, 77), dtype)
    w, b = random_array(rng, (1, 1, 7, 9), dtype), random_array(rng, (1,), dtype)
    kw = dict(padding=((0, 0), (4, 4)), algorithm="direct")
    full = convcore.conv2d(x, w, b, **kw)
    shifted = convcore.conv2d(np.ascontiguousarray(x[:, :, 1:]), w, b, **kw)
    assert full.shape[2] == 11 and shifted.shape[2] == 10
    np.testing.assert_array_equal(shifted, full[:, :, 1:], err_msg=isa)


# 1-D layers of fewer than 16 images x groups at stride 1: each row in stretches of
# output columns, one work item each, so that one long signal runs on every thread
# (strided rows stay whole).  Border modes (whose columns near the ends are copied),
# dilation, asymmetric padding, one and several channels, a width that leaves a short
# last stretch, and padding so wide that stretches start in it (in place, from the row's
# start) or past the row (on a copy).
STRETCH_CASES = [
    # C, K, width, kernel, stride, dilation, padding, mode
    (1, 1, 5000, 31, 1, 1, ((15, 15),), "zeros"),
    (1, 1, 4099, 7, 1, 3, ((9, 9),), "reflect"),
    (3, 8, 3000, 5, 1, 2, ((4, 1),), "circular"),
    (2, 6, 9000, 3, 1, 1, ((1, 1),), "replicate"),
    (1, 4, 6001, 11, 1, 1, ((0, 0),), "zeros"),
    (1, 2, 3000, 3, 1, 1, ((2500, 2500),), "zeros"),  # stretches of padding only
    (1, 1, 9001, 7, 2, 1, ((3, 3),), "reflect"),      # strided: not cut
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", STRETCH_CASES)
def test_long_signals_run_in_stretches_with_the_rows_bits(isa, case, dtype, rng):
    """One signal is cut into stretches of whole tiles, and every output has the bits of
    the uncut row (the same signal among 16 images, which are not cut) and the
    reference's value."""
    c, k, width, taps, stride, dil, pad, mode = case
    x = random_array(rng, (1, c, width), dtype, "strided")
    w, b = random_array(rng, (k, c, taps), dtype), random_array(rng, (k,), dtype)
    x[0, 0, width // 3] = np.nan
    kw = dict(stride=stride, padding=pad, dilation=dil, padding_mode=mode)
    plan = convcore._conv.direct_plan(
        prepare_conv(1, x, w, None, stride, pad, dil, 1, padding_mode=mode)[0], dtype)
    cut = convcore._conv.direct_plan(
        prepare_conv(1, np.repeat(x, 16, 0), w, None, stride, pad, dil, 1,
                     padding_mode=mode)[0], dtype)
    assert cut["items"] == 16, (isa, cut)                                 # rows whole
    if stride == 1:
        assert plan["items"] >= 2, (isa, plan)
        assert plan["band"] % (plan["nv"] * plan["lanes"]) == 0, (isa, plan)  # whole tiles
    else:
        assert plan["items"] == 1, (isa, plan)
    ref = conv_border_ref(x, w, b, (stride,), pad, (dil,), 1, mode)
    one = CONV[1](x, w, b, algorithm="direct", out=_poisoned(ref.shape, dtype), **kw)
    many = CONV[1](np.repeat(x, 16, 0), w, b, algorithm="direct", **kw)
    assert np.array_equal(one[0], many[0], equal_nan=True), isa
    assert np.array_equal(np.isnan(one), np.isnan(ref)), isa
    assert_close(one, ref, dtype, terms=c * taps, err_msg=isa)


def test_stem_channels_need_no_padded_block(isa):
    """32 output channels (RGB stem) on column tiles whose blocks divide them at every
    level: no FMAs spent on channels past the layer's."""
    x = np.zeros((8, 3, 224, 224), np.float32)
    w = np.zeros((32, 3, 3, 3), np.float32)
    g = prepare_conv(2, x, w, None, 2, 1, 1, 1)[0]
    plan = convcore._conv.direct_plan(g, np.float32)
    assert plan["tile"] in ("big", "mid") and 32 % plan["kb"] == 0, (isa, plan)


# Pointwise layers (1x1, stride 1, unpadded, at least a big tile of output channels per
# group): a GEMM per stretch of pixels, each tile's rows copied side by side.  Several
# stretches per image and a short last one, a last partial tile, several channel blocks
# per item, groups, several slices of input channels (700), 1-D and 3-D; a last block
# of 1-6 output channels at every level (6- and 8-channel blocks: 9, 12, 16, 20, 29, 30).
POINTWISE_CASES = [
    # x shape, w shape, groups
    ((8, 64, 17, 31), (24, 64, 1, 1), 1),
    ((2, 48, 5, 40), (29, 48, 1, 1), 1),
    ((2, 48, 5, 40), (30, 48, 1, 1), 1),
    ((4, 40, 9, 91), (24, 20, 1, 1), 2),
    ((1, 700, 3, 45), (9, 700, 1, 1), 1),
    ((2, 5, 7, 33), (8, 5, 1, 1), 1),
    ((3, 16, 300), (12, 16, 1), 1),
    ((1, 8, 4, 6, 70), (16, 8, 1, 1, 1), 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POINTWISE_CASES)
def test_pointwise_layers_match_reference(isa, case, dtype, rng):
    xs, ws, groups = case
    _check_one_tap(isa, xs, ws, 0, groups, dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_sums_are_those_of_the_other_tiles(isa, dtype, rng):
    """Over several slices of input channels (600: two or more at every level), the
    pointwise GEMM sums as the other tiles do: a column of right padding sends the same
    layer to them, and the columns they share agree bit for bit."""
    x = random_array(rng, (2, 600, 5, 37), dtype)
    w = random_array(rng, (20, 600, 1, 1), dtype)
    b = random_array(rng, (20,), dtype)
    pointwise = convcore.conv2d(x, w, b, algorithm="direct")
    padded = convcore.conv2d(x, w, b, padding=((0, 0), (0, 1)), algorithm="direct")
    assert np.array_equal(pointwise, padded[..., :37])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_bits_do_not_depend_on_where_the_arrays_start(isa, dtype, rng):
    """Planes that fill whole cache lines (24 x 24 pixels): where the output starts inside
    a line, the stretches move back to the lines' starts (pointwise_run), and each pixel
    keeps its sums.  Every start of the output (and of the input) within a line gives
    the bits of the aligned arrays, close to the reference, on one and several threads;
    a large result of conv2d itself starts on a line."""
    x0 = random_array(rng, (3, 40, 24, 24), dtype)
    w = random_array(rng, (20, 40, 1, 1), dtype)
    b = random_array(rng, (20,), dtype)
    lanes = 64 // x0.itemsize
    shape = (3, 20, 24, 24)
    n_out = int(np.prod(shape))
    xbuf = np.empty(x0.size + 2 * lanes, dtype)
    ybuf = np.empty(n_out + 2 * lanes, dtype)
    xs = (-xbuf.ctypes.data % 64) // x0.itemsize
    ys = (-ybuf.ctypes.data % 64) // x0.itemsize
    results = []
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            for off in range(lanes):
                x = xbuf[xs + off:xs + off + x0.size].reshape(x0.shape)
                x[...] = x0
                y = ybuf[ys + lanes - 1 - off:ys + lanes - 1 - off + n_out].reshape(shape)
                assert (y.ctypes.data % 64) // x0.itemsize == lanes - 1 - off
                results.append(convcore.conv2d(x, w, b, algorithm="direct", out=y).copy())
    finally:
        convcore.set_num_threads(None)
    for got in results[1:]:
        assert np.array_equal(got, results[0]), isa
    assert_close(results[0], conv2d_ref(x0, w, b), dtype, terms=40, err_msg=isa)
    big = convcore.conv2d(random_array(rng, (2, 8, 64, 64), dtype), w[:, :8], b)
    assert big.nbytes >= 1 << 16 and big.ctypes.data % 64 == 0


def test_pointwise_layers_propagate_nan_and_keep_their_bits(isa, rng):
    x = random_array(rng, (4, 40, 9, 91), np.float64)
    w = random_array(rng, (24, 40, 1, 1), np.float64)
    x[1, 3, 4, 50], x[2, 7, 0, 90], w[13, 5, 0, 0] = np.nan, np.inf, -np.inf
    ref = conv2d_ref(x, w)
    results = []
    try:
        for n in (1, 3):
            convcore.set_num_threads(n)
            results.append(convcore.conv2d(x, w, algorithm="direct"))
    finally:
        convcore.set_num_threads(None)
    assert np.array_equal(np.isnan(results[0]), np.isnan(ref))
    assert np.array_equal(results[0], results[1], equal_nan=True)
    assert_close(results[0], ref, np.float64, terms=40)


def test_environment_variable_caps_openblas_too():
    """CONVCORE_ISA=generic holds the peers' kernels to a pre-AVX core too (OpenBLAS: NumPy's
    and SciPy's products in the bench; oneDNN), unless OPENBLAS_CORETYPE says otherwise."""
    caps = ("OPENBLAS_CORETYPE", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")
    env = {k: v for k, v in os.environ.items() if k not in caps}
    r = subprocess.run([sys.executable, "-c", "import convcore, os; "
                        "print(os.environ['OPENBLAS_CORETYPE'], os.environ['ONEDNN_MAX_CPU_ISA'])"],
                       capture_output=True, text=True, timeout=120,
                       env={**env, "CONVCORE_ISA": "generic"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["Nehalem", "SSE41"]
    r = subprocess.run([sys.executable, "-c", "import convcore, os; "
                        "print(os.environ['OPENBLAS_CORETYPE'])"], capture_output=True,
                       text=True, timeout=120,
                       env={**env, "CONVCORE_ISA": "generic", "OPENBLAS_CORETYPE": "Zen"})
    assert r.stdout.strip() == "Zen"


def test_a_level_the_cpu_lacks_is_refused(monkeypatch):
    """Whatever this CPU runs: with detection reporting AVX2 only, AVX-512 is refused,
    by set_isa and by CONVCORE_ISA, with the levels the CPU has, and nothing is forced."""
    from convcore import _isa

    before = convcore.get_isa()
    monkeypatch.setattr(_isa, "detected_isa", lambda: "avx2")
    assert convcore.available_isas() == ("generic", "avx2")
    with pytest.raises(ValueError, match=r"ISA level 'avx512' is not supported by this CPU; "
                                         r"it supports generic, avx2"):
        convcore.set_isa("avx512")
    assert convcore.get_isa() == before
    monkeypatch.setenv("CONVCORE_ISA", "AVX512")
    with pytest.raises(ValueError, match=r"CONVCORE_ISA='AVX512': ISA level 'avx512' is not "
                                         r"supported by this CPU"):
        _isa.apply_environment()
    assert convcore.get_isa() == before


@pytest.mark.parametrize("route", ["conv2d_gemm", "grad_weight_gemm"])
def test_set_isa_waits_for_an_im2col_call_in_flight(monkeypatch, rng, route):
    """The im2col route packs its weights, and its weight gradient lays out its parts, for
    the level's GEMM tile: set_isa from another thread waits until such a call is done, so
    the call runs at one level (the thread is still blocked 0.5 s into the kernel; with
    the level not held, set_isa returns at once)."""
    import threading

    from convcore import _conv

    level = convcore.get_isa()
    real = getattr(_conv, route)
    seen = {}

    def wrapped(*args):
        t = threading.Thread(target=convcore.set_isa, args=(level,))
        t.start()
        t.join(timeout=0.5)
        seen["blocked"], seen["thread"] = t.is_alive(), t
        return real(*args)

    monkeypatch.setattr(_conv, route, wrapped)
    x = rng.standard_normal((2, 5, 9, 11))
    w = rng.standard_normal((7, 5, 3, 3))
    go = rng.standard_normal((2, 7, 7, 9))
    if route == "conv2d_gemm":
        got = convcore.conv2d(x, w, algorithm="im2col")
        ref = conv2d_ref(x, w)
    else:
        got = convcore.conv2d_backward(go, x, w, needs=("weight",), algorithm="im2col")[1]
        ref = np.einsum("nkij,ncij->kc", go, x[:, :, :7, :9])  # tap (0, 0) checked below
        got = got[:, :, 0, 0]
    seen["thread"].join(timeout=60)
    assert seen["blocked"], "set_isa did not wait for the call in flight"
    assert not seen["thread"].is_alive()
    assert convcore.get_isa() == level
    assert_close(got, ref, np.float64, terms=45)
