"""conv3d on every algorithm (direct, im2col + GEMM, Winograd, auto) against the NumPy
reference and PyTorch: random geometries over every option, non-contiguous inputs, NaN and inf,
every SIMD level this CPU supports; and the algorithm auto chooses."""

import numpy as np
import pytest
from conftest import assert_close, random_array, results_per_thread_count
from reference import conv3d_ref, conv_border_ref, same_pad_ref

import convcore
from convcore import _auto
from convcore._geometry import prepare_conv

ALGORITHMS = ("direct", "im2col", "auto")  # Winograd: the tests further down


def _random_call(rng):
    """A random conv3d call: sizes around the tiles' edges, every padding form."""
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, kg = int(rng.integers(1, 4)), int(rng.choice([1, 2, 3, 5, 8, 13, 17]))
    kernel = tuple(int(rng.integers(1, 4)) for _ in range(3))
    stride = tuple(int(rng.choice([1, 1, 2, 3])) for _ in range(3))
    dilation = tuple(int(rng.choice([1, 1, 2])) for _ in range(3))
    form = int(rng.integers(5))
    if form == 0:
        padding = "same"
    elif form == 1:
        padding = "valid"
    elif form == 2:
        padding = int(rng.integers(0, 3))
    elif form == 3:
        padding = tuple(int(rng.integers(0, 3)) for _ in range(3))
    else:
        padding = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(3))
    sizes = []
    for d in range(3):
        span = dilation[d] * (kernel[d] - 1) + 1
        sizes.append(span + int(rng.integers(0, 9 if d == 2 else 4)))
    if padding == "same":
        pads = tuple(same_pad_ref(n, k, s, dl)
                     for n, k, s, dl in zip(sizes, kernel, stride, dilation, strict=True))
    elif padding == "valid":
        pads = ((0, 0),) * 3
    elif isinstance(padding, int):
        pads = ((padding, padding),) * 3
    else:
        pads = tuple((p, p) if isinstance(p, int) else p for p in padding)
    n = int(rng.integers(1, 3))
    return dict(x=(n, cg * groups, *sizes), w=(kg * groups, cg, *kernel), groups=groups,
                stride=stride, dilation=dilation, padding=padding, pads=pads)


def _reference(x, w, b, call):
    return conv3d_ref(x, w, b, stride=call["stride"], padding=call["pads"],
                      dilation=call["dilation"], groups=call["groups"])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(10))
def test_every_algorithm_matches_reference_at_each_level(isa, algorithm, seed, dtype):
    rng = np.random.default_rng(7000 + seed)
    call = _random_call(rng)
    layout = ["C", "F", "strided", "reversed"][seed % 4]
    x = random_array(rng, call["x"], dtype, layout)
    w = random_array(rng, call["w"], dtype, "strided" if seed % 3 == 0 else "C")
    b = random_array(rng, call["w"][:1], dtype) if seed % 2 else None
    ref = _reference(x, w, b, call)
    batched = seed % 5 != 0
    out = np.full(ref.shape if batched else ref.shape[1:], np.nan, dtype)  # unwritten fails
    args = dict(stride=call["stride"], padding=call["padding"], dilation=call["dilation"],
                groups=call["groups"], algorithm=algorithm, out=out)
    got = convcore.conv3d(x if batched else x[0], w, b, **args)
    assert got is out and got.dtype == dtype
    assert_close(got if batched else got[None], ref[:1] if not batched else ref, dtype,
                 terms=int(np.prod(call["w"][1:])), err_msg=f"{isa} {algorithm} {call}")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_nan_and_inf_propagate(algorithm, rng):
    x = random_array(rng, (2, 3, 4, 5, 9), np.float64)
    w = random_array(rng, (5, 3, 3, 2, 3), np.float64)
    x.reshape(-1)[[3, 100, 201]] = [np.nan, np.inf, -np.inf]
    w.reshape(-1)[7] = np.inf  # an infinite weight times the zero padding is NaN
    ref = conv3d_ref(x, w, None, padding=1)
    got = convcore.conv3d(x, w, padding=1, algorithm=algorithm)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    assert_close(got, ref, np.float64, terms=54)


def test_inputs_are_not_modified(rng):
    x = random_array(rng, (1, 4, 5, 6, 7), np.float32, "strided")
    w = random_array(rng, (6, 2, 3, 3, 3), np.float32)
    x0, w0 = x.copy(), w.copy()
    for algorithm in ALGORITHMS:
        convcore.conv3d(x, w, None, 2, "same", 1, 2, algorithm=algorithm)
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


@pytest.mark.parametrize("algorithm, shape", [("im2col", (2, 8, 5, 9, 33)),
                                              ("winograd", (2, 8, 6, 13, 30))])
def test_same_bits_for_any_thread_count(rng, algorithm, shape):
    x = random_array(rng, shape, np.float32)
    w = random_array(rng, (12, 8, 3, 3, 3), np.float32)
    results = results_per_thread_count(
        lambda: convcore.conv3d(x, w, padding=1, algorithm=algorithm))
    for r in results[1:]:
        assert np.array_equal(r, results[0])


@pytest.mark.parametrize("shapes", [((1, 64, 16, 56, 56), (64, 64, 3, 3, 3)),
                                    ((2, 3, 8, 32, 32), (16, 3, 3, 3, 3)),
                                    ((1, 256, 4, 7, 7), (256, 256, 1, 1, 1)),
                                    ((1, 8, 4, 9, 9), (8, 1, 3, 3, 3))])
