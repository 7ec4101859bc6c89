"""The cost model and parameter counts: the lecture's numbers and hand-computed cases."""

import numpy as np
import pytest

import convcore
from convcore.analysis import (
    conv_macs,
    conv_params,
    fc_params,
    locally_connected_params,
    representation_costs,
)


def test_lecture_sparse_interactions_table():
    c = representation_costs((320, 280), (2, 1))
    conv, sparse, dense = c["convolution"], c["sparse"], c["dense"]
    assert conv.stored_floats == 2 and conv.index_entries == 0
    assert sparse.stored_floats == 178_640
    assert dense.stored_floats == 319 * 280 * 320 * 280
    assert conv.flops == sparse.flops == 267_960 == 319 * 280 * 3
    assert conv.muls == 2 * 319 * 280 and conv.adds == 319 * 280
    assert dense.muls == 319 * 280 * 320 * 280 and abs(dense.flops - 16e9) < 0.1e9
    assert sparse.index_entries == 178_640 + 319 * 280 + 1
    assert conv.bytes == 8 and dense.bytes == 4 * dense.stored_floats
    # the lecture's ratios: ~4 billion times more storage, ~60,000 times more arithmetic
    assert 3.9e9 < dense.stored_floats / conv.stored_floats < 4.1e9
    assert 59_000 < dense.flops / conv.flops < 61_000


def test_costs_match_the_matrix_and_count_padding_as_nothing():
    w = np.ones((4, 3, 3, 3))
    for kw in (dict(padding=1), dict(stride=2, padding=((0, 2), (1, 0))), dict(dilation=2)):
        c = representation_costs((9, 10), (3, 3), in_channels=3, out_channels=4, **kw)
        m = convcore.conv_matrix((3, 9, 10), w, **kw)
        assert c["sparse"].stored_floats == m.nnz == c["convolution"].muls
        assert c["dense"].stored_floats == m.shape[0] * m.shape[1]
        assert c["sparse"].index_entries == m.nnz + m.shape[0] + 1


def test_bias_adds_one_per_output_and_k_floats():
    a = representation_costs((5, 5), (3, 3), out_channels=2)
    b = representation_costs((5, 5), (3, 3), out_channels=2, bias=True)
    outputs = 2 * 3 * 3
    assert b["convolution"].adds - a["convolution"].adds == outputs
    assert b["convolution"].stored_floats - a["convolution"].stored_floats == 2
    # hand count: a valid 3x3 on 5x5 has 9 outputs of 9 terms: 81 muls, 72 adds per channel
    assert a["convolution"].muls == 2 * 81 and a["convolution"].adds == 2 * 72


def test_lecture_parameter_table():
    assert fc_params(32**2, 32**2) == 32**2 * (32**2 + 1) == 1_049_600
    assert locally_connected_params(30, 3) == 30**2 * (3**2 + 1) == 9_000
    assert locally_connected_params(30, 3, in_channels=3) == 30**2 * (3 * 3**2 + 1) == 25_200
    assert conv_params(3, 1, 3) == 3 * 3**2 + 1 == 28
    assert conv_params(3, 4, 3) == 4 * (3 * 3**2 + 1) == 112
    assert fc_params(32 * 32 * 3, 1, bias=False) == 3_072
    assert fc_params(200 * 200 * 3, 1, bias=False) == 120_000
    assert conv_params(64, 64, 3, groups=64) == 64 * 9 + 64


def test_parameter_validation():
    with pytest.raises(ValueError, match="groups"):
        conv_params(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="features"):
        fc_params(0, 3)
    with pytest.raises(TypeError):
        conv_params(3.5, 4, 3)


# --- every algorithm: costs, applicability, auto's choice ---------------------------------

