"""Pooling speed, NCHW: convcore's kernels and, when installed, PyTorch.

Run:
    python -m pytest benchmarks/bench_pool.py -k float32 --benchmark-json=pool.json
    python benchmarks/table.py pool.json
    python -m pytest benchmarks/bench_pool.py --benchmark-disable  # smoke test

The cases are ``convcore.bench.POOL_CASES`` (max/avg 2x2/2 and 3x3/2 on (8, 64, 112,
112), the list ``convcore bench`` times) plus ``EXTRA_POOL_CASES``, in float32 and
float64.  Pooling is bandwidth-bound, so each result records
``extra_info['nbytes']`` = input bytes + output bytes and, when timed,
``extra_info['gbps']`` = nbytes / median time, to compare with the machine's memory
bandwidth (``convcore bench`` measures it).
"""

import functools

import numpy as np
import pytest

import convcore
from convcore.bench import DTYPES, EXTRA_POOL_CASES, POOL_CASES, implementations

POOLS = POOL_CASES + EXTRA_POOL_CASES
IMPLEMENTATIONS = ["convcore", "torch"]


@functools.cache
def _calls(pool, dtype):
    return implementations("pool", pool, dtype)


def _callable(pool, dtype, impl):
    calls = _calls(pool, dtype)
    if impl not in calls:
        pytest.skip("torch is not installed")
    if impl == "torch":
        import torch

        torch.set_num_threads(convcore.get_num_threads())
    return calls[impl]


def _name(pool, dtype):
    return pool.name if dtype == "float32" else f"{pool.name} ({dtype})"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool", POOLS, ids=lambda pool: pool.name)
def test_pool2d(benchmark, pool, dtype, impl):
    fn = _callable(pool, dtype, impl)
    benchmark.group = _name(pool, dtype)
    nbytes = pool.nbytes(dtype)
    benchmark.extra_info.update(layer=dict(pool._asdict(), name=_name(pool, dtype)),
                                dtype=dtype, nbytes=nbytes,
                                threads=convcore.get_num_threads())
    y = benchmark(fn)
    assert y.shape == pool.out_shape and y.dtype == np.dtype(dtype)
    if benchmark.stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["gbps"] = nbytes / benchmark.stats.stats.median / 1e9