def test_auto_picks_the_cheaper_route_of_the_cost_model(shapes):
    xs, ws = shapes
    groups = xs[1] // ws[1]
    g = prepare_conv(3, np.broadcast_to(np.float32(0), xs), np.broadcast_to(np.float32(0), ws),
                     None, 1, 1 if ws[2] == 3 else 0, 1, groups)[0]
    cycles = _auto.estimate_cycles(g, np.float32)
    assert set(cycles) == {"direct", "im2col"}
    choice = _auto.choose_algorithm(g, np.float32)
    if shapes[0][1:] == (64, 16, 56, 56):
        assert choice == "winograd"  # the C3D layer: its 2-D planes are a Winograd layer
    elif shapes[1][2:] == (1, 1, 1) or shapes[1][1] < 16:
        # no Winograd (1x1x1 kernel, or under 16 channels per group): the cheaper route
        assert choice == min(cycles, key=lambda name: (cycles[name], name != "direct"))
    else:
        assert choice in ("winograd", min(cycles, key=lambda n: (cycles[n], n != "direct")))


def _random_winograd_call(rng):
    """A random conv3d call Winograd runs: T x 3 x 3 kernel, stride 1, dilation 1, every
    padding form (asymmetric depth padding too), groups, several tiles and planes."""
    groups = int(rng.choice([1, 1, 2]))
    cg, kg = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    kernel = (int(rng.integers(1, 4)), 3, 3)
    form = int(rng.integers(4))
    if form == 0:
        padding = "same"
        pads = tuple(same_pad_ref(0, k, 1, 1) for k in kernel)
    elif form == 1:
        padding, pads = "valid", ((0, 0),) * 3
    elif form == 2:
        padding = int(rng.integers(0, 3))
        pads = ((padding, padding),) * 3
    else:
        pads = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(3))
        padding = pads
    sizes = (kernel[0] + int(rng.integers(0, 5)), 3 + int(rng.integers(0, 12)),
             3 + int(rng.integers(0, 40)))
    return dict(x=(int(rng.integers(1, 3)), cg * groups, *sizes),
                w=(kg * groups, cg, *kernel), groups=groups, padding=padding, pads=pads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(9))
def test_winograd_planes_match_reference_at_each_level(isa, seed, dtype):
    """conv3d's Winograd (the planes of a T x 3 x 3 layer as one 2-D Winograd layer)
    against the NumPy reference: odd sizes, every padding form, groups, bias, strided and
    reversed inputs, batched or not."""
    rng = np.random.default_rng(7700 + seed)
    call = _random_winograd_call(rng)
    if seed == 8:  # wide planes: groups of 16 tiles inside one tile row (lane permutations)
        call.update(x=(1, 2, 4, 6, 160), w=(3, 2, 3, 3, 3), groups=1, padding=0,
                    pads=((0, 0),) * 3)
    x = random_array(rng, call["x"], dtype, ["C", "F", "strided", "reversed"][seed % 4])
    w = random_array(rng, call["w"], dtype, "strided" if seed % 3 == 0 else "C")
    b = random_array(rng, call["w"][:1], dtype) if seed % 2 else None
    ref = conv3d_ref(x, w, b, padding=call["pads"], groups=call["groups"])
    batched = seed % 5 != 0
    out = np.full(ref.shape if batched else ref.shape[1:], np.nan, dtype)  # unwritten fails
    got = convcore.conv3d(x if batched else x[0], w, b, padding=call["padding"],
                          groups=call["groups"], algorithm="winograd", out=out)
    assert got is out
    # Winograd's F(4x4) transforms lose up to ~2 more digits than a direct sum
    assert_close(got if batched else got[None], ref if batched else ref[:1], dtype,
                 terms=int(np.prod(call["w"][1:])) * 100, err_msg=f"{isa} {call}")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_winograd_planes_read_the_border_mode(isa, mode, rng):
    """Depth padding by the mode (a padded copy in depth), height and width by the 2-D
    driver's tile gather."""
    x = random_array(rng, (2, 3, 5, 7, 11), np.float64)
    w = random_array(rng, (4, 3, 3, 3, 3), np.float64)
    b = random_array(rng, (4,), np.float64)
    pads = ((1, 2), (2, 1), (1, 1))
    ref = conv_border_ref(x, w, b, None, pads, None, 1, mode)
    got = convcore.conv3d(x, w, b, padding=pads, padding_mode=mode, algorithm="winograd")
    assert_close(got, ref, np.float64, terms=27 * 3 * 100)


def test_winograd_refuses_other_3d_kernels():
    x = np.zeros((1, 2, 5, 6, 7))
    for w, kw, rule in ((np.zeros((2, 2, 3, 5, 5)), {}, "Tx3x3 kernel; got 3x5x5"),
                        (np.zeros((2, 2, 3, 3, 3)), {"stride": 2}, "stride 1"),
                        (np.zeros((2, 2, 3, 3, 3)), {"dilation": (2, 1, 1)}, "dilation 1")):
        with pytest.raises(ValueError, match=rule):
            convcore.conv3d(x, w, algorithm="winograd", **kw)


def test_matches_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for seed in range(8):
        call = _random_call(np.random.default_rng(7500 + seed))
        x = random_array(rng, call["x"], np.float64)
        w = random_array(rng, call["w"], np.float64)
        b = random_array(rng, call["w"][:1], np.float64)
        pads = call["pads"]
        xt = F.pad(torch.from_numpy(x), tuple(v for p in reversed(pads) for v in p))
        ref = F.conv3d(xt, torch.from_numpy(w), torch.from_numpy(b), call["stride"], 0,
                       call["dilation"], call["groups"]).numpy()
        for algorithm in ALGORITHMS:
            got = convcore.conv3d(x, w, b, call["stride"], call["padding"], call["dilation"],
                                  call["groups"], algorithm=algorithm)
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10,
                                       err_msg=f"{algorithm} {call}")
