"""The tiled product (convcore._matmul.matmul, csrc/driver/matmul.c) against NumPy's
float64 products at every SIMD level, over operand layouts, edges of its blocks, NaN and
inf; the routes that are one product agree with the references on 1 and 2 threads; no
extension module refers to a BLAS gemm; and the BLAS NumPy's products call (the FFT
route's) is held to one thread while they run."""

import glob
import os

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close, results_per_thread_count
from reference import conv2d_ref, conv3d_ref

import convcore
from convcore import _blas, _conv
from convcore._matmul import matmul

ROWS = _conv.MATMUL_ROWS


def _operand(rng, batch, rows, cols, dtype, order):
    """A (batch, rows, cols) stack stored by rows ("C"), by columns ("F": each matrix
    transposed in memory) or every other element of a larger one ("strided")."""
    if order == "F":
        return rng.uniform(-1, 1, (batch, cols, rows)).astype(dtype).transpose(0, 2, 1)
    if order == "strided":
        return rng.uniform(-1, 1, (batch, 2 * rows, 2 * cols)).astype(dtype)[:, ::2, ::2]
    return rng.uniform(-1, 1, (batch, rows, cols)).astype(dtype)


def _reference(a, b, c0, accumulate):
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    return ref + c0 if accumulate else ref


# (batch, M, K, N): one element; edges of the blocks of rows (ROWS) and of 256 columns;
# a reduction longer than any level's slice (128 to 512 rows); k = 0
SHAPES = [(1, 1, 1, 1), (2, ROWS + 1, 70, 257), (1, 5, 600, 33), (1, 2 * ROWS + 3, 9, 3),
          (3, 7, 0, 11)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("orders", [("C", "C"), ("F", "F"), ("strided", "C"), ("C", "F")])
def test_products_match_numpy(isa, rng, dtype, shape, orders):
    batch, M, K, N = shape
    a = _operand(rng, batch, M, K, dtype, orders[0])
    b = _operand(rng, batch, K, N, dtype, orders[1])
    a0, b0 = a.copy(), b.copy()
    for accumulate in (False, True):
        c0 = rng.uniform(-1, 1, (batch, M, N)).astype(dtype)
        c = c0.copy()
        matmul(a, b, c, accumulate=accumulate, n_threads=2)
        assert_close(c, _reference(a, b, c0, accumulate), dtype, terms=K + 1,
                     err_msg=f"{isa} {shape} {orders} accumulate={accumulate}")
    assert np.array_equal(a, a0) and np.array_equal(b, b0)  # inputs untouched


def test_shared_operand_for_the_batch(isa, rng):
    """A batch stride of 0 (one matrix for every entry), on either side, in any layout."""
    for order in ("C", "F", "strided"):
        a = _operand(rng, 1, 40, 30, np.float64, order)
        b = _operand(rng, 4, 30, 300, np.float64, order)
        c = np.empty((4, 40, 300))
        matmul(a, b, c, n_threads=2)
        assert_close(c, np.matmul(a, b), np.float64, terms=30, err_msg=order)
        c = np.empty((4, 300, 40))
        matmul(b.transpose(0, 2, 1), a.transpose(0, 2, 1)[:, :, :40], c, n_threads=2)
        assert_close(c, np.matmul(b.transpose(0, 2, 1), a.transpose(0, 2, 1)), np.float64,
                     terms=30, err_msg=order)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nan_and_inf_propagate(isa, rng, dtype):
    a = rng.uniform(-1, 1, (1, ROWS + 5, 20)).astype(dtype)
    b = rng.uniform(-1, 1, (1, 20, 300)).astype(dtype)
    a[0, 3, 4] = np.nan
    a[0, ROWS + 2, 7] = np.inf
    b[0, 5, 290] = -np.inf
    c = np.empty((1, ROWS + 5, 300), dtype)
    with np.errstate(all="ignore"):
        ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    matmul(a, b, c, n_threads=2)
    assert np.array_equal(np.isnan(c), np.isnan(ref))
    assert np.array_equal(np.isinf(c), np.isinf(ref))
    assert_close(c, ref, dtype, terms=20)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_same_bits_for_any_thread_count(rng, dtype):
    a = rng.uniform(-1, 1, (2, 3 * ROWS + 1, 700)).astype(dtype)
    b = rng.uniform(-1, 1, (2, 700, 513)).astype(dtype)

    def run():
        c = np.empty((2, 3 * ROWS + 1, 513), dtype)
        matmul(a, b, c, n_threads=convcore.get_num_threads())
        return c

    first, *rest = results_per_thread_count(run)
    for other in rest:
        assert np.array_equal(first, other)


def test_no_extension_refers_to_a_blas_gemm():
    """The kernels call no BLAS: no compiled module names an sgemm or dgemm (with
    SciPy's cython_blas cimported, the module holds the names it imports)."""
    modules = glob.glob(os.path.join(os.path.dirname(convcore.__file__), "_*.so"))
    assert modules
    for path in modules:
        with open(path, "rb") as f:
            data = f.read()
        assert b"sgemm" not in data and b"dgemm" not in data, path


# The routes that are one product, 1 and 2 threads, against the float64 references: the
# im2col route (3x3, 1x1, 3-D), Winograd with its weight gradient, a channels-last 1x1
# layer and the transposed convolution.
CASES = [((2, 16, 24, 26), (20, 16, 3, 3), dict(padding=1), "im2col"),
         ((2, 64, 9, 10), (40, 64, 1, 1), dict(), "im2col"),
         ((2, 6, 12, 9), (8, 6, 3, 3), dict(padding=1), "winograd"),
         ((1, 3, 5, 6, 7), (4, 3, 2, 3, 3), dict(padding=1), "im2col")]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[3]}-{len(c[0])}d-{c[1][2]}")