from convcore import _conv as _conv_ext  # noqa: E402
from convcore import _winograd as _winograd_ext  # noqa: E402
from convcore import analysis  # noqa: E402
from convcore._auto import _pointwise_rows, choose_algorithm  # noqa: E402
from convcore._geometry import prepare_conv as _prepare  # noqa: E402
from convcore._isa import isa_levels  # noqa: E402
from convcore.analysis import ALGORITHM_NAMES, algorithm_costs, predicted_seconds  # noqa: E402


def test_algorithm_costs_counts():
    c = algorithm_costs((56, 56), (3, 3), 64, 32, padding=1, batch=2, threads=2)
    assert set(c) == set(ALGORITHM_NAMES)
    outputs = 2 * 32 * 56 * 56
    assert c["im2col"].muls == outputs * 64 * 9            # padding zeros multiplied
    assert c["direct"].muls == c["sparse"].muls < c["im2col"].muls
    assert c["direct"].adds == c["direct"].muls - outputs
    # F(4x4,3x3): 36 GEMM products per 16 outputs instead of 144, plus transforms
    gemm = c["winograd"].muls - (c["winograd"].transform_flops
                                 - (c["winograd"].adds - 36 * 2 * 14 * 14 * 32 * 63))
    assert gemm == 36 * 2 * 14 * 14 * 32 * 64
    assert 3.5 < c["im2col"].muls / c["winograd"].muls < 4
    assert all(v.applicable for k, v in c.items() if k != "dense")
    assert c["winograd"].extra_bytes > 36 * 32 * 64 * 4      # at least the transformed weights
    assert c["dense"].muls == 2 * (32 * 56 * 56) * (64 * 56 * 56)
    assert algorithm_costs((56, 56), (3, 3), 64, 32, bias=True)["fft"].adds > \
        algorithm_costs((56, 56), (3, 3), 64, 32)["fft"].adds


def test_winograd_and_dense_applicability():
    c = algorithm_costs((20, 20), (3, 3), 4, 4, stride=3)
    assert not c["winograd"].applicable and c["winograd"].reason == \
        "winograd needs stride 1 (or 2 on a 2-D layer); got stride (3, 3)"
    # stride 2: the polyphase route, 25 products per 2 x 2 tile and channel pair
    s2 = algorithm_costs((20, 20), (3, 3), 4, 6, stride=2, padding=1, batch=2)
    assert s2["winograd"].applicable and s2["winograd"].muls == 2 * 5 * 5 * 4 * 6 * 25
    assert s2["winograd"].transform_flops == 2 * 25 * (6 * 10 + 4 * 26) + 6 * 4 * 8
    assert algorithm_costs((20,), (3,), 4, 4, stride=2)["winograd"].reason == \
        "winograd needs stride 1 (or 2 on a 2-D layer); got stride (2,)"
    assert algorithm_costs((9,), (5,))["winograd"].reason == \
        "winograd needs a 3-tap kernel; got 5"
    big = algorithm_costs((4096, 4096), (3, 3), 64, 64, padding=1)
    assert not big["dense"].applicable and "memory limit" in big["dense"].reason


def test_taps_inside_matches_counting():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n, k, s, d = (int(v) for v in rng.integers(1, 9, 4))
        p = int(rng.integers(0, 6))
        n_out = (n + 2 * p - d * (k - 1) - 1) // s + 1
        if n_out < 1:
            continue
        o = np.arange(n_out)[:, None] * s - p + np.arange(k)[None, :] * d
        assert analysis._taps_inside(n, n_out, k, s, d, p) == int(((o >= 0) & (o < n)).sum())


def test_fft_costs_grow_with_log_not_kernel():
    small = algorithm_costs((512, 512), (15, 15), padding=7)
    large = algorithm_costs((512, 512), (63, 63), padding=31)
    assert large["direct"].muls / small["direct"].muls > 15
    assert large["fft"].muls / small["fft"].muls < 3


def _geometry(nd, xs, ws, pad):
    return _prepare(nd, np.broadcast_to(np.float32(0), xs), np.broadcast_to(np.float32(0), ws),
                    None, 1, pad, 1, 1)[0]


