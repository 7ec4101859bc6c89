"""conv2d speed on the cases of ``convcore bench``: convcore's algorithms and the peers.

Run:
    python -m pytest benchmarks/bench_conv.py                       # full timings
    python -m pytest benchmarks/bench_conv.py -k "float32 and vgg"  # a subset
    python -m pytest benchmarks/bench_conv.py --benchmark-disable   # smoke test, one call each
    python -m pytest benchmarks/bench_conv.py -k float32 --benchmark-json=conv.json
    python benchmarks/table.py conv.json                             # as a table

The layers are ``convcore.bench.CONV_CASES`` (the list ``convcore bench`` times) plus
``EXTRA_CONV_CASES`` (older rows of the tables in docs/performance.md), in float32 and
float64, NCHW.
Implementations: ``direct``, ``im2col``, ``auto`` (``convcore.conv2d(...,
algorithm=...)``), ``torch`` (``torch.nn.functional.conv2d``, when installed), and for
one-channel images ``ndimage`` / ``signal`` (``scipy.ndimage.correlate``,
``scipy.signal.correlate2d``).  pytest-benchmark times each one on its own (run
``convcore bench`` for alternating, same-process ratios and the performance targets).
Each result records ``extra_info['flops']`` = 2*N*K*Hout*Wout*(C/groups)*R*S and, when
timed, ``extra_info['gflops']`` = flops / median time.
"""

import functools

import numpy as np
import pytest

import convcore
from convcore.bench import CONV_CASES, DTYPES, EXTRA_CONV_CASES, implementations

LAYERS = CONV_CASES + EXTRA_CONV_CASES
IMPLEMENTATIONS = ["direct", "im2col", "auto", "torch", "ndimage", "signal"]


@functools.cache
def _calls(layer, dtype):
    return implementations("conv", layer, dtype)


def _callable(layer, dtype, impl):
    calls = _calls(layer, dtype)
    if impl not in calls:
        if impl == "torch":
            pytest.skip("torch is not installed")
        pytest.skip(f"{impl} does not apply to {layer.name}")
    if impl == "torch":
        import torch

        torch.set_num_threads(convcore.get_num_threads())
    return calls[impl]


def _name(layer, dtype):
    return layer.name if dtype == "float32" else f"{layer.name} ({dtype})"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_conv2d(benchmark, layer, dtype, impl):
    fn = _callable(layer, dtype, impl)
    benchmark.group = _name(layer, dtype)
    info = convcore.config_info()
    benchmark.extra_info.update(
        layer=dict(layer._asdict(), name=_name(layer, dtype)), dtype=dtype, flops=layer.flops,
        threads=convcore.get_num_threads(), simd=info["kernels"]["conv2d direct"],
        blas=info["blas"],
    )
    y = np.asarray(benchmark(fn))
    assert y.size == layer.N * layer.K * layer.out_hw[0] * layer.out_hw[1]
    assert y.dtype == np.dtype(dtype)
    assert np.isfinite(y).all()
    if benchmark.stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["gflops"] = layer.flops / benchmark.stats.stats.median / 1e9