def test_product_routes_match_the_references(rng, dtype, case):
    xs, ws, kw, algo = case
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    if len(xs) == 5:
        f = convcore.conv3d
        ref = conv3d_ref(x.astype(np.float64), w.astype(np.float64), padding=1)
    else:
        f = convcore.conv2d
        p = kw.get("padding", 0)
        ref = conv2d_ref(x.astype(np.float64), w.astype(np.float64), padding=((p, p), (p, p)))
    one, two = results_per_thread_count(lambda: f(x, w, algorithm=algo, **kw), (1, 2))
    assert np.array_equal(one, two)
    assert_close(one, ref, dtype, terms=int(np.prod(ws[1:])))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_winograd_weight_gradient_matches_the_reference(rng, dtype):
    x = rng.standard_normal((4, 16, 20, 20)).astype(dtype)
    w = rng.standard_normal((12, 16, 3, 3)).astype(dtype)
    go = rng.standard_normal((4, 12, 18, 18)).astype(dtype)
    one, two = results_per_thread_count(
        lambda: convcore.conv2d_backward(go, x, w, needs=("weight",),
                                         algorithm="winograd")[1], (1, 2))
    assert np.array_equal(one, two)
    # dL/dw[k, c, r, s] = sum over n, i, j of go[n, k, i, j] x[n, c, i + r, j + s]
    ref = np.zeros(w.shape)
    for r in range(3):
        for s in range(3):
            ref[:, :, r, s] = np.einsum("nkij,ncij->kc", go.astype(np.float64),
                                        x[:, :, r:r + 18, s:s + 18].astype(np.float64))
    assert_close(one, ref, dtype, terms=4 * 18 * 18)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_channels_last_pointwise_matches_the_reference(isa, rng, dtype):
    x = rng.standard_normal((2, 3 * ROWS + 7, 1, 37)).astype(dtype)  # (N, H, W, C)
    w = rng.standard_normal((300, 37, 1, 1)).astype(dtype)
    b = rng.standard_normal(300).astype(dtype)
    got = convcore.conv2d(x, w, b, layout="NHWC")
    ref = conv2d_ref(x.transpose(0, 3, 1, 2), w, b).transpose(0, 2, 3, 1)
    assert_close(got, ref, dtype, terms=37)


def test_every_blas_is_single_threaded_inside_the_context():
    """While NumPy's products run on convcore's threads (the FFT route), every loaded BLAS
    is at one thread, and the callers' counts come back after."""
    before = [c.num_threads for c in _blas._all_blas_controllers()]
    with _blas.single_threaded_blas():
        assert all(c.num_threads == 1 for c in _blas._all_blas_controllers())
    assert [c.num_threads for c in _blas._all_blas_controllers()] == before


# The routes that are one product on the tile: Linear (x @ weight.T, turned over), the
# transposed convolution's per-tap weight gradient and its per-tap route (an infinite
# weight), and operands with a row stride of 0 (a broadcast input).