@pytest.mark.parametrize("level", isa_levels())
def test_auto_takes_the_fast_algorithms_where_the_model_says(level):
    old = (_conv_ext.simd_level(), _winograd_ext.simd_level())
    try:
        _conv_ext.force_simd(level)
        _winograd_ext.force_simd(level)
        analysis._CHOICES.clear()
        predicted = _conv_ext.simd_level()
        vgg = _geometry(2, (1, 256, 56, 56), (256, 256, 3, 3), 1)
        assert choose_algorithm(vgg) == "winograd"
        assert choose_algorithm(_geometry(2, (1, 1, 2048, 2048), (1, 1, 31, 31), 15)) == "fft"
        assert choose_algorithm(_geometry(1, (1, 1, 10**6), (1, 1, 1001), 0)) == "fft"
        for small in (_geometry(2, (1, 3, 32, 32), (8, 3, 3, 3), 1),
                      _geometry(2, (1, 4, 16, 16), (4, 4, 5, 5), 2)):
            assert choose_algorithm(small) in ("direct", "im2col")
        costs = algorithm_costs((56, 56), (3, 3), 256, 256, padding=1)
        t = predicted_seconds(costs, (256, 256), predicted)
        assert set(t) == {k for k, c in costs.items() if c.applicable}
        assert {"direct", "im2col", "winograd", "fft"} <= set(t)
    finally:
        _conv_ext.force_simd(old[0])
        _winograd_ext.force_simd(old[1])
        analysis._CHOICES.clear()


@pytest.mark.parametrize("kg, kb, rows", [
    (64, 6, 64), (66, 6, 66), (65, 6, 66), (9, 6, 10), (8, 6, 8),
    (9, 8, 12), (14, 8, 14), (15, 8, 16), (64, 8, 64)])
def test_pointwise_model_counts_the_rows_the_tiles_compute(kg, kb, rows):
    """Whole blocks, and a short last block on a tile of 2 or 4 rows less where it fits
    (row_pw): 64 channels in blocks of 6 cost 64 rows, 65 cost 66."""
    assert _pointwise_rows(kg, kb) == rows


def test_predicted_seconds_in_float64_and_on_threads():
    """float64 halves the SIMD kernels' rate and takes the FFT's at _FFT_RATE_F64; on
    threads each route is divided by what its work items (or chunks) allow."""
    c32 = algorithm_costs((2048, 2048), (15, 15), padding=7)
    c64 = algorithm_costs((2048, 2048), (15, 15), padding=7, dtype=np.float64)
    t32 = predicted_seconds(c32, (1, 1), "avx2")
    t64 = predicted_seconds(c64, (1, 1), "avx2", dtype=np.float64)
    assert t64["direct"] == pytest.approx(2 * t32["direct"])
    assert t64["im2col"] == pytest.approx(2 * t32["im2col"])
    assert t64["fft"] == pytest.approx(t32["fft"] / analysis._FFT_RATE_F64)
    cost = analysis.AlgorithmCost
    speed = analysis._thread_speedup
    assert speed(cost("direct", 1, 1, 0, work_items=1), 2) == 1.0    # one signal, one row
    assert speed(cost("direct", 1, 1, 0, work_items=3), 2) == 1.5    # 2 + 1 items
    assert speed(cost("direct", 1, 1, 0, work_items=0), 4) == 4.0
    assert speed(cost("fft", 1, 1, 0, work_items=15), 2) == 1.0      # too few chunks
    gain = 1 + analysis._FFT_THREAD_GAIN
    assert speed(cost("fft", 1, 1, 0, work_items=16), 2) == pytest.approx(gain)
    assert c32["fft"].work_items >= 16 and c32["direct"].work_items >= 2
    t2 = predicted_seconds(c32, (1, 1), "avx2", threads=2)
    assert t2["direct"] == pytest.approx(t32["direct"] / speed(c32["direct"], 2))
    assert t2["fft"] == pytest.approx(t32["fft"] / gain)


