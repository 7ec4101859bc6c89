"""padding_mode ('zeros', 'reflect', 'replicate', 'circular') on conv1d/2d/3d and their
gradients, against a NumPy reference that pads the whole input with np.pad and loops
over the outputs (tests/reference.py), and against PyTorch's Conv modules."""

import numpy as np
import pytest
from conftest import assert_close, random_array
from reference import NUMPY_PAD_MODES, conv_border_ref

import convcore
from convcore.backward import fold_padding

MODES = ("reflect", "replicate", "circular", "zeros")
BORDER_MODES = MODES[:3]
FUNCS = {1: convcore.conv1d, 2: convcore.conv2d, 3: convcore.conv3d}
ALGORITHMS = {1: ("direct", "im2col", "auto"), 2: ("direct", "im2col", "auto"),
              3: ("direct", "auto")}


def _same_pads(sizes, ks, dl):
    """'same' at stride 1: total dilation * (k - 1), the odd cell after (as torch)."""
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                 for k, d in zip(ks, dl, strict=True))


def random_config(rng, nd, mode, wide_channels=False):
    """A random call: shapes, stride, dilation, groups, bias and a padding form (int, one
    per dimension, (before, after) pairs or 'same') that the mode allows."""
    groups = int(rng.integers(1, 3))
    C = groups * int(rng.integers(1, 4))
    K = groups * int(rng.choice([1, 3, 8, 24] if wide_channels else [1, 2, 5]))
    small = {1: 40, 2: 14, 3: 7}[nd]
    sizes = tuple(int(v) for v in rng.integers(2, small, nd))
    ks = tuple(int(v) for v in rng.integers(1, 4, nd))
    dl = tuple(int(v) for v in rng.integers(1, 3, nd))
    kind = rng.choice(["int", "per_dim", "pairs", "same"])
    limit = min(sizes) - 1 if mode == "reflect" else min(sizes)
    cap = max(0, min(3, limit))
    if kind == "same" and all(d * (k - 1) // 2 + 1 <= cap + (mode != "reflect")
                              and d * (k - 1) - d * (k - 1) // 2 <= cap
                              for k, d in zip(ks, dl, strict=True)):
        st, padding, pads = (1,) * nd, "same", _same_pads(sizes, ks, dl)
    else:
        st = tuple(int(v) for v in rng.integers(1, 3, nd))
        if kind == "int":
            p = int(rng.integers(0, cap + 1))
            padding, pads = p, ((p, p),) * nd
        elif kind == "per_dim":
            ps = tuple(int(v) for v in rng.integers(0, cap + 1, nd))
            padding, pads = ps, tuple((p, p) for p in ps)
        else:
            pads = tuple((int(a), int(b)) for a, b in rng.integers(0, cap + 1, (nd, 2)))
            padding = pads[0] if nd == 1 else pads
    # the kernel must fit the padded input
    ks = tuple(min(k, (n + a + b - 1) // d + 1)
               for k, n, (a, b), d in zip(ks, sizes, pads, dl, strict=True))
    if padding == "same":
        pads = _same_pads(sizes, ks, dl)
    return dict(groups=groups, C=C, K=K, sizes=sizes, ks=ks, stride=st, dilation=dl,
                padding=padding, pads=pads, bias=bool(rng.integers(0, 2)))


def _arrays(rng, cfg, dtype, layout="C"):
    x = random_array(rng, (2, cfg["C"], *cfg["sizes"]), dtype, layout)
    w = random_array(rng, (cfg["K"], cfg["C"] // cfg["groups"], *cfg["ks"]), dtype)
    b = random_array(rng, (cfg["K"],), dtype) if cfg["bias"] else None
    return x, w, b


def _call(nd, cfg, x, w, b, mode, algorithm="auto"):
    return FUNCS[nd](x, w, b, stride=cfg["stride"], padding=cfg["padding"],
                     dilation=cfg["dilation"], groups=cfg["groups"], padding_mode=mode,
                     algorithm=algorithm)


def _reference(cfg, x, w, b, mode):
    return conv_border_ref(x, w, b, cfg["stride"], cfg["pads"], cfg["dilation"],
                           cfg["groups"], mode)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_numpy_reference(rng, isa, nd, mode, dtype):
    """Random configurations, every algorithm that reads a border mode, at each ISA
    level the CPU has; narrow and wide output-channel counts reach the column tiles and
    the channel tiles of the direct kernel."""
    for trial in range(6):
        cfg = random_config(rng, nd, mode, wide_channels=trial % 2 == 1)
        layout = ("C", "F", "strided", "reversed")[trial % 4]
        x, w, b = _arrays(rng, cfg, dtype, layout)
        ref = _reference(cfg, x, w, b, mode)
        for algorithm in ALGORITHMS[nd]:
            x_before = x.copy()
            got = _call(nd, cfg, x, w, b, mode, algorithm)
            assert got.dtype == dtype
            assert_close(got, ref, dtype, terms=w[0].size,
                         err_msg=f"{algorithm} {cfg}")
            np.testing.assert_array_equal(x, x_before)  # the input is not modified


@pytest.mark.parametrize("mode", BORDER_MODES)
def test_border_differs_from_zero_padding(rng, mode):
    """A border mode really changes the border outputs (the test above could not tell
    a kernel that ignores the mode from one that honours it if the two agreed)."""
    x = rng.uniform(1, 2, (1, 1, 5, 6))
    w = np.ones((1, 1, 3, 3))
    for algorithm in ALGORITHMS[2]:
        y = convcore.conv2d(x, w, padding=1, padding_mode=mode, algorithm=algorithm)
        z = convcore.conv2d(x, w, padding=1, algorithm=algorithm)
        assert np.all(y[0, 0, 0] > z[0, 0, 0])
        np.testing.assert_allclose(y[0, 0, 1:-1, 1:-1], z[0, 0, 1:-1, 1:-1])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", BORDER_MODES)
def test_nan_and_inf_reach_the_outputs_whose_padding_copies_them(rng, nd, mode):
    """A non-finite edge value is read again through the padding (at the positions
    np.pad puts it), unlike zero padding."""
    cfg = random_config(rng, nd, mode)
    x, w, b = _arrays(rng, cfg, np.float64)
    x = x.copy()
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, 3, replace=False)] = [np.nan, np.inf, -np.inf]
    ref = _reference(cfg, x, w, b, mode)
    for algorithm in ALGORITHMS[nd]:
        assert_close(_call(nd, cfg, x, w, b, mode, algorithm), ref, np.float64,
                     err_msg=f"{algorithm} {cfg}")


def test_one_pixel_wide_inputs():
    """Replicate and circular pad a 1-wide input by any allowed amount (circular up to
    the input size), reflect needs padding 0 there."""
    x = np.arange(1.0, 4.0).reshape(1, 1, 3, 1)
    w = np.ones((1, 1, 3, 3))
    for mode, pads in (("replicate", 3), ("circular", 1)):
        ref = conv_border_ref(x, w, None, (1, 1), ((1, 1), (pads, pads)), (1, 1), 1, mode)
        for algorithm in ALGORITHMS[2]:
            got = convcore.conv2d(x, w, padding=(1, pads), padding_mode=mode,
                                  algorithm=algorithm)
            assert_close(got, ref, np.float64)
    with pytest.raises(ValueError, match="width padding"):
        convcore.conv2d(x, w, padding=1, padding_mode="reflect")


@pytest.mark.parametrize("fast", ["winograd", "fft"])
def test_auto_avoids_zero_only_algorithms(monkeypatch, fast):
    """Where auto would pick FFT with zero padding, a border mode makes it pick a route
    that reads the mode; Winograd reads it, so auto keeps it (and the result follows the
    mode either way)."""
    from convcore import _auto, analysis

    monkeypatch.setattr(analysis, "_choose_fast_algorithm", lambda g, dtype=None: fast)
    monkeypatch.setattr(_auto, "_CHOSEN", {})  # answers cached under the real model
    monkeypatch.setattr(convcore.functional, "_REPEATED", {})  # and plans kept under it
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 12, 12))
    w = rng.standard_normal((8, 4, 3, 3))
    g = convcore._geometry.prepare_conv(2, x, w, None, 1, 1, 1, 1, "reflect")[0]
    zeros = convcore._geometry.prepare_conv(2, x, w, None, 1, 1, 1, 1)[0]
    assert _auto.choose_algorithm(zeros) == fast
    expected = ("winograd",) if fast == "winograd" else ("direct", "im2col")
    assert _auto.choose_algorithm(g) in expected
    assert_close(convcore.conv2d(x, w, padding=1, padding_mode="reflect"),
                 conv_border_ref(x, w, None, (1, 1), ((1, 1),) * 2, (1, 1), 1, "reflect"),
                 np.float64)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_winograd_tiles_read_the_border_mode(rng, isa, nd, mode, dtype):
    """3-tap kernels at stride 1 on Winograd: its tile gather maps the padding by the
    mode (inputs smaller and larger than a tile, every padding form the mode allows)."""
    for _ in range(6):
        sizes = tuple(int(v) for v in rng.integers(2, 40 if nd == 1 else 20, nd))
        cap = min(min(sizes) - (mode == "reflect"), 3)
        pads = tuple((int(rng.integers(0, cap + 1)), int(rng.integers(0, cap + 1)))
                     for _ in sizes)
        groups = int(rng.integers(1, 3))
        C, K = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 5))
        x = random_array(rng, (2, C, *sizes), dtype)
        w = random_array(rng, (K, C // groups, *(3,) * nd), dtype)
        b = random_array(rng, (K,), dtype)
        if any(n + a + c < 3 for n, (a, c) in zip(sizes, pads, strict=True)):
            continue
        ref = conv_border_ref(x, w, b, None, pads, None, groups, mode)
        got = FUNCS[nd](x, w, b, padding=pads[0] if nd == 1 else pads, groups=groups,
                        padding_mode=mode, algorithm="winograd")
        assert_close(got, ref, dtype, terms=w[0].size * 4, err_msg=f"{sizes} {pads}")


@pytest.mark.parametrize("mode", MODES)
def test_winograd_runs_across_wide_rows_and_blocks(rng, isa, mode):
    """F(4x4)'s input and output stages read and write runs of up to a vector of tiles
    in one tile row: widths around 4 vectors of tiles (64-67, 130 wide) put runs at
    both edges of a row and in its middle; 3 images of 37 rows split the tiles into
    blocks that end mid-row; a NaN next to the right edge makes NaN every output the
    reference does and none outside the tiles whose patch (or the mode's copy of it)
    holds it."""
    for W, (left, right) in ((64, (1, 1)), (65, (2, 0)), (67, (0, 2)), (130, (1, 2)),
                             (5, (3, 3)), (66, (3, 1))):
        if mode == "reflect" and max(left, right) >= W:
            continue
        x = random_array(rng, (3, 2, 37, W), np.float64)
        w = random_array(rng, (3, 2, 3, 3), np.float64)
        b = random_array(rng, (3,), np.float64)
        pads = ((1, 1), (left, right))
        for dtype in (np.float32, np.float64):
            xd, wd, bd = x.astype(dtype), w.astype(dtype), b.astype(dtype)
            ref = conv_border_ref(xd, wd, bd, None, pads, None, 1, mode)
            got = convcore.conv2d(xd, wd, bd, padding=pads, padding_mode=mode,
                                  algorithm="winograd", out=np.full(ref.shape, np.nan, dtype))
            assert_close(got, ref, dtype, terms=w[0].size * 4, err_msg=f"{W} {pads}")
        xn = x.copy()
        xn[1, 0, 20, W - 1] = np.nan
        ref = conv_border_ref(xn, w, b, None, pads, None, 1, mode)
        got = convcore.conv2d(xn, w, b, padding=pads, padding_mode=mode, algorithm="winograd")
        touched = np.zeros(got.shape, bool)
        touched[1] = _winograd_tiles_reading(xn.shape[2:], pads, mode, (20, W - 1))
        assert np.isnan(got[np.isnan(ref)]).all()
        assert not np.isnan(got[~touched]).any()
        assert_close(got[~touched], ref[~touched], np.float64, terms=w[0].size * 4)


def _winograd_tiles_reading(size, pads, mode, pixel):
    """The outputs of the F(4x4, 3x3) tiles whose 6x6 patch (padded by ``mode``) reads
    input ``pixel``: the only outputs a NaN there may reach."""
    (H, W), ((top, bottom), (left, right)) = size, pads
    index = np.arange(H * W).reshape(H, W)
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    padded = (np.pad(index, pads, mode=np_mode[mode]) if mode in np_mode
              else np.pad(index, pads, constant_values=-1))
    Ho, Wo = H + top + bottom - 2, W + left + right - 2
    touched = np.zeros((Ho, Wo), bool)
    for i in range(0, Ho, 4):
        for j in range(0, Wo, 4):
            if (padded[i:i + 6, j:j + 6] == pixel[0] * W + pixel[1]).any():
                touched[i:i + 4, j:j + 4] = True
    return touched


@pytest.mark.parametrize("mode", MODES)
def test_fold_padding_is_the_adjoint_of_np_pad(rng, mode):
    """<pad(v), g> == <v, fold(g)> for every mode, 1 to 3 dimensions, uneven padding."""
    for nd in (1, 2, 3):
        sizes = tuple(int(v) for v in rng.integers(3, 7, nd))
        pads = tuple((int(rng.integers(0, n if mode != "reflect" else n - 1)),
                      int(rng.integers(0, n if mode != "reflect" else n - 1)))
                     for n in sizes)
        v = rng.standard_normal((2, *sizes))
        padded = np.pad(v, ((0, 0), *pads), mode=NUMPY_PAD_MODES[mode])
        g = rng.standard_normal(padded.shape)
        folded = fold_padding(g, pads, mode)
        assert folded.shape == v.shape
        np.testing.assert_allclose(np.vdot(padded, g), np.vdot(v, folded))


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("mode", BORDER_MODES)
@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col"])
def test_gradients_are_adjoints_of_the_reference(rng, nd, mode, algorithm):
    """The convolution is linear in x and in weight, so for random directions dx, dw:
    <ref(x + dx, w) - ref(x, w), go> == <dx, grad_input> and the same for weight; the
    bias gradient is the sum of grad_output."""
    backward = {1: convcore.conv1d_backward, 2: convcore.conv2d_backward}[nd]
    for _ in range(3):
        cfg = random_config(rng, nd, mode)
        x, w, _ = _arrays(rng, cfg, np.float64)
        ref = _reference(cfg, x, w, None, mode)
        go = rng.standard_normal(ref.shape)
        gi, gw, gb = backward(go, x, w, stride=cfg["stride"], padding=cfg["padding"],
                              dilation=cfg["dilation"], groups=cfg["groups"],
                              padding_mode=mode, algorithm=algorithm)
        dx, dw = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
        along_x = np.vdot(_reference(cfg, dx, w, None, mode), go)
        along_w = np.vdot(_reference(cfg, x, dw, None, mode), go)
        np.testing.assert_allclose(np.vdot(dx, gi), along_x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(np.vdot(dw, gw), along_w, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(gb, go.sum(axis=(0, *range(2, go.ndim))))


# ---- PyTorch as a second oracle


def _torch_module(torch, nd, cfg, mode, w, b):
    cls = getattr(torch.nn, f"Conv{nd}d")
    m = cls(cfg["C"], cfg["K"], cfg["ks"], stride=cfg["stride"], padding=0,
            dilation=cfg["dilation"], groups=cfg["groups"], bias=b is not None,
            padding_mode=mode).double()
    # torch's Conv modules take symmetric padding or 'same'; asymmetric pairs are
    # padded explicitly (F.pad in the module's mode) around a padding-0 module
    m.weight.data = torch.tensor(np.asarray(w, np.float64))
    if b is not None:
        m.bias.data = torch.tensor(np.asarray(b, np.float64))
    pad_arg = [p for pair in reversed(cfg["pads"]) for p in pair]
    torch_mode = "constant" if mode == "zeros" else mode
    return lambda xt: m(torch.nn.functional.pad(xt, pad_arg, mode=torch_mode)), m


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_matches_torch_forward_and_autograd(rng, nd, mode):
    torch = pytest.importorskip("torch")
    backward = {1: convcore.conv1d_backward, 2: convcore.conv2d_backward}.get(nd)
    for trial in range(5):
        cfg = random_config(rng, nd, mode, wide_channels=trial % 2 == 1)
        x, w, b = _arrays(rng, cfg, np.float64)
        run, m = _torch_module(torch, nd, cfg, mode, w, b)
        xt = torch.tensor(x, requires_grad=True)
        yt = run(xt)
        y = _call(nd, cfg, x, w, b, mode)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        if backward is None:
            continue
        go = rng.standard_normal(y.shape)
        yt.backward(torch.tensor(go))
        gi, gw, gb = backward(go, x, w, stride=cfg["stride"], padding=cfg["padding"],
                              dilation=cfg["dilation"], groups=cfg["groups"],
                              padding_mode=mode)
        np.testing.assert_allclose(gi, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(gw, m.weight.grad.numpy(), rtol=1e-10, atol=1e-10)
        if b is not None:
            np.testing.assert_allclose(gb, m.bias.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", BORDER_MODES)
def test_same_padding_matches_torch_module(rng, mode):
    """padding='same' with a border mode is torch's: the odd cell after."""
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((1, 2, 7, 8))
    w = rng.standard_normal((3, 2, 4, 2))
    m = torch.nn.Conv2d(2, 3, (4, 2), padding="same", padding_mode=mode,
                        dilation=(1, 2), bias=False).double()
    m.weight.data = torch.tensor(w)
    ref = m(torch.tensor(x)).detach().numpy()
    for algorithm in ALGORITHMS[2]:
        got = convcore.conv2d(x, w, padding="same", dilation=(1, 2), padding_mode=mode,
                              algorithm=algorithm)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


# ---- layers: padding_mode on Conv1d/2d/3d, Conv3d


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_layers_match_torch_modules(rng, nd, mode):
    """A torch Conv module's state_dict loads into the layer of the same mode; forward
    (train and eval) matches, and so does backward where the library has the gradient
    function; repr names the mode as torch does."""
    torch = pytest.importorskip("torch")
    from convcore import nn

    cls, tcls = getattr(nn, f"Conv{nd}d"), getattr(torch.nn, f"Conv{nd}d")
    t = tcls(4, 6, 3, stride=1, padding=1, groups=2, padding_mode=mode).double()
    layer = cls(4, 6, 3, padding=1, groups=2, padding_mode=mode, dtype=np.float64)
    layer.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    assert set(layer.state_dict()) == set(t.state_dict())
    assert ("padding_mode" in repr(layer)) == (mode != "zeros") == ("padding_mode" in repr(t))
    assert f"padding_mode={mode}" in repr(layer) or mode == "zeros"
    assert f"padding_mode={mode}" in repr(t) or mode == "zeros"
    x = rng.standard_normal((2, 4, *(5,) * nd))
    xt = torch.tensor(x, requires_grad=True)
    yt = t(xt)
    for training in (True, False):
        layer.train(training)
        np.testing.assert_allclose(layer(x), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    go = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(go))
    gi = layer.backward(go)
    np.testing.assert_allclose(gi, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.grads["weight"], t.weight.grad.numpy(), rtol=1e-10,
                               atol=1e-10)


def test_layer_rejects_unknown_mode_and_checks_it_against_the_input():
    from convcore import nn

    with pytest.raises(ValueError, match="padding_mode.*'mirror'"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    layer = nn.Conv1d(1, 1, 3, padding=4, padding_mode="reflect")
    with pytest.raises(ValueError, match="reflect.*length padding \\(4, 4\\).*length is 3"):
        layer(np.zeros((1, 1, 3), np.float32))


def test_summary_and_spec_of_3d_and_1d_layers():
    from convcore import nn

    net = nn.from_spec("input 3x8x16x16, conv3d3-8 p1 reflect, relu, conv3d1x3x3-4 s2")
    layers = [m for m in net if isinstance(m, nn.Conv3d)]
    assert [m.padding_mode for m in layers] == ["reflect", "zeros"]
    assert layers[1].kernel_size == (1, 3, 3)
    assert net.output_shape((1, 3, 8, 16, 16)) == (1, 4, 4, 7, 7)
    summary = net.summary((3, 8, 16, 16))
    text = str(summary)
    # parameters and MACs of conv3d3-8: 3*27*8 + 8 weights, 8*8*16*16 outputs x 81 MACs
    assert "656" in text and f"{8 * 8 * 16 * 16 * 81:,}" in text
    first = next(r for r in summary.rows if r.type == "Conv3d")
    assert (first.params, first.macs, first.activations) == (656, 8 * 8 * 16 * 16 * 81,
                                                             8 * 8 * 16 * 16)
    second = [r for r in summary.rows if r.type == "Conv3d"][1]
    assert (second.params, second.macs) == (8 * 9 * 4 + 4, 4 * 4 * 7 * 7 * 8 * 9)
    one = nn.from_spec("input 2x50, conv1d5-3 p2 circular")
    assert one[0].padding_mode == "circular" and one.output_shape((1, 2, 50)) == (1, 3, 50)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_rows_split_into_edge_and_middle_tiles(rng, isa, mode, dtype):
    """Rows several register tiles wide (up to 64 outputs a tile): the direct kernel runs
    the middle tiles on the input and the edge tiles on copies of their columns; every
    stride, dilation and uneven padding must meet at the seams."""
    for _ in range(8):
        W = int(rng.integers(60, 300))
        S, sw, dw = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        cap = min(W - 1, 2 * S)
        pads = ((int(rng.integers(0, 2)),) * 2,
                (int(rng.integers(0, cap + 1)), int(rng.integers(0, cap + 1))))
        K = int(rng.choice([1, 2, 5, 9]))
        x = random_array(rng, (1, 2, 3, W), dtype)
        w = random_array(rng, (K, 2, 2, S), dtype)
        ref = conv_border_ref(x, w, None, (1, sw), pads, (1, dw), 1, mode)
        got = convcore.conv2d(x, w, stride=(1, sw), padding=pads, dilation=(1, dw),
                              padding_mode=mode, algorithm="direct")
        assert_close(got, ref, dtype, terms=w[0].size, err_msg=f"{W} {S} {sw} {dw} {pads}")
        x1 = x[:, :, 0]
        ref1 = conv_border_ref(x1, w[:, :, 0], None, (sw,), pads[1:], (dw,), 1, mode)
        got1 = convcore.conv1d(x1, w[:, :, 0], stride=sw, padding=pads[1], dilation=dw,
                               padding_mode=mode, algorithm="direct")
        assert_close(got1, ref1, dtype, terms=S * 2)


@pytest.mark.parametrize("mode", BORDER_MODES)
def test_channels_last_layout_reads_the_mode(rng, mode):
    x = rng.standard_normal((2, 7, 9, 3))  # NHWC
    w = rng.standard_normal((5, 3, 3, 2))
    ref = conv_border_ref(x.transpose(0, 3, 1, 2), w, None, (1, 1), ((1, 1), (0, 1)),
                          (1, 1), 1, mode)
    got = convcore.conv2d(x, w, padding=((1, 1), (0, 1)), padding_mode=mode, layout="NHWC")
    assert_close(got, ref.transpose(0, 2, 3, 1), np.float64)