@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_linear_forward_and_backward_match_numpy(rng, dtype):
    from convcore import nn

    lin = nn.Linear(300, 70, dtype=dtype, rng=np.random.default_rng(1))
    x = rng.standard_normal((50, 300)).astype(dtype)
    g = rng.standard_normal((50, 70)).astype(dtype)
    w, b = lin.weight.astype(np.float64), lin.bias.astype(np.float64)

    def run():
        y = lin(x)
        return y, lin.backward(g), lin.grads["weight"]

    one, two = results_per_thread_count(run, (1, 2))
    for p, q in zip(one, two, strict=True):
        assert np.array_equal(p, q)
    y, gx, gw = one
    assert_close(y, x.astype(np.float64) @ w.T + b, dtype, terms=300)
    assert_close(gx, g.astype(np.float64) @ w, dtype, terms=70)
    assert_close(gw, g.T.astype(np.float64) @ x, dtype, terms=50)


def test_broadcast_rows_are_read_correctly(isa, rng):
    """A row stride of 0 (np.broadcast_to) on either operand, turned over or not."""
    row = rng.standard_normal(10)
    a = np.broadcast_to(row, (1, 64, 10))
    b = rng.standard_normal((1, 10, 10))
    c = np.empty((1, 64, 10))
    matmul(a, b, c, n_threads=2)
    assert_close(c, np.matmul(np.array(a), b), np.float64, terms=10)
    col = np.broadcast_to(rng.standard_normal((1, 10, 1)), (1, 10, 10))  # b_cs 0, b_rs 8
    c2 = np.empty((1, 3, 10))
    small = rng.standard_normal((1, 3, 10))
    matmul(small, col, c2, n_threads=2)  # turned over: its a' has a row stride of 0
    assert_close(c2, np.matmul(small, np.array(col)), np.float64, terms=10)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_turned_over_product_has_the_same_bits(isa, rng, dtype):
    """c += a @ b with b by columns runs turned over (c^T += b^T a^T); it sums each
    element from c in the same order as with b by rows, so the bits agree, inf too."""
    a = rng.standard_normal((2, 3, 500)).astype(dtype)
    b = np.ascontiguousarray(rng.standard_normal((2, 300, 500)).astype(dtype))
    bt = b.transpose(0, 2, 1)  # (2, 500, 300) by columns
    c0 = rng.standard_normal((2, 3, 300)).astype(dtype)
    c0[0, 1, 2] = np.inf
    by_cols, by_rows = c0.copy(), c0.copy()
    matmul(a, bt, by_cols, accumulate=True, n_threads=2)
    matmul(a, np.ascontiguousarray(bt), by_rows, accumulate=True, n_threads=2)
    assert np.array_equal(by_cols, by_rows)
    assert np.isinf(by_cols[0, 1, 2])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_transposed_convolution_products_match_the_references(rng, dtype):
    from transpose_reference import conv_transpose_ref

    x = rng.standard_normal((2, 6, 7, 5)).astype(dtype)
    w = rng.standard_normal((6, 4, 4, 4)).astype(dtype)
    go = rng.standard_normal((2, 4, 16, 12)).astype(dtype)  # (7 - 1) * 2 + 4 = 16
    one, two = results_per_thread_count(
        lambda: convcore.conv_transpose2d_backward(go, x, w, stride=2, needs=("weight",))[1],
        (1, 2))
    assert np.array_equal(one, two)
    # dL/dw[c, k, r, s] = sum over n, i, j of x[n, c, i, j] go[n, k, 2i + r, 2j + s]
    ref = np.zeros(w.shape)
    for r in range(4):
        for s in range(4):
            ref[:, :, r, s] = np.einsum("ncij,nkij->ck", x.astype(np.float64),
                                        go[:, :, r:r + 14:2, s:s + 10:2].astype(np.float64))
    assert_close(one, ref, dtype, terms=2 * 7 * 5)
    w_inf = w.copy()
    w_inf[1, 2, 3, 0] = np.inf  # the per-tap route: one product per tap
    with np.errstate(invalid="ignore", over="ignore"):
        ref = conv_transpose_ref(x, w_inf, stride=2)
    got = convcore.conv_transpose2d(x, w_inf, stride=2)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    assert_close(got, ref, dtype, terms=6 * 4)