@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("level", isa_levels())
def test_fft_choice_follows_dtype_not_the_thread_setting(level, cores, monkeypatch):
    """auto takes FFT exactly where the model, in the call's dtype on the kernels' default
    thread count, predicts it faster than direct and im2col; set_num_threads does not
    change the choice (nor so the bits); float64, where the FFT loses less of its rate
    than the SIMD kernels, takes FFT from a kernel size no larger than float32 does."""
    monkeypatch.setattr(analysis, "_machine_threads", lambda: cores)
    old = (_conv_ext.simd_level(), _winograd_ext.simd_level(), convcore.get_num_threads())
    try:
        _conv_ext.force_simd(level)
        _winograd_ext.force_simd(level)
        level = _conv_ext.simd_level()  # clamped to what this CPU runs, as auto sees it
        first = {}
        for dtype in (np.float32, np.float64):
            for k in range(7, 32, 2):
                g = _geometry(2, (1, 1, 2048, 2048), (1, 1, k, k), k // 2)
                c = algorithm_costs((2048, 2048), (k, k), padding=k // 2, dtype=dtype,
                                    threads=cores)
                t = predicted_seconds(c, (1, 1), level, threads=cores, dtype=dtype,
                                      row_blocks=analysis._row_blocks(g, dtype))
                faster = t["fft"] < min(t["direct"], t["im2col"])
                picks = set()
                for n in (1, 2, 3):
                    convcore.set_num_threads(n)
                    analysis._CHOICES.clear()
                    monkeypatch.setattr(convcore._auto, "_CHOSEN", {})
                    picks.add(choose_algorithm(g, dtype))
                assert len(picks) == 1, (level, dtype, k, picks)
                assert (picks.pop() == "fft") == faster, (level, dtype, k, t)
                if faster:
                    first.setdefault(dtype, k)
        assert set(first) == {np.float32, np.float64}, (level, first)  # FFT by 31x31
        assert first[np.float64] <= first[np.float32], (level, first)
    finally:
        _conv_ext.force_simd(old[0])
        _winograd_ext.force_simd(old[1])
        convcore.set_num_threads(old[2])
        analysis._CHOICES.clear()


def test_auto_result_matches_reference_when_winograd():
    from reference import conv2d_ref

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 32, 20, 20)).astype(np.float32)
    w = (rng.standard_normal((32, 32, 3, 3)) / np.sqrt(9 * 32)).astype(np.float32)
    g = _geometry(2, x.shape, w.shape, 1)
    got = convcore.conv2d(x, w, padding=1)
    ref = conv2d_ref(x, w, padding=1)
    assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-4
    assert choose_algorithm(g) in ("winograd", "direct", "im2col")


def test_report_comparison_section(tmp_path, monkeypatch):
    """`convcore report`'s table of every algorithm: costs beside measured times, the
    rules of the inapplicable ones, and the savings plot."""
    from convcore import report

    monkeypatch.setattr(report, "COMPARISON_LAYERS", [
        ("small 3x3", (2, 8, 12, 12), (8, 8, 3, 3), 1),
        ("1-D 11 taps", (1, 1, 300), (1, 1, 11), 0),
    ])
    monkeypatch.setattr(report, "QUICK_COMPARISON", ("small 3x3", "1-D 11 taps"))
    rows = report.algorithm_comparison(quick=True)
    assert [r["layer"] for r in rows] == ["small 3x3", "1-D 11 taps"]
    first = rows[0]["algorithms"]
    assert set(first) == set(ALGORITHM_NAMES)
    for alg in ("direct", "im2col", "winograd", "fft", "sparse", "dense"):
        assert first[alg]["applicable"] and first[alg]["measured_s"] > 0
        assert first[alg]["predicted_s"] > 0
    assert rows[1]["algorithms"]["winograd"]["reason"] == "winograd needs a 3-tap kernel; got 11"
    text = "\n".join(report.format_comparison(rows))
    assert "not applicable: winograd needs a 3-tap kernel" in text and "small 3x3" in text
    pytest.importorskip("matplotlib")
    png = tmp_path / "savings.png"
    report.plot_savings(rows, str(png))
    assert png.stat().st_size > 1000
    assert report._savings_path("a/b.png") == "a/b_algorithms.png"


