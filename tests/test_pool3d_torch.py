"""3-D, adaptive and unpooling cross-checked against PyTorch's CPU implementation
(forward values and indices, and gradients against torch.autograd; skipped without
torch)."""

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close
from test_pool3d import KINDS, draw_case, draw_shape, draw_unpool_case, make_input
from test_pool_torch import tensor, torch_kwargs

import convcore

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(6))
def test_max_pool3d_matches_torch(seed, kind, dtype):
    rng = np.random.default_rng(40000 + seed + 100 * KINDS.index(kind))
    x, kwargs, _ = draw_case(rng, dtype, kind, "max", fast=seed % 2 == 1)
    y, idx = convcore.max_pool3d(x, **kwargs, return_indices=True)
    xt = tensor(x, grad=True)
    ty, tidx = F.max_pool3d(xt, **torch_kwargs(kwargs), return_indices=True)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    g = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(tensor(g))
    gx = convcore.max_pool3d_backward(g, x, **kwargs)
    assert_close(gx, xt.grad.numpy(), dtype, terms=27)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", ["random", "special"])
@pytest.mark.parametrize("seed", range(6))
def test_avg_pool3d_matches_torch(seed, kind, dtype):
    rng = np.random.default_rng(41000 + seed + 100 * (kind == "special"))
    while True:  # torch's avg_pool3d refuses an input smaller than the kernel, padded or not
        x, kwargs, _ = draw_case(rng, dtype, kind, "avg", fast=seed % 2 == 1)
        if all(n >= k for n, k in zip(x.shape[-3:], np.broadcast_to(kwargs["kernel_size"], 3),
                                      strict=True)):
            break
    y = convcore.avg_pool3d(x, **kwargs)
    xt = tensor(x, grad=True)
    ty = F.avg_pool3d(xt, **torch_kwargs(kwargs))
    assert_close(y, ty.detach().numpy(), dtype, terms=27, err_msg=str(kwargs))
    g = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(tensor(g))
    assert_close(convcore.avg_pool3d_backward(g, x, **kwargs), xt.grad.numpy(), dtype,
                 terms=27, err_msg=str(kwargs))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("nd", [1, 3])
@pytest.mark.parametrize("seed", range(5))
def test_adaptive_pools_match_torch(seed, nd, dtype):
    rng = np.random.default_rng(42000 + 10 * nd + seed)
    x = make_input(rng, draw_shape(rng, nd, big=True), dtype, "ties" if seed % 2 else "random")
    out = tuple(int(rng.integers(1, 2 * n + 2)) for n in x.shape[-nd:])
    arg = out[0] if nd == 1 else out
    y = getattr(convcore, f"adaptive_avg_pool{nd}d")(x, arg)
    assert_close(y, getattr(F, f"adaptive_avg_pool{nd}d")(tensor(x), arg).numpy(), dtype,
                 terms=50)
    y, idx = getattr(convcore, f"adaptive_max_pool{nd}d")(x, arg, return_indices=True)
    ty, tidx = getattr(F, f"adaptive_max_pool{nd}d")(tensor(x), arg, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_max_unpool_matches_torch(seed, nd, dtype):
    rng = np.random.default_rng(43000 + 10 * nd + seed)
    y, idx, (k, s, p), default, out = draw_unpool_case(rng, nd, dtype, "random")
    if y.ndim == nd + 1:  # torch's unpool wants (N, C, ...) for a given output_size
        y, idx = y[None], idx[None]
    got = getattr(convcore, f"max_unpool{nd}d")(y, idx, k, s, p, output_size=out)
    yt = tensor(y, grad=True)
    ref = getattr(F, f"max_unpool{nd}d")(yt, torch.from_numpy(idx), k, s, p,
                                         output_size=out)
    np.testing.assert_array_equal(got, ref.detach().numpy())
    g = rng.standard_normal(got.shape).astype(dtype)
    ref.backward(tensor(g))
    np.testing.assert_array_equal(convcore.max_unpool_backward(g, idx, nd), yt.grad.numpy())
