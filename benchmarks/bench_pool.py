"""Pooling speed, NCHW float32: convcore's kernels and, when installed, PyTorch.

Run:
    python -m pytest benchmarks/bench_pool.py --benchmark-json=pool.json
    python benchmarks/table.py pool.json
    python -m pytest benchmarks/bench_pool.py --benchmark-disable  # smoke test

Pooling is bandwidth-bound, so each result records ``extra_info['gbps']`` =
(input bytes + output bytes) / median time, to compare with the machine's memory
bandwidth, next to the PyTorch time on the same arrays in the same process.
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


class Pool(NamedTuple):
    name: str
    op: str  # "max" or "avg"
    shape: tuple
    kernel: int
    stride: int
    padding: int = 0

    @property
    def out_shape(self):
        n, c, h, w = self.shape
        size = [convcore.conv_output_size(s, self.kernel, self.stride, self.padding)
                for s in (h, w)]
        return (n, c, *size)

    @property
    def nbytes(self):
        return 4 * (int(np.prod(self.shape)) + int(np.prod(self.out_shape)))


SHAPE = (8, 64, 112, 112)
POOLS = [
    Pool("max_2x2s2", "max", SHAPE, 2, 2),
    Pool("max_3x3s2p1", "max", SHAPE, 3, 2, 1),
    Pool("avg_2x2s2", "avg", SHAPE, 2, 2),
    Pool("avg_3x3s2p1", "avg", SHAPE, 3, 2, 1),
    Pool("max_3x3s1p1", "max", (1, 64, 56, 56), 3, 1, 1),
    Pool("global_avg_7x7", "avg", (8, 512, 7, 7), 7, 7),
]

IMPLEMENTATIONS = ["convcore", "torch"]


@functools.cache
def _input(shape):
    return np.random.default_rng(0).standard_normal(shape, dtype=np.float32)


def _callable(pool, impl):
    x = _input(pool.shape)
    args = (pool.kernel, pool.stride, pool.padding)
    if impl == "convcore":
        fn = convcore.max_pool2d if pool.op == "max" else convcore.avg_pool2d
        return lambda: fn(x, *args)
    if torch is None:
        pytest.skip("torch is not installed")
    torch.set_num_threads(convcore.get_num_threads())
    tx = torch.from_numpy(x)
    fn = torch_f.max_pool2d if pool.op == "max" else torch_f.avg_pool2d

    def run():
        with torch.inference_mode():
            return fn(tx, *args).numpy()

    return run


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("pool", POOLS, ids=lambda pool: pool.name)
def test_pool2d(benchmark, pool, impl):
    fn = _callable(pool, impl)
    benchmark.group = pool.name
    benchmark.extra_info.update(layer=pool._asdict(), nbytes=pool.nbytes,
                                threads=convcore.get_num_threads())
    y = benchmark(fn)
    assert y.shape == pool.out_shape
    if benchmark.stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["gbps"] = pool.nbytes / benchmark.stats.stats.median / 1e9
