"""The 1-D/3-D pooling, adaptive and unpooling layers: forward and backward against the
functions and the N-d references, summaries and the spec grammar forms."""

import itertools

import numpy as np
import pytest
from pool_nd_reference import (
    adaptive_avg_pool_nd_ref,
    adaptive_max_pool_nd_ref,
    avg_pool_nd_backward_ref,
    max_pool_nd_backward_ref,
)

import convcore
from convcore import nn


def adaptive_avg_backward_ref(g, x_shape, nd):
    """The adjoint of the (linear) adaptive average pool, one unit vector at a time."""
    gx = np.zeros(x_shape)
    for pos in itertools.product(*map(range, x_shape)):
        e = np.zeros(x_shape)
        e[pos] = 1.0
        gx[pos] = float(np.sum(adaptive_avg_pool_nd_ref(e, nd, g.shape[-nd:]) * g))
    return gx


def test_pool3d_layers_match_the_functions_and_references(rng):
    x = rng.standard_normal((2, 3, 5, 7, 8))
    for layer, kwargs in [(nn.MaxPool3d(3, 2, 1, ceil_mode=True),
                           dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
                          (nn.MaxPool3d((2, 1, 2), dilation=(1, 2, 1)),
                           dict(kernel_size=(2, 1, 2), dilation=(1, 2, 1)))]:
        y = layer(x)
        np.testing.assert_array_equal(y, convcore.max_pool3d(x, **kwargs))
        g = rng.standard_normal(y.shape)
        np.testing.assert_allclose(layer.backward(g),
                                   max_pool_nd_backward_ref(g, x, 3, **kwargs), rtol=1e-12)
        layer.eval()
        layer(x)
        np.testing.assert_allclose(layer.backward(g),
                                   max_pool_nd_backward_ref(g, x, 3, **kwargs), rtol=1e-12)
    layer = nn.AvgPool3d(3, 2, 1, count_include_pad=False)
    y = layer(x)
    np.testing.assert_array_equal(y, convcore.avg_pool3d(x, 3, 2, 1, count_include_pad=False))
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(g), avg_pool_nd_backward_ref(
        g, x, 3, 3, 2, 1, count_include_pad=False), rtol=1e-12)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_layers_forward_and_backward(nd, rng):
    shape = (2, 2) + (5, 4, 7)[3 - nd:]
    out = (3, 2, 4)[3 - nd:]
    x = rng.standard_normal(shape)
    avg = getattr(nn, f"AdaptiveAvgPool{nd}d")(out if nd > 1 else out[0])
    y = avg(x)
    np.testing.assert_allclose(y, adaptive_avg_pool_nd_ref(x, nd, out), rtol=1e-12)
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(avg.backward(g), adaptive_avg_backward_ref(g, shape, nd),
                               rtol=1e-12, atol=1e-12)
    mx = getattr(nn, f"AdaptiveMaxPool{nd}d")(out if nd > 1 else out[0])
    y = mx(x)
    ref, idx = adaptive_max_pool_nd_ref(x, nd, out)
    np.testing.assert_array_equal(y, ref)
    expected = np.zeros(shape)
    flat = expected.reshape(4, -1)
    for p in range(4):
        np.add.at(flat[p], idx.reshape(4, -1)[p], g.reshape(4, -1)[p])
    np.testing.assert_allclose(mx.backward(g), expected, rtol=1e-12)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unpool_layers(nd, rng):
    x = rng.standard_normal((2, 3) + (6,) * nd)
    pool = {1: None, 2: nn.MaxPool2d(2), 3: nn.MaxPool3d(2)}[nd]
    if pool is None:
        y, idx = convcore.max_pool1d(x, 2, return_indices=True)
    else:
        y, idx = pool(x), pool._indices
    unpool = getattr(nn, f"MaxUnpool{nd}d")(2)
    up = unpool(y, idx)
    np.testing.assert_array_equal(up, getattr(convcore, f"max_unpool{nd}d")(y, idx, 2))
    assert unpool.output_shape(y.shape) == up.shape
    g = rng.standard_normal(up.shape)
    np.testing.assert_array_equal(unpool.backward(g),
                                  np.take_along_axis(g.reshape(6, -1), idx.reshape(6, -1),
                                                     axis=1).reshape(y.shape))
    bigger = unpool(y, idx, output_size=tuple(n + 1 for n in up.shape[-nd:]))
    assert bigger.shape[-nd:] == tuple(n + 1 for n in up.shape[-nd:])
    with pytest.raises(TypeError, match="indices"):
        unpool(y)


def test_reprs():
    assert repr(nn.MaxPool3d(2, padding=1)) == "MaxPool3d(kernel_size=(2, 2, 2), padding=(1, 1, 1))"
    assert repr(nn.AvgPool3d(3, 1)) == "AvgPool3d(kernel_size=(3, 3, 3), stride=(1, 1, 1))"
    assert repr(nn.AdaptiveMaxPool1d(4)) == "AdaptiveMaxPool1d(output_size=(4,))"
    assert repr(nn.MaxUnpool3d(2, 1)) == "MaxUnpool3d(kernel_size=(2, 2, 2), stride=(1, 1, 1))"


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="padding 2"):
        nn.MaxPool3d(3, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.AvgPool3d((2, 2))
    with pytest.raises(ValueError, match="output_size"):
        nn.AdaptiveAvgPool3d((2, 2))
    with pytest.raises(ValueError, match="MaxPool3d"):
        nn.MaxPool3d(2).output_shape((3, 8, 8))


def test_summary_rows_and_spec_forms():
    s = nn.summary("input 3x16x56x56, maxpool3d2, avgpool3d1x2x2, "
                   "adaptivemaxpool3d1, flatten, fc10")
    assert [r.type for r in s.rows[1:]] == ["MaxPool3d", "AvgPool3d", "AdaptiveMaxPool3d",
                                            "Flatten", "Linear"]
    assert [r.output_shape for r in s.rows[1:4]] == [(3, 8, 28, 28), (3, 8, 14, 14),
                                                     (3, 1, 1, 1)]
    assert [r.params for r in s.rows[1:4]] == [0, 0, 0]
    assert s.rows[1].activations == 3 * 8 * 28 * 28
    s = nn.summary("input 8x100, adaptiveavgpool1d5, maxunpool1d2 s2, adaptivemaxpool1d3")
    assert [r.output_shape for r in s.rows[1:]] == [(8, 5), (8, 10), (8, 3)]
    s = nn.summary("input 4x10x12, adaptivemaxpool5x6, maxunpool2x3 p1, "
                   "adaptiveavgpool2x3")
    assert [r.output_shape for r in s.rows[1:]] == [(4, 5, 6), (4, 8, 16), (4, 2, 3)]


@pytest.mark.parametrize("spec, words", [
    ("input 3x8x8x8, maxpool3d2x2", "3 sizes"),
    ("input 3x8x8x8, maxpool3d2 d2", "unknown option"),
    ("input 3x8, adaptiveavgpool1d2x2", "1 sizes"),
    ("input 3x8x8x8, maxpool3d2, maxunpool3d2 ceil", "unknown option"),
])
def test_bad_spec_forms(spec, words):
    with pytest.raises(ValueError, match=words):
        nn.summary(spec)
