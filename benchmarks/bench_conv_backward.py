"""conv2d backward speed on the layer shapes of bench_conv.py: convcore's algorithms,
convcore's forward pass for scale and, when installed, PyTorch autograd.

Run:
    python -m pytest benchmarks/bench_conv_backward.py                     # full timings
    python -m pytest benchmarks/bench_conv_backward.py -k "vgg and direct" # a subset
    python -m pytest benchmarks/bench_conv_backward.py --benchmark-disable # smoke test
    python -m pytest benchmarks/bench_conv_backward.py --benchmark-json=bwd.json
    python benchmarks/table.py bwd.json                                     # as a table

float32, NCHW, all three gradients (input, weight, bias).  Layers of more than
``MAX_FLOPS`` forward flops are shrunk (batch halved, then height and width) so that a
full run stays short; their names record the shape used.  Implementations:

* ``direct``, ``im2col``, ``auto``: ``convcore.conv2d_backward(..., algorithm=...)``;
* ``forward``: ``convcore.conv2d`` (auto) on the same arrays, the cost to compare with;
* ``torch``: ``torch.autograd.grad`` of a precomputed ``F.conv2d`` graph (the backward
  call only, ``retain_graph=True``).

When timed, ``extra_info['gflops']`` = flops / median time, where the backward passes
count 2 x the forward flops (the input and weight gradients each cost one forward).
"""

import functools
import os
import sys

import numpy as np
import pytest

import convcore

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_conv import LAYERS  # noqa: E402

try:
    import torch
    import torch.nn.functional as torch_f
except ImportError:  # the PyTorch comparison is optional
    torch = None

MAX_FLOPS = 1.0e9


def _shrink(layer):
    """``layer`` with its batch, then its height and width, halved until it is cheap."""
    small = layer
    while small.flops > MAX_FLOPS:
        if small.N > 1:
            small = small._replace(N=small.N // 2)
        else:
            small = small._replace(H=small.H // 2, W=small.W // 2)
    if small != layer:
        small = small._replace(name=f"{layer.name}_as_{small.N}x{small.H}x{small.W}")
    return small


BACKWARD_LAYERS = [_shrink(layer) for layer in LAYERS]
IMPLEMENTATIONS = ["direct", "im2col", "auto", "forward", "torch"]


@functools.cache
def _arrays(layer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((layer.N, layer.C, layer.H, layer.W), dtype=np.float32)
    w = rng.standard_normal((layer.K, layer.C // layer.groups, layer.R, layer.S),
                            dtype=np.float32)
    b = rng.standard_normal(layer.K, dtype=np.float32)
    go = rng.standard_normal((layer.N, layer.K, *layer.out_hw), dtype=np.float32)
    return go, x, w, b


def _callable(layer, impl):
    go, x, w, b = _arrays(layer)
    kw = dict(stride=layer.stride, padding=layer.padding, groups=layer.groups)
    if impl == "forward":
        return lambda: (convcore.conv2d(x, w, b, algorithm="auto", **kw),)
    if impl != "torch":
        return lambda: convcore.conv2d_backward(go, x, w, **kw, algorithm=impl)
    if torch is None:
        pytest.skip("torch is not installed")
    torch.set_num_threads(convcore.get_num_threads())
    leaves = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
    y = torch_f.conv2d(*leaves, **kw)
    tgo = torch.from_numpy(go)

    def run():
        grads = torch.autograd.grad(y, leaves, tgo, retain_graph=True)
        return tuple(g.numpy() for g in grads)

    return run


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("layer", BACKWARD_LAYERS, ids=lambda layer: layer.name)
def test_conv2d_backward(benchmark, layer, impl):
    fn = _callable(layer, impl)
    flops = layer.flops if impl == "forward" else 2 * layer.flops
    benchmark.group = layer.name
    info = convcore.config_info()
    benchmark.extra_info.update(
        layer=layer._asdict(), flops=flops, threads=convcore.get_num_threads(),
        simd=info["kernels"]["conv2d direct"], blas=info["blas"],
        direction="forward" if impl == "forward" else "backward",
    )
    results = benchmark(fn)
    go, x, w, b = _arrays(layer)
    shapes = [go.shape] if impl == "forward" else [x.shape, w.shape, b.shape]
    assert [r.shape for r in results] == shapes
    assert all(np.isfinite(r).all() for r in results)
    if benchmark.stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["gflops"] = flops / benchmark.stats.stats.median / 1e9
