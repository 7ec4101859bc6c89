"""conv2d backward speed: convcore's algorithms, convcore's forward pass for scale and,
when installed, PyTorch autograd.

Run:
    python -m pytest benchmarks/bench_conv_backward.py                      # full timings
    python -m pytest benchmarks/bench_conv_backward.py -k "vgg and direct"  # a subset
    python -m pytest benchmarks/bench_conv_backward.py --benchmark-disable  # smoke test
    python -m pytest benchmarks/bench_conv_backward.py -k float32 --benchmark-json=bwd.json
    python benchmarks/table.py bwd.json                                      # as a table

All three gradients (input, weight, bias), NCHW, float32 and float64, on two sets of
layers:

* ``convcore.bench.BACKWARD_CASES``: the VGG and ResNet layers at full size, the
  backward cases ``convcore bench`` times;
* every forward layer of bench_conv.py's older list, those of more than ``MAX_FLOPS``
  forward flops shrunk (batch halved, then height and width) so that a run stays short;
  their names record the shape used (``..._as_NxHxW``).

Implementations:

* ``direct``, ``im2col``, ``auto``: ``convcore.conv2d_backward(..., algorithm=...)``;
* ``forward``: ``convcore.conv2d`` (auto) on the same arrays, the cost to compare with;
* ``torch``: ``torch.autograd.grad`` of a precomputed ``F.conv2d`` graph (the backward
  call only, ``retain_graph=True``).

When timed, ``extra_info['gflops']`` = flops / median time, where the backward passes
count 2 x the forward flops (the input and weight gradients each cost one forward).
"""

import functools

import numpy as np
import pytest

import convcore
from convcore.bench import (
    BACKWARD_CASES,
    CONV_CASES,
    DTYPES,
    EXTRA_CONV_CASES,
    implementations,
)

MAX_FLOPS = 1.0e9
# the forward layers of the backward table in docs/performance.md
_SHRUNK = ("vgg_64x224_3x3", "vgg_256x56_3x3", "resnet_128x28_3x3_b8", "resnet_1x1_256to64x56",
           "resnet_512x7_3x3_b8", "alexnet_conv1_11x11_s4", "rgb_stem_3to64x224_3x3",
           "lenet_c1_5x5_b64", "gray_512x512_3x3", "lecture_320x280_2x1", "tiny_8x8_3x3")


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


def _layers():
    by_name = {c.name: c for c in CONV_CASES + EXTRA_CONV_CASES}
    layers = {c.name: c for c in BACKWARD_CASES}
    for name in _SHRUNK:
        small = _shrink(by_name[name])
        layers.setdefault(small.name, small)
    return list(layers.values())


BACKWARD_LAYERS = _layers()
IMPLEMENTATIONS = ["direct", "im2col", "auto", "forward", "torch"]


@functools.cache
def _calls(layer, dtype):
    calls = implementations("backward", layer, dtype)
    calls["forward"] = implementations("conv", layer, dtype)["auto"]
    return calls


def _callable(layer, dtype, impl):
    calls = _calls(layer, dtype)
    if impl not in calls:
        pytest.skip("torch is not installed")
    if impl == "torch":
        import torch

        torch.set_num_threads(convcore.get_num_threads())
    fn = calls[impl]
    return (lambda: (fn(),)) if impl == "forward" else fn


def _name(layer, dtype):
    return layer.name if dtype == "float32" else f"{layer.name} ({dtype})"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", BACKWARD_LAYERS, ids=lambda layer: layer.name)
def test_conv2d_backward(benchmark, layer, dtype, impl):
    fn = _callable(layer, dtype, impl)
    flops = layer.flops if impl == "forward" else 2 * layer.flops
    benchmark.group = _name(layer, dtype)
    info = convcore.config_info()
    benchmark.extra_info.update(
        layer=dict(layer._asdict(), name=_name(layer, dtype)), dtype=dtype, flops=flops,
        threads=convcore.get_num_threads(), simd=info["kernels"]["conv2d direct"],
        blas=info["blas"], direction="forward" if impl == "forward" else "backward",
    )
    results = benchmark(fn)
    out = (layer.N, layer.K, *layer.out_hw)
    x = (layer.N, layer.C, layer.H, layer.W)
    w = (layer.K, layer.C // layer.groups, layer.R, layer.S)
    shapes = [out] if impl == "forward" else [x, w, (layer.K,)]
    assert [tuple(r.shape) for r in results] == shapes
    assert all(np.isfinite(r).all() for r in results)
    if benchmark.stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["gflops"] = flops / benchmark.stats.stats.median / 1e9