def test_auto_never_sends_a_row_kernel_to_conv2d_winograd():
    """A conv1d-like conv2d (height 1, 1x3 kernel, many channels) is not 3x3: auto must
    not pick Winograd, which refuses it."""
    from reference import conv2d_ref

    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 32, 1, 64)).astype(np.float32)
    w = rng.standard_normal((32, 32, 1, 3)).astype(np.float32)
    assert choose_algorithm(_geometry(2, x.shape, w.shape, (0, 1))) != "winograd"
    got = convcore.conv2d(x, w, padding=(0, 1))
    ref = conv2d_ref(x, w, padding=((0, 0), (1, 1)))
    assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-5


# 1-D, 3-D and transposed layers: parameters against torch modules, MACs by hand and
# against torch's own flop counter (2 FLOPs per multiply-add)
LAYER_CASES = [  # (torch class, in, out, kernel, stride, padding, groups, input shape)
    ("Conv1d", 16, 32, 5, 2, 2, 1, (16, 101)),
    ("Conv1d", 12, 18, 3, 1, 0, 3, (12, 40)),
    ("Conv3d", 64, 64, 3, 1, 1, 1, (64, 16, 28, 28)),
    ("Conv3d", 4, 6, (2, 3, 1), (1, 2, 1), (0, 1, 0), 2, (4, 5, 9, 7)),
    ("ConvTranspose1d", 8, 6, 4, 2, 1, 2, (8, 33)),
    ("ConvTranspose2d", 128, 64, 4, 2, 1, 1, (128, 32, 32)),
    ("ConvTranspose2d", 6, 9, (3, 2), (2, 3), (1, 0), 3, (6, 7, 5)),
    ("ConvTranspose3d", 8, 4, 3, 2, 1, 1, (8, 4, 5, 6)),
]


@pytest.mark.parametrize("case", LAYER_CASES)
def test_params_and_macs_against_torch(case):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    name, c_in, c_out, k, s, p, groups, shape = case
    transposed = name.startswith("ConvTranspose")
    nd = len(shape) - 1
    layer = getattr(torch.nn, name)(c_in, c_out, k, stride=s, padding=p, groups=groups)
    for bias in (True, False):
        expected = sum(t.numel() for n, t in layer.named_parameters() if bias or n != "bias")
        kernel = k if isinstance(k, tuple) else (k,) * nd
        assert conv_params(c_in, c_out, kernel, groups, bias) == expected
        assert conv_params(c_in, c_out, k, groups, bias, dims=nd) == expected
    with FlopCounterMode(display=False) as counter:
        out = layer(torch.zeros((1, *shape)))
    macs = conv_macs(shape, c_out, k, s, p, groups=groups, transposed=transposed)
    assert 2 * macs == counter.get_total_flops()
    # by hand: every input pixel times every tap (transposed), or every output pixel
    # times its window (forward)
    kernel = k if isinstance(k, tuple) else (k,) * nd
    pixels = int(np.prod(shape[1:] if transposed else out.shape[2:]))
    per_pixel = (c_in * (c_out // groups) if transposed else c_out * (c_in // groups))
    assert macs == pixels * per_pixel * int(np.prod(kernel))


def test_transposed_macs_and_params_bad_arguments():
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        conv_macs((4, 5, 5), 4, 3, stride=2, transposed=True, output_padding=2)
    with pytest.raises(ValueError, match="input_shape must be"):
        conv_macs((4,), 4, 3)
    with pytest.raises(ValueError, match="dims must be 1, 2 or 3"):
        conv_params(3, 4, 3, dims=4)
