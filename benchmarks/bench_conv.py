"""conv2d speed on common layer shapes: convcore's algorithms and, when installed, PyTorch.

Run:
    python -m pytest benchmarks/bench_conv.py                      # full timings
    python -m pytest benchmarks/bench_conv.py -k "vgg and direct"  # a subset
    python -m pytest benchmarks/bench_conv.py --benchmark-disable  # smoke test, one call each

float32, NCHW.  Each result records the convcore configuration and, when timed,
``extra_info['gflops']`` = 2*N*K*Hout*Wout*(C/groups)*R*S / median time.
"""

import functools
from typing import NamedTuple

import numpy as np
import pytest

import convcore

try:
    import torch
    import torch.nn.functional as torch_f
except ImportError:  # the PyTorch comparison is optional
    torch = None


class Layer(NamedTuple):
    name: str
    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    stride: int = 1
    padding: int = 0
    groups: int = 1

    @property
    def out_hw(self):
        return ((self.H + 2 * self.padding - self.R) // self.stride + 1,
                (self.W + 2 * self.padding - self.S) // self.stride + 1)

    @property
    def flops(self):
        hout, wout = self.out_hw
        return 2 * self.N * self.K * hout * wout * (self.C // self.groups) * self.R * self.S


LAYERS = [
    Layer("vgg_64x224_3x3", 1, 64, 224, 224, 64, 3, 3, padding=1),
    Layer("vgg_256x56_3x3", 1, 256, 56, 56, 256, 3, 3, padding=1),
    Layer("resnet_128x28_3x3_b8", 8, 128, 28, 28, 128, 3, 3, padding=1),
    Layer("resnet_1x1_256to64x56", 1, 256, 56, 56, 64, 1, 1),
    Layer("resnet_512x7_3x3_b8", 8, 512, 7, 7, 512, 3, 3, padding=1),
    Layer("alexnet_conv1_11x11_s4", 1, 3, 227, 227, 96, 11, 11, stride=4),
    Layer("rgb_stem_3to64x224_3x3", 1, 3, 224, 224, 64, 3, 3, padding=1),
    Layer("lenet_c1_5x5_b64", 64, 1, 32, 32, 6, 5, 5),
    Layer("gray_512x512_3x3", 1, 1, 512, 512, 1, 3, 3, padding=1),
    Layer("lecture_320x280_2x1", 1, 1, 320, 280, 1, 2, 1),
    Layer("tiny_8x8_3x3", 1, 1, 8, 8, 1, 3, 3),
]

IMPLEMENTATIONS = ["direct", "im2col", "auto", "torch"]


@functools.cache
def _arrays(layer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((layer.N, layer.C, layer.H, layer.W), dtype=np.float32)
    w = rng.standard_normal((layer.K, layer.C // layer.groups, layer.R, layer.S),
                            dtype=np.float32)
    b = rng.standard_normal(layer.K, dtype=np.float32)
    return x, w, b


def _callable(layer, impl):
    x, w, b = _arrays(layer)
    kw = dict(stride=layer.stride, padding=layer.padding, groups=layer.groups)
    if impl != "torch":
        return lambda: convcore.conv2d(x, w, b, algorithm=impl, **kw)
    if torch is None:
        pytest.skip("torch is not installed")
    torch.set_num_threads(convcore.get_num_threads())
    tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)

    def run():
        with torch.inference_mode():
            return torch_f.conv2d(tx, tw, tb, **kw).numpy()

    return run


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_conv2d(benchmark, layer, impl):
    fn = _callable(layer, impl)
    benchmark.group = layer.name
    info = convcore.config_info()
    benchmark.extra_info.update(
        layer=layer._asdict(), flops=layer.flops, threads=convcore.get_num_threads(),
        simd=info["kernels"]["conv2d direct"], blas=info["blas"],
    )
    y = benchmark(fn)
    assert y.shape == (layer.N, layer.K, *layer.out_hw)
    assert np.isfinite(y).all()
    if benchmark.stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["gflops"] = layer.flops / benchmark.stats.stats.median / 1e9
