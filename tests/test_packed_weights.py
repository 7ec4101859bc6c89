"""The direct kernel's packed weights kept between calls for read-only weight arrays
(convcore/_packed.py): same results as packing every call, at every SIMD level, and never
a stale packing."""

import gc

import numpy as np
import pytest
from conftest import assert_close, random_array
from reference import conv2d_ref

import convcore
from convcore import _packed, nn


def _ref(x, w, stride=1, padding=0):
    return conv2d_ref(x, w, stride=(stride, stride), padding=((padding,) * 2,) * 2)


def _close(got, x, w, **kw):
    assert_close(got, _ref(x, w, **kw), np.float32, terms=w[0].size)


def _read_only(a):
    a = np.array(a)  # owns its memory
    a.flags.writeable = False
    return a


def test_read_only_weights_give_the_packing_every_call_gives(isa, rng):
    x = random_array(rng, (2, 20, 9, 11), np.float32)
    w = random_array(rng, (40, 20, 3, 3), np.float32)
    ro = _read_only(w)
    want = convcore.conv2d(x, w, padding=1, algorithm="direct")
    for _ in range(3):  # the first call packs and keeps, the others reuse
        got = convcore.conv2d(x, ro, padding=1, algorithm="direct")
        np.testing.assert_array_equal(got, want)
    _close(got, x, w, padding=1)
    assert id(ro) in _packed._CACHE


def test_writeable_weights_and_views_are_never_kept(rng):
    x = random_array(rng, (1, 4, 8, 8), np.float32)
    w = random_array(rng, (8, 4, 3, 3), np.float32)
    view = _read_only(np.concatenate([w, w]))[:8]
    for weight in (w, view):
        convcore.conv2d(x, weight, algorithm="direct")
        assert id(weight) not in _packed._CACHE
    w[0, 0, 0, 0] += 1.0  # a writeable array changes freely
    _close(convcore.conv2d(x, w, algorithm="direct"), x, w)


def test_a_changed_geometry_or_level_repacks(rng):
    w = _read_only(random_array(rng, (40, 6, 3, 3), np.float32))
    for shape, stride in (((1, 6, 30, 30), 1), ((1, 6, 5, 3), 2), ((2, 6, 30, 30), 1)):
        x = random_array(rng, shape, np.float32)
        _close(convcore.conv2d(x, w, stride=stride, algorithm="direct"), x, w, stride=stride)
    level = convcore.get_isa()
    try:
        for other in convcore.available_isas():
            convcore.set_isa(other)
            _close(convcore.conv2d(x, w, algorithm="direct"), x, w)
    finally:
        convcore.set_isa(level)


def test_values_changed_behind_the_flag_are_caught(rng):
    x = random_array(rng, (1, 20, 7, 7), np.float32)
    w = _read_only(random_array(rng, (64, 20, 3, 3), np.float32))
    convcore.conv2d(x, w, padding=1, algorithm="direct")
    w.flags.writeable = True  # allowed for an array that owns its memory
    w *= -2.0
    w.flags.writeable = False
    _close(convcore.conv2d(x, w, padding=1, algorithm="direct"), x, w, padding=1)


def test_the_entry_goes_with_the_array(rng):
    w = _read_only(random_array(rng, (16, 3, 3, 3), np.float32))
    convcore.conv2d(random_array(rng, (1, 3, 8, 8), np.float32), w, algorithm="direct")
    ident = id(w)
    assert ident in _packed._CACHE
    del w
    gc.collect()
    assert ident not in _packed._CACHE


def test_folded_layers_are_read_only_and_reuse_their_packing(rng):
    conv, bn = nn.Conv2d(8, 32, 3, padding=1, rng=0), nn.BatchNorm2d(32).eval()
    bn.running_mean[:] = rng.standard_normal(32)
    folded = nn.fold_batchnorm(conv, bn)
    assert not folded.weight.flags.writeable and not folded.bias.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        folded.weight[0] = 0.0
    x = random_array(rng, (2, 8, 12, 12), np.float32)
    folded.algorithm = "direct"
    first, second = folded(x), folded(x)
    np.testing.assert_array_equal(first, second)
    assert_close(first, bn(conv.eval()(x)), np.float32, terms=8 * 9)


def test_auto_counts_the_packing_it_saves():
    """Kept weights make the direct route cheaper by exactly the packing the model counts
    (never dearer), and the choice follows the cheaper route."""
    from convcore._auto import PACK_CYCLES_PER_WEIGHT, choose_algorithm, estimate_cycles
    from convcore._geometry import prepare_conv

    x, w = np.zeros((1, 512, 7, 7), np.float32), np.zeros((512, 512, 3, 3), np.float32)
    g = prepare_conv(2, x, w, None, 1, 1, 1, 1)[0]
    cold, kept = estimate_cycles(g), estimate_cycles(g, weights_kept=True)
    assert cold["direct"] - kept["direct"] == pytest.approx(w.size * PACK_CYCLES_PER_WEIGHT)
    assert cold["im2col"] == kept["im2col"]
    assert choose_algorithm(g, weights_kept=True) == min(kept, key=kept.get)


def test_the_functional_choice_does_not_depend_on_the_flag(rng):
    """auto in conv2d never looks at the weight's flags (read-only weights give the same
    bits as writeable ones); a folded layer counts its kept packing in its own choice."""
    from convcore._auto import choose_algorithm
    from convcore._geometry import prepare_conv

    x = random_array(rng, (1, 256, 14, 14), np.float32)
    w = random_array(rng, (256, 256, 3, 3), np.float32)
    np.testing.assert_array_equal(convcore.conv2d(x, w, padding=1),
                                  convcore.conv2d(x, _read_only(w), padding=1))
    conv = nn.Conv2d(256, 256, 3, padding=1, bias=False, rng=0)
    folded = nn.fold_batchnorm(conv, nn.BatchNorm2d(256).eval())
    g = prepare_conv(2, x, folded.weight, None, 1, 1, 1, 1)[0]
    assert folded._algorithm_for(x) == choose_algorithm(g, np.float32, weights_kept=True)
    assert conv._algorithm_for(x) == "auto"
