"""Pooling cross-checked against PyTorch's CPU implementation (skipped without torch)."""

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close
from test_pool import KINDS, draw_case, fn, make_input

import convcore

torch = pytest.importorskip("torch")
F = torch.nn.functional


def tensor(a, grad=False):
    return torch.from_numpy(np.ascontiguousarray(a)).requires_grad_(grad)


def torch_kwargs(kwargs):
    """Package keyword arguments in torch's spelling (stride None means the kernel)."""
    out = dict(kwargs)
    if out.get("stride") is None:
        out["stride"] = out["kernel_size"]
    return out


def torch_pool(op, dims, x, g, kwargs):
    """(output, x.grad for the upstream gradient g[, indices]) from torch."""
    xt = tensor(x, grad=True)
    if op == "max":
        y, idx = getattr(F, f"max_pool{dims}d")(xt, **torch_kwargs(kwargs), return_indices=True)
    elif dims == 2:
        y, idx = F.avg_pool2d(xt, **torch_kwargs(kwargs)), None
    else:  # torch's avg_pool1d has no divisor_override: pool a height-1 image
        kw = torch_kwargs(kwargs)
        for name, pad in (("kernel_size", 1), ("stride", 1), ("padding", 0)):
            kw[name] = (pad, kw[name])
        y, idx = F.avg_pool2d(xt.unsqueeze(-2), **kw).squeeze(-2), None
    y.backward(tensor(g))
    return y.detach().numpy(), xt.grad.numpy(), None if idx is None else idx.numpy()


def terms_of(kwargs, dims):
    return int(np.prod(np.broadcast_to(kwargs["kernel_size"], dims)))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("seed", range(8))
def test_max_pool_matches_torch(seed, dims, kind, dtype):
    rng = np.random.default_rng(20000 + 1000 * dims + seed + 100 * KINDS.index(kind))
    x, kwargs, _ = draw_case(rng, dims, dtype, kind, "max")
    y, idx = fn("max_pool{}d", dims)(x, **kwargs, return_indices=True)
    g = rng.standard_normal(y.shape).astype(dtype)
    ty, tgrad, tidx = torch_pool("max", dims, x, g, kwargs)
    assert y.dtype == ty.dtype
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_array_equal(idx, tidx)
    gx = fn("max_pool{}d_backward", dims)(g, x, **kwargs)
    assert gx.dtype == tgrad.dtype
    assert_close(gx, tgrad, dtype, terms=4, err_msg=str(kwargs))
    assert_close(fn("max_pool{}d_backward", dims)(g, x, **kwargs, indices=tidx), tgrad, dtype,
                 terms=4)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("seed", range(10))
def test_avg_pool_matches_torch(seed, dims, dtype):
    rng = np.random.default_rng(30000 + 1000 * dims + seed)
    x, kwargs, _ = draw_case(rng, dims, dtype, "random", "avg")
    y = fn("avg_pool{}d", dims)(x, **kwargs)
    g = rng.standard_normal(y.shape).astype(dtype)
    ty, tgrad, _ = torch_pool("avg", dims, x, g, kwargs)
    assert y.dtype == ty.dtype
    terms = terms_of(kwargs, dims)
    assert_close(y, ty, dtype, terms=2 * terms, err_msg=str(kwargs))
    assert_close(fn("avg_pool{}d_backward", dims)(g, x, **kwargs), tgrad, dtype, terms=2 * terms)


# Windows that overhang the right/bottom edge in ceil mode, or would start in the padding.
CEIL_CASES = [(5, 2, 2, 1), (6, 3, 2, 1), (7, 3, 3, 0), (4, 3, 2, 1), (8, 4, 3, 2),
              (5, 5, 4, 2), (2, 3, 2, 1), (9, 2, 4, 0), (10, 4, 4, 1), (1, 3, 2, 1)]


@pytest.mark.parametrize("cip", [True, False])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("length, k, s, p", CEIL_CASES)
def test_ceil_mode_overhang_matches_torch(length, k, s, p, dtype, cip, rng):
    x = make_input(rng, (2, 3, length + 1, length), dtype, "ties" if cip else "special")
    kwargs = dict(kernel_size=k, stride=s, padding=p, ceil_mode=True)
    ymax = convcore.max_pool2d(x, **kwargs, return_indices=True)
    yavg = convcore.avg_pool2d(x, **kwargs, count_include_pad=cip)
    gmax, gavg = (rng.standard_normal(y.shape).astype(dtype) for y in (ymax[0], yavg))
    ty, tgrad, tidx = torch_pool("max", 2, x, gmax, kwargs)
    np.testing.assert_array_equal(ymax[0], ty)
    np.testing.assert_array_equal(ymax[1], tidx)
    assert_close(convcore.max_pool2d_backward(gmax, x, **kwargs), tgrad, dtype, terms=4)
    kwargs["count_include_pad"] = cip
    ty, tgrad, _ = torch_pool("avg", 2, x, gavg, kwargs)
    assert_close(yavg, ty, dtype, terms=2 * k * k)
    assert_close(convcore.avg_pool2d_backward(gavg, x, **kwargs), tgrad, dtype, terms=2 * k * k)
    x1 = x[:, :, 0]
    assert_close(convcore.avg_pool1d(x1, **kwargs), F.avg_pool1d(tensor(x1), **kwargs), dtype,
                 terms=2 * k)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(5))
def test_adaptive_pools_match_torch(seed, kind, dtype):
    rng = np.random.default_rng(40000 + seed + 100 * KINDS.index(kind))
    h, w = int(rng.integers(1, 21)), int(rng.integers(1, 71))
    x = make_input(rng, (int(rng.integers(1, 4)), 3, h, w), dtype, kind)
    output_size = [(int(rng.integers(1, h + 4)), int(rng.integers(1, w + 4))),
                   int(rng.integers(1, 8)), (None, int(rng.integers(1, 9)))][seed % 3]
    y, idx = convcore.adaptive_max_pool2d(x, output_size, return_indices=True)
    ty, tidx = F.adaptive_max_pool2d(tensor(x), output_size, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    ty = F.adaptive_avg_pool2d(tensor(x), output_size).numpy()
    assert_close(convcore.adaptive_avg_pool2d(x, output_size), ty, dtype, terms=2 * h * w)
    np.testing.assert_array_equal(convcore.global_max_pool2d(x),
                                  F.adaptive_max_pool2d(tensor(x), 1).numpy())
    assert_close(convcore.global_avg_pool2d(x), F.adaptive_avg_pool2d(tensor(x), 1).numpy(),
                 dtype, terms=2 * h * w)
