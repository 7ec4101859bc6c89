"""convcore.conv_matrix and conv2d(..., algorithm='sparse') against conv2d and an
independent count of the (output, input) pairs."""

import numpy as np
import pytest
from conftest import assert_close, random_array
from reference import conv2d_ref

import convcore


def touched_pairs_ref(c_in, h, w, k_out, groups, r, s, stride, pad, dilation):
    """Count, by brute force, the (output, input) pairs whose input pixel is inside."""
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = stride, pad, dilation
    hout = (h + pt + pb - dh * (r - 1) - 1) // sh + 1
    wout = (w + pl + pr - dw * (s - 1) - 1) // sw + 1
    count = 0
    for i in range(hout):
        for j in range(wout):
            for u in range(r):
                for v in range(s):
                    ih, iw = i * sh - pt + u * dh, j * sw - pl + v * dw
                    count += 0 <= ih < h and 0 <= iw < w
    return count * k_out * (c_in // groups)


def random_case(rng):
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, kg = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    r, s = (int(v) for v in rng.integers(1, 4, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    pad = tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(2))
    h = max(1, dilation[0] * (r - 1) + 1 - sum(pad[0])) + int(rng.integers(0, 7))
    w = max(1, dilation[1] * (s - 1) + 1 - sum(pad[1])) + int(rng.integers(0, 9))
    return cg * groups, h, w, kg * groups, groups, r, s, stride, pad, dilation


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(40))
def test_matrix_times_image_is_conv2d(seed, dtype):
    rng = np.random.default_rng(400 + seed)
    c, h, w, k, groups, r, s, stride, pad, dilation = random_case(rng)
    x = random_array(rng, (c, h, w), dtype)
    wt = random_array(rng, (k, c // groups, r, s), dtype)
    m = convcore.conv_matrix((c, h, w), wt, stride, pad, dilation, groups)
    expected = conv2d_ref(x[None], wt, None, stride, pad, dilation, groups)[0]
    assert m.dtype == dtype and m.shape == (expected.size, x.size)
    assert_close(m @ x.ravel(), expected.ravel(), dtype, terms=r * s * c)
    assert m.nnz == touched_pairs_ref(c, h, w, k, groups, r, s, stride, pad, dilation)
    assert m.has_canonical_format
    dense = convcore.conv_matrix((c, h, w), wt, stride, pad, dilation, groups, format="dense")
    np.testing.assert_array_equal(dense, m.toarray())
    y = convcore.conv2d(x[None], wt, stride=stride, padding=pad, dilation=dilation,
                        groups=groups, algorithm="sparse")
    assert_close(y[0], expected, dtype, terms=r * s * c)


def test_lecture_edge_detector_counts():
    m = convcore.conv_matrix((1, 320, 280), np.array([[[[1.0], [-1.0]]]], np.float32))
    assert m.shape == (319 * 280, 320 * 280)
    assert m.nnz == 2 * 319 * 280 == 178_640


def test_dense_refused_before_allocating_with_the_figure():
    with pytest.raises(MemoryError, match=r"64\.0 GB \(8,003,072,000 float64\); limit"):
        convcore.conv_matrix((1, 320, 280), np.array([[[[1.0], [-1.0]]]]), format="dense")
    with pytest.raises(MemoryError, match="limit is 0.0 GB"):
        convcore.conv_matrix((1, 4, 4), np.ones((1, 1, 2, 2)), format="dense", max_bytes=10)
    small = convcore.conv_matrix((1, 4, 4), np.ones((1, 1, 2, 2)), format="dense",
                                 max_bytes=9 * 16 * 8)
    assert small.shape == (9, 16)


@pytest.mark.parametrize("bad, error", [
    (dict(input_shape=(1, 4)), ValueError),
    (dict(input_shape=(0, 4, 4)), ValueError),
    (dict(format="coo"), ValueError),
    (dict(weight=np.ones((1, 2, 2, 2))), ValueError),  # 2 channels per group, image has 1
    (dict(weight=np.ones((1, 1, 2, 2), complex)), TypeError),
])
def test_conv_matrix_validation(bad, error):
    args = dict(input_shape=(1, 4, 4), weight=np.ones((1, 1, 2, 2)), format="csr")
    args.update(bad)
    with pytest.raises(error):
        convcore.conv_matrix(args["input_shape"], args["weight"], format=args["format"])


def test_sparse_algorithm_with_bias_batch_and_1d():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 2, 9, 11)), rng.standard_normal((4, 2, 3, 2))
    b = rng.standard_normal(4)
    for kw in (dict(stride=2, padding=1), dict(padding="same", dilation=2)):
        np.testing.assert_allclose(convcore.conv2d(x, w, b, algorithm="sparse", **kw),
                                   convcore.conv2d(x, w, b, algorithm="direct", **kw), rtol=1e-12)
    x1, w1 = rng.standard_normal((2, 3, 20)), rng.standard_normal((4, 3, 3))
    np.testing.assert_allclose(convcore.conv1d(x1, w1, algorithm="sparse"),
                               convcore.conv1d(x1, w1, algorithm="direct"), rtol=1e-12)
