"""``convcore bench``: convcore's algorithms against the installed peers, same arrays,
same process, alternating.

For every case (a convolution, a pooling, or the backward pass of a convolution, in
float32 and float64) the runner builds the arrays once, checks once that every peer
computes what convcore computes, warms every implementation up, then times them in
turn, round after round, the first one rotating each round, so that a burst of load
from other processes falls on all of them alike; it reports medians.

Metrics
-------
- convolution: GFLOP/s = 2 * N * K * Hout * Wout * (C / groups) * R * S / time; a
  backward pass (input and weight gradients) counts twice that;
- pooling: GB/s = (input bytes + output bytes) / time;
- fraction of peak: of the FMA rate that the peak probe (csrc/peak_probe.c) measures
  on this machine at the same thread count, the better figure of its runs before and
  after the cases (on a shared VM one probe read half the FMA rate of the other); for
  pooling, of the STREAM triad bandwidth timed in the same rounds as the case, one
  triad pass per round (median over the rounds, after two warm-up passes), since a
  shared VM's memory bandwidth moves in time: a plain vector max over 51 MB read 32
  and 63 GB/s minutes apart on one machine.  The table notes the probe's triad
  beside it;
- ratio: a convcore row's time over a peer's (lower is better), paired by round: the
  median over the rounds of the ratio of the two medians in each round, so that a slow
  spell of a shared machine, which falls on both within a round, cancels (the same for
  ``auto`` over the fastest algorithm and for the thread scaling);
- extra bytes: the most memory a call holds at once beyond its result, traced by
  :mod:`tracemalloc`.  NumPy reports its allocations to tracemalloc, and convcore's
  workspaces (the repacked weights of the direct kernel, the im2col column tiles, the
  Winograd and FFT blocks) are NumPy arrays made by the Python layer, so the figure
  covers them.  It leaves out what C allocates itself, per thread and a few input rows
  in size (the direct driver's copy of a band of input rows or a pointwise layer's
  packed panels, which the memory budget counts; a max pool's row of window maxima, a
  plane in 3-D), the tiled product's per-thread panels, and the threads' stacks.

Peers: PyTorch (``torch.nn.functional``, ``torch.autograd``) when installed, and for
one-channel images ``scipy.ndimage.correlate`` (``mode='constant'``) and
``scipy.signal.correlate2d`` (``'same'`` or ``'valid'``, matching the convcore call),
or on the large-kernel cases ``scipy.signal.fftconvolve`` (``'same'``) and, for the
1-D signal, ``scipy.signal.oaconvolve`` (``'valid'``); SciPy's filters run on one
thread whatever ``--threads`` says.  convcore's ``winograd`` (3x3 stride-1 layers) and
``fft`` (large-kernel cases) rows are timed beside direct, im2col and auto.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import functools
import gc
import json
import math
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import convcore
from convcore import _conv, _peak, _threads
from convcore._auto import choose_algorithm
from convcore._bench_report import (
    MATPLOTLIB_MISSING,
    PEER_LABELS,
    SINGLE,
    TARGETS,
    TIE,
    MiB,
    _at_least,
    _mark_conditions,
    _matplotlib,
    _ratio_check,
    check_targets,
    fastest_round_trip,
    format_bench,
    paired_ratio,
    plot_bench,
)
from convcore._checks import available_memory
from convcore._geometry import prepare_conv as _prepare
from convcore._threads import MAX_THREADS

__all__ = [
    "BACKWARD_CASES",
    "CONV_CASES",
    "DTYPES",
    "EXTRA_CONV_CASES",
    "EXTRA_POOL_CASES",
    "NETWORK_CASES",
    "POOL_CASES",
    "ConvCase",
    "PoolCase",
    "POOL3D_CASES",
    "add_arguments",
    "check_targets",
    "format_bench",
    "implementations",
    "main",
    "measure_peak",
    "plot_bench",
    "run_bench",
]

DTYPES = ("float32", "float64")
ALGORITHMS = ("direct", "im2col", "auto")
FAST_ALGORITHMS = ("winograd", "fft")  # timed where they apply (_fast_algorithm_calls)


# ---- the cases ------------------------------------------------------------------------

class ConvCase(NamedTuple):
    """A convolution layer: input (N, C, H, W), weight (K, C // groups, R, S); with
    ``D`` > 0 a 3-D one, input (N, C, D, H, W), weight (K, C // groups, T, R, S), the
    same stride and padding along depth."""

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
    target: str = ""     # the performance target it is judged by (a key of TARGETS)
    large: bool = False  # also timed on one thread, for the 1 -> N threads scaling target
    quick: bool = False  # part of --quick runs
    D: int = 0           # depth of a 3-D layer (0: a 2-D one)
    T: int = 1           # kernel depth of a 3-D layer

    @property
    def nd(self) -> int:
        return 3 if self.D else 2

    @property
    def x_shape(self) -> tuple[int, ...]:
        return (self.N, self.C, *((self.D,) if self.D else ()), self.H, self.W)

    @property
    def w_shape(self) -> tuple[int, ...]:
        return (self.K, self.C // self.groups, *((self.T,) if self.D else ()), self.R, self.S)

    @property
    def out_spatial(self) -> tuple[int, ...]:
        """(Dout, Hout, Wout) of a 3-D layer, (Hout, Wout) of a 2-D one."""
        if not self.D:
            return self.out_hw
        return (convcore.conv_output_size(self.D, self.T, self.stride, self.padding),
                *self.out_hw)
    padding_mode: str = "zeros"  # other modes are also timed with zero padding ("zeros")

    @property
    def out_hw(self) -> tuple[int, int]:
        return (convcore.conv_output_size(self.H, self.R, self.stride, self.padding),
                convcore.conv_output_size(self.W, self.S, self.stride, self.padding))

    @property
    def flops(self) -> int:
        """2 * N * K * (Dout) * Hout * Wout * (C / groups) * (T) * R * S (one multiply and
        one add each)."""
        return 2 * self.N * self.K * math.prod(self.out_spatial) * math.prod(self.w_shape[1:])

    @property
    def one_channel(self) -> bool:
        """One image, one channel, one filter: a plain 2-D image filter (SciPy's domain),
        run without a bias."""
        return self.N == 1 and self.C == 1 and self.K == 1


class PoolCase(NamedTuple):
    """A max or average pooling of an (N, C, H, W) input, or 3-D of an (N, C, D, H, W)
    one (the same window, stride and padding along every spatial axis)."""

    name: str
    op: str  # "max" or "avg"
    shape: tuple
    kernel: int
    stride: int
    padding: int = 0
    target: str = ""
    quick: bool = False

    @property
    def out_shape(self) -> tuple:
        size = [convcore.conv_output_size(s, self.kernel, self.stride, self.padding)
                for s in self.shape[2:]]
        return (*self.shape[:2], *size)

    def nbytes(self, dtype="float32") -> int:
        """Bytes read and written: the input and the output, once each."""
        item = np.dtype(dtype).itemsize
        return item * (math.prod(self.shape) + math.prod(self.out_shape))


CONV_CASES = [
    ConvCase("vgg_64x224_3x3", 1, 64, 224, 224, 64, 3, 3, padding=1, target="large",
             large=True),
    ConvCase("vgg_256x56_3x3", 1, 256, 56, 56, 256, 3, 3, padding=1, target="large",
             large=True),
    ConvCase("resnet_128x28_3x3_b8", 8, 128, 28, 28, 128, 3, 3, padding=1, target="large",
             large=True),
    ConvCase("resnet_1x1_256to64x56_b8", 8, 256, 56, 56, 64, 1, 1, target="large",
             large=True, quick=True),
    ConvCase("alexnet_conv1_11x11_s4", 1, 3, 227, 227, 96, 11, 11, stride=4,
             target="few_channels"),
    ConvCase("rgb_stem_3to32x224_3x3_s2_b8", 8, 3, 224, 224, 32, 3, 3, stride=2, padding=1,
             target="few_channels"),
    ConvCase("lenet_c1_5x5_b64", 64, 1, 32, 32, 6, 5, 5, target="few_channels", quick=True),
    ConvCase("gray_512x512_3x3", 1, 1, 512, 512, 1, 3, 3, padding=1, target="image",
             quick=True),
    ConvCase("gray_512x512_5x5", 1, 1, 512, 512, 1, 5, 5, padding=2, target="image"),
    ConvCase("gray_512x512_7x7", 1, 1, 512, 512, 1, 7, 7, padding=3, target="image"),
    ConvCase("gray_2048x2048_3x3", 1, 1, 2048, 2048, 1, 3, 3, padding=1, target="image"),
    ConvCase("gray_2048x2048_5x5", 1, 1, 2048, 2048, 1, 5, 5, padding=2, target="image"),
    ConvCase("gray_2048x2048_7x7", 1, 1, 2048, 2048, 1, 7, 7, padding=3, target="image"),
    ConvCase("lecture_320x280_2x1", 1, 1, 320, 280, 1, 2, 1, quick=True),
    ConvCase("tiny_8x8_3x3", 1, 1, 8, 8, 1, 3, 3, target="tiny", quick=True),
    ConvCase("depthwise_64x56_3x3_b8", 8, 64, 56, 56, 64, 3, 3, padding=1, groups=64,
             quick=True),
    # a C3D / I3D layer on a 16-frame clip, batch 1 (one clip, as in inference)
    ConvCase("c3d_64x16x56_3x3x3", 1, 64, 56, 56, 64, 3, 3, padding=1, target="volume",
             large=True, D=16, T=3),
    # large kernels on one channel (FFT's domain), judged against SciPy's FFT convolutions
    ConvCase("gray_2048x2048_15x15", 1, 1, 2048, 2048, 1, 15, 15, padding=7, target="fft"),
    ConvCase("gray_2048x2048_31x31", 1, 1, 2048, 2048, 1, 31, 31, padding=15, target="fft"),
    ConvCase("signal_1e6_1001taps", 1, 1, 1, 10**6, 1, 1, 1001, target="fft"),
    # a border mode against the same call with zero padding (an image filter, a layer)
    ConvCase("gray_512x512_3x3_reflect", 1, 1, 512, 512, 1, 3, 3, padding=1,
             target="padding_mode", quick=True, padding_mode="reflect"),
    ConvCase("resnet_64x56_3x3_reflect", 1, 64, 56, 56, 64, 3, 3, padding=1,
             target="padding_mode", padding_mode="reflect"),
]

_POOL_SHAPE = (8, 64, 112, 112)
POOL_CASES = [
    PoolCase("max_2x2s2", "max", _POOL_SHAPE, 2, 2, target="pool", quick=True),
    PoolCase("max_3x3s2p1", "max", _POOL_SHAPE, 3, 2, 1, target="pool"),
    PoolCase("avg_2x2s2", "avg", _POOL_SHAPE, 2, 2, target="pool"),
    PoolCase("avg_3x3s2p1", "avg", _POOL_SHAPE, 3, 2, 1, target="pool", quick=True),
]

# 3-D pooling of a C3D/I3D activation (float32: 51 MB in, about 6 MB out).
_POOL3D_SHAPE = (4, 64, 16, 56, 56)
POOL3D_CASES = [
    PoolCase("max3d_2x2x2s2", "max", _POOL3D_SHAPE, 2, 2, target="pool3d"),
    PoolCase("max3d_3x3x3s2p1", "max", _POOL3D_SHAPE, 3, 2, 1, target="pool3d"),
]

# The backward passes (input, weight and bias gradients) of the VGG and ResNet layers.
BACKWARD_CASES = [c._replace(target="", large=False) for c in CONV_CASES[:4]]
_QUICK_BACKWARD = ("resnet_1x1_256to64x56_b8",)

# Shapes the pytest suites under benchmarks/ also time (rows of the older tables in
# docs/performance.md); `convcore bench` does not run them.
EXTRA_CONV_CASES = [
    ConvCase("resnet_1x1_256to64x56", 1, 256, 56, 56, 64, 1, 1),
    ConvCase("resnet_512x7_3x3_b8", 8, 512, 7, 7, 512, 3, 3, padding=1),
    ConvCase("rgb_stem_3to64x224_3x3", 1, 3, 224, 224, 64, 3, 3, padding=1),
]
EXTRA_POOL_CASES = [
    PoolCase("max_3x3s1p1", "max", (1, 64, 56, 56), 3, 1, 1),
    PoolCase("global_avg_7x7", "avg", (8, 512, 7, 7), 7, 7),
]

# ---- whole networks: inference through convcore.nn against PyTorch eval mode ------------

class NetworkCase(NamedTuple):
    """A network of :mod:`convcore.nn.models` run end to end on one batch (BatchNorm
    folded into the convolutions), against the same network in PyTorch eval mode."""

    name: str
    model: str
    N: int
    target: str = ""
    quick: bool = False

    @property
    def flops(self) -> int:
        """2 * the multiply-accumulates of the convolutions and fully connected layers."""
        from convcore.nn import models

        return 2 * self.N * models.summary(self.model).total_macs


NETWORK_CASES = [NetworkCase("resnet18_224_b1", "resnet18", 1, target="network")]
TARGETS.setdefault("network", "ResNet-18 inference, batch 1, 224x224, float32, BatchNorm "
                   "folded, through convcore.nn: <= 1.2 x PyTorch's eval-mode time")


def _network_calls(c: NetworkCase, dtype: str) -> dict[str, Callable]:
    """convcore.nn's model with the BatchNorms folded and, when installed, PyTorch's model
    of the same structure with the same weights (random, with random running statistics)
    in eval mode."""
    from convcore.nn import fold_batchnorms, models

    rng = np.random.default_rng(0)
    model = models.build(c.model, rng=0, dtype=dtype)
    state = {k: (rng.uniform(0.5, 1.5, v.shape) if k.endswith(("running_var", "weight"))
                 and v.ndim == 1 else rng.uniform(-0.1, 0.1, v.shape) if v.ndim == 1
                 else v).astype(v.dtype) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    fast = fold_batchnorms(model.eval())
    x = rng.standard_normal((c.N, *model.input_shape)).astype(dtype)
    calls = {"convcore": lambda: fast(x)}
    tf = _torch()
    if tf is not None:
        torch = tf[0]
        reference = _torch_network(torch, c.model).to(getattr(torch, dtype)).eval()
        reference.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                                   for k, v in state.items()})
        xt = torch.from_numpy(x)

        def run_torch():
            with torch.inference_mode():
                return reference(xt).numpy()

        calls["torch"] = run_torch
    return calls


def _torch_network(torch, name: str):
    """The PyTorch counterpart of a network of :mod:`convcore.nn.models`."""
    if name != "resnet18":
        raise ValueError(f"no PyTorch counterpart for {name!r}")
    return torch_resnet(torch, (2, 2, 2, 2))


def torch_resnet(torch, blocks, widths=(64, 128, 256, 512), num_classes=1000,
                 in_channels=3):
    """A ResNet of basic blocks from plain torch.nn modules, with torchvision's structure
    and parameter names: the PyTorch twin of :func:`convcore.nn.models.resnet`.

    Examples
    --------
    >>> import pytest; torch = pytest.importorskip("torch")
    >>> from convcore.bench import torch_resnet
    >>> sum(p.numel() for p in torch_resnet(torch, (2, 2, 2, 2)).parameters())
    11689512
    """
    from collections import OrderedDict

    tnn = torch.nn

    class BasicBlock(tnn.Module):
        def __init__(self, c_in, c, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(c_in, c, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(c)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(c)
            self.downsample = (tnn.Sequential(tnn.Conv2d(c_in, c, 1, stride, bias=False),
                                              tnn.BatchNorm2d(c))
                               if stride != 1 or c_in != c else None)

        def forward(self, x):
            y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(y + (x if self.downsample is None else self.downsample(x)))

    stages, c_in = OrderedDict(), widths[0]
    for i, (n, c) in enumerate(zip(blocks, widths, strict=True)):
        stages[f"layer{i + 1}"] = tnn.Sequential(
            *(BasicBlock(c_in if j == 0 else c, c, 2 if j == 0 and i > 0 else 1)
              for j in range(n)))
        c_in = c
    return tnn.Sequential(OrderedDict(
        conv1=tnn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False),
        bn1=tnn.BatchNorm2d(widths[0]), relu=tnn.ReLU(inplace=True),
        maxpool=tnn.MaxPool2d(3, 2, 1), **stages, avgpool=tnn.AdaptiveAvgPool2d(1),
        flatten=tnn.Flatten(), fc=tnn.Linear(c_in, num_classes)))


TARGETS.setdefault("volume", "3-D layers (C3D/I3D 3x3x3, 64 -> 64 on 16x56x56): <= 1.25 x "
                   "PyTorch's time and >= 70% of the measured FMA peak")


def _network_targets(report: dict) -> list[dict]:
    out, fastest = [], fastest_round_trip(report)
    for c in report["cases"]:
        if c["kind"] == "conv" and c["target"] == "volume" and c["dtype"] == "float32":
            ours = c["results"]["auto"]
            out.append(_ratio_check("volume", f"{c['name']}: auto / torch <= 1.25", ours,
                                    "torch", 1.25))
            out.append(_at_least("volume", f"{c['name']}: >= 70% of peak", ours["frac_peak"],
                                 0.7, f"{ours['rate']:.1f} GFLOP/s"))
            _mark_conditions(out[-2:], c, fastest)
        if c["kind"] == "network" and c["target"] == "network" and c["dtype"] == "float32":
            out.append(_ratio_check("network", f"{c['name']}: convcore / torch <= 1.2",
                                    c["results"]["convcore"], "torch", 1.2))
            _mark_conditions(out[-1:], c, fastest)
    return out


# ---- transposed convolution: convcore.conv_transpose2d against PyTorch ------------------

class TransposeCase(NamedTuple):
    """A transposed convolution layer: input (N, C, H, W), weight (C, K, R, S)."""

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
    output_padding: int = 0
    target: str = ""
    quick: bool = False

    @property
    def out_hw(self) -> tuple[int, int]:
        return tuple(convcore.conv_output_size(
            n, k, self.stride, self.padding, transposed=True,
            output_padding=self.output_padding) for n, k in ((self.H, self.R), (self.W, self.S)))

    @property
    def flops(self) -> int:
        """2 * N * C * K * H * W * R * S: every input pixel times every tap."""
        return 2 * self.N * self.C * self.K * self.H * self.W * self.R * self.S


TRANSPOSE_CASES = [TransposeCase("dcgan_transpose_128to64x32_4x4_s2_b8", 8, 128, 32, 32, 64,
                                 4, 4, stride=2, padding=1, target="transpose")]
TARGETS.setdefault("transpose", "conv_transpose2d 4x4 stride 2, 128->64 on 32x32, batch 8 "
                   "(a DCGAN/U-Net decoder layer), float32: <= 1.0 x PyTorch's time")


def _transpose_calls(c: TransposeCase, a: dict) -> dict[str, Callable]:
    x, w, b = a["x"], a["w"], a["b"]
    kw = dict(stride=c.stride, padding=c.padding, output_padding=c.output_padding)
    calls: dict[str, Callable] = {
        alg: functools.partial(convcore.conv_transpose2d, x, w, b, algorithm=alg, **kw)
        for alg in ALGORITHMS}
    tf = _torch()
    if tf is not None:
        torch, functional = tf
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)

        def run_torch():
            with torch.inference_mode():
                return functional.conv_transpose2d(tx, tw, tb, **kw).numpy()

        calls["torch"] = run_torch
    return calls


def _transpose_targets(report: dict) -> list[dict]:
    out, fastest = [], fastest_round_trip(report)
    for c in report["cases"]:
        if c["kind"] == "transpose" and c["target"] == "transpose" and c["dtype"] == "float32":
            out.append(_ratio_check("transpose", f"{c['name']}: auto / torch <= 1.0",
                                    c["results"]["auto"], "torch", 1.0))
            _mark_conditions(out[-1:], c, fastest)
    return out


# ---- arguments ---------------------------------------------------------------------------

def _thread_count(value) -> int:
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ValueError(f"threads must be an integer, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"threads must be an integer, got {value!r}")
    if not 1 <= value <= MAX_THREADS:
        raise ValueError(f"threads must be between 1 and {MAX_THREADS}, got {value}")
    return int(value)


def _dtypes(dtypes, quick: bool) -> tuple[str, ...]:
    if dtypes is None:
        return ("float32",) if quick else DTYPES
    if isinstance(dtypes, str):
        dtypes = DTYPES if dtypes == "both" else tuple(d.strip() for d in dtypes.split(","))
    dtypes = tuple(dtypes)
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise ValueError(f"dtype must be float32, float64 or both; got {bad or dtypes}")
    return dtypes


class _Job(NamedTuple):
    kind: str  # "conv", "pool", "backward", "network" or "transpose"
    case: ConvCase | PoolCase
    dtype: str

    @property
    def name(self) -> str:
        return f"{self.case.name}_backward" if self.kind == "backward" else self.case.name


def _all_jobs(quick: bool, dtypes: tuple[str, ...]) -> list[_Job]:
    jobs = []
    for dtype in dtypes:
        jobs += [_Job("conv", c, dtype) for c in CONV_CASES if c.quick or not quick]
        jobs += [_Job("pool", c, dtype) for c in POOL_CASES + POOL3D_CASES
                 if c.quick or not quick]
        jobs += [_Job("backward", c, dtype) for c in BACKWARD_CASES
                 if c.name in _QUICK_BACKWARD or not quick]
        jobs += [_Job("network", c, dtype) for c in NETWORK_CASES if c.quick or not quick]
        jobs += [_Job("transpose", c, dtype) for c in TRANSPOSE_CASES if c.quick or not quick]
    return jobs


def _select(jobs: list[_Job], patterns) -> list[_Job]:
    """Jobs whose name matches one of the comma-separated glob patterns (a pattern
    without wildcards matches as a substring)."""
    if patterns is None:
        return jobs
    pats = [p.strip() for p in patterns.split(",")] if isinstance(patterns, str) else list(patterns)
    pats = [p for p in pats if p]
    if not pats:
        raise ValueError("cases must name at least one pattern")
    globs = [p if any(ch in p for ch in "*?[") else f"*{p}*" for p in pats]
    chosen = [j for j in jobs if any(fnmatch.fnmatchcase(j.name, g) for g in globs)]
    if not chosen:
        names = ", ".join(dict.fromkeys(j.name for j in jobs))
        raise ValueError(f"no case matches {','.join(pats)!r}; the cases are: {names}")
    return chosen


# ---- the peak probe ----------------------------------------------------------------------

def measure_peak(threads: int | None = None, *, seconds: float = 0.2,
                 buffer_bytes: int = 256 * MiB) -> dict:
    """Measure this machine's FMA throughput and memory bandwidth.

    Parameters
    ----------
    threads : int, optional
        Threads the probes run on (default: :func:`convcore.get_num_threads`).
    seconds : float
        Minimum duration of each FMA run (the best of 3 is kept).
    buffer_bytes : int
        Size of the STREAM triad's buffer (three arrays); make it several times the
        last-level cache, or the figure is the cache's bandwidth.

    Returns
    -------
    dict
        ``threads``, ``simd`` (the SIMD level of the FMA loop), ``fma_gflops``
        (``{'float32': ..., 'float64': ...}``), ``bandwidth_gbps`` (triad, STREAM's
        byte count) and ``buffer_bytes``.

    Raises
    ------
    TypeError, ValueError
        A thread count that is not an integer in [1, 1024], ``seconds <= 0``, or a
        buffer of fewer than 3 doubles.

    Examples
    --------
    >>> from convcore.bench import measure_peak
    >>> peak = measure_peak(1, seconds=0.01, buffer_bytes=3 * 2**20)
    >>> peak["fma_gflops"]["float32"] > 0 and peak["bandwidth_gbps"] > 0
    True
    """
    threads = convcore.get_num_threads() if threads is None else _thread_count(threads)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"seconds must be a number, got {seconds!r}")
    if not 0 < seconds < math.inf:
        raise ValueError(f"seconds must be positive and finite, got {seconds!r}")
    n = int(buffer_bytes) // 8
    if n < 3:
        raise ValueError(f"buffer_bytes must hold at least 3 doubles, got {buffer_bytes}")
    buffer = np.empty(n, dtype=np.float64)
    return {
        "threads": threads,
        "simd": _peak.simd_level(),
        "fma_gflops": {"float32": _peak.fma_gflops(False, threads, float(seconds)),
                       "float64": _peak.fma_gflops(True, threads, float(seconds))},
        "bandwidth_gbps": _peak.triad_gbps(buffer, threads, 10),
        "buffer_bytes": n * 8,
    }


# ---- peers -------------------------------------------------------------------------------

@functools.cache
def _torch():
    """(torch, torch.nn.functional), or None when PyTorch is not installed."""
    try:
        import torch
        import torch.nn.functional as functional
    except ImportError:
        return None
    return torch, functional


def _arrays(job: _Job, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    dt = np.dtype(job.dtype)
    c = job.case
    if job.kind == "pool":
        return {"x": rng.standard_normal(c.shape).astype(dt)}
    if job.kind == "network":
        return {}  # the model makes its own input
    if job.kind == "transpose":
        return {"x": rng.standard_normal((c.N, c.C, c.H, c.W)).astype(dt),
                "w": rng.standard_normal((c.C, c.K, c.R, c.S)).astype(dt),
                "b": rng.standard_normal(c.K).astype(dt)}
    arrays = {
        "x": rng.standard_normal(c.x_shape).astype(dt),
        "w": rng.standard_normal(c.w_shape).astype(dt),
        # image filters have no bias; a backward pass always returns the bias gradient
        "b": (None if c.one_channel and job.kind == "conv"
              else rng.standard_normal(c.K).astype(dt)),
    }
    if job.kind == "backward":
        arrays["go"] = rng.standard_normal((c.N, c.K, *c.out_spatial)).astype(dt)
    return arrays


def _scipy_offsets(c: ConvCase) -> tuple[int, int] | None:
    """Where conv2d's output starts in scipy.ndimage.correlate's (same-size, centred)
    output, or None when it is not a window of it."""
    if not c.one_channel or c.stride != 1:
        return None
    hout, wout = c.out_hw
    dr, ds = c.R // 2 - c.padding, c.S // 2 - c.padding
    if dr < 0 or ds < 0 or dr + hout > c.H or ds + wout > c.W:
        return None
    return dr, ds


def _conv_calls(c: ConvCase, a: dict, threads: int | None) -> dict[str, Callable]:
    x, w, b = a["x"], a["w"], a["b"]
    kw = dict(stride=c.stride, padding=c.padding, groups=c.groups)
    conv = convcore.conv3d if c.D else convcore.conv2d
    calls: dict[str, Callable] = {
        alg: functools.partial(conv, x, w, b, algorithm=alg, padding_mode=c.padding_mode,
                               **kw)
        for alg in ALGORITHMS}
    if c.padding_mode != "zeros":  # (border cases are 2-D)
        calls.update(_fast_algorithm_calls(c, x, w, b))
        return _border_calls(c, x, w, b, calls, kw)
    if c.large and threads is not None and threads > 1:
        calls[SINGLE] = _on_one_thread(calls["auto"], threads)
    tf = _torch()
    # PyTorch runs a large kernel on few channels through a whole column matrix (32 GB
    # for the 2048^2 31x31 image in float64): leave it out where that would not fit in
    # a quarter of the memory; SciPy is the peer there.
    columns = x.shape[0] * x.shape[1] * math.prod(w.shape[2:]) * math.prod(x.shape[2:])
    if tf is not None and columns * x.itemsize < (available_memory() or 2**40) / 4:
        torch, functional = tf
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        tb = None if b is None else torch.from_numpy(b)
        torch_conv = functional.conv3d if c.D else functional.conv2d

        def run_torch():
            with torch.inference_mode():
                return torch_conv(tx, tw, tb, **kw).numpy()

        calls["torch"] = run_torch
    offsets = _scipy_offsets(c)
    if offsets is not None:
        from scipy import ndimage, signal

        x2, w2 = x[0, 0], w[0, 0]
        (dr, ds), (hout, wout) = offsets, c.out_hw

        def run_ndimage():
            return ndimage.correlate(x2, w2, mode="constant")[dr:dr + hout, ds:ds + wout]

        calls["ndimage"] = run_ndimage
        odd_same = c.R % 2 == 1 and c.S % 2 == 1 and c.padding == c.R // 2 == c.S // 2
        if c.padding == 0 or odd_same:
            mode = "valid" if c.padding == 0 else "same"
            calls["signal"] = functools.partial(signal.correlate2d, x2, w2, mode=mode)
    if not c.D:
        calls.update(_fast_algorithm_calls(c, x, w, b))
    elif (c.R, c.S, c.stride) == (3, 3, 1):  # a T x 3 x 3 volume layer: Winograd's planes
        calls["winograd"] = functools.partial(convcore.conv3d, x, w, b, algorithm="winograd",
                                              **kw)
    return calls


def _border_calls(c: ConvCase, x, w, b, calls: dict, kw: dict) -> dict[str, Callable]:
    """A case with a border mode: convcore's algorithms, the same call with zero padding
    ('zeros', the peer of the target), PyTorch padding by F.pad then convolving, and for
    one-channel images scipy.ndimage.correlate in the matching mode."""
    calls["zeros"] = functools.partial(convcore.conv2d, x, w, b, algorithm="auto", **kw)
    tf = _torch()
    if tf is not None:
        torch, functional = tf
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        tb = None if b is None else torch.from_numpy(b)
        pads = [c.padding] * 4

        def run_torch():
            with torch.inference_mode():
                xp = functional.pad(tx, pads, mode=c.padding_mode)
                return functional.conv2d(xp, tw, tb, stride=c.stride, groups=c.groups).numpy()

        calls["torch"] = run_torch
    scipy_mode = {"reflect": "mirror", "replicate": "nearest", "circular": "wrap"}
    if c.one_channel and c.stride == 1 and c.padding == c.R // 2 == c.S // 2 and c.R % 2:
        from scipy import ndimage

        x2, w2 = x[0, 0], w[0, 0]
        calls["ndimage"] = functools.partial(ndimage.correlate, x2, w2,
                                             mode=scipy_mode[c.padding_mode])
    return calls


def _fast_algorithm_calls(c: ConvCase, x, w, b) -> dict[str, Callable]:
    """convcore's Winograd on the layers it applies to, its FFT on large kernels, and
    there SciPy's FFT convolutions as the scipy.signal peer (scipy.signal.correlate2d,
    a direct sum, would take minutes per call on a 31x31 kernel over 2048^2)."""
    from convcore.winograd import unsupported_reason

    kw = dict(stride=c.stride, padding=c.padding, groups=c.groups,
              padding_mode=c.padding_mode)
    picked = choose_algorithm(_prepare(2, x, w, b, c.stride, c.padding, 1, c.groups,
                                       c.padding_mode)[0], x.dtype)
    calls: dict[str, Callable] = {}
    winograd = unsupported_reason(2, (c.R, c.S), (c.stride,) * 2, (1, 1)) is None
    if winograd and (c.target == "large" or picked == "winograd"):
        calls["winograd"] = functools.partial(convcore.conv2d, x, w, b, algorithm="winograd",
                                              **kw)
    if picked == "fft" and c.target != "fft":
        calls["fft"] = functools.partial(convcore.conv2d, x, w, b, algorithm="fft", **kw)
    if c.target == "fft":
        from scipy import signal

        calls["fft"] = functools.partial(convcore.conv2d, x, w, b, algorithm="fft", **kw)
        flipped = w[0, 0, ::-1, ::-1]
        if c.H == 1 and c.R == 1 and c.padding == 0:     # a long 1-D signal
            calls["signal"] = functools.partial(signal.oaconvolve, x[0, 0, 0], flipped[0],
                                                mode="valid")
        else:
            calls["signal"] = functools.partial(signal.fftconvolve, x[0, 0], flipped,
                                                mode="same")
    return calls


def _pool_calls(c: PoolCase, a: dict) -> dict[str, Callable]:
    x = a["x"]
    args = (c.kernel, c.stride, c.padding)
    name = f"{c.op}_pool{len(c.shape) - 2}d"
    fn = getattr(convcore, name)
    calls: dict[str, Callable] = {"convcore": functools.partial(fn, x, *args)}
    tf = _torch()
    if tf is not None:
        torch, functional = tf
        tx = torch.from_numpy(x)
        tfn = getattr(functional, name)

        def run_torch():
            with torch.inference_mode():
                return tfn(tx, *args).numpy()

        calls["torch"] = run_torch
    return calls


def _backward_calls(c: ConvCase, a: dict) -> dict[str, Callable]:
    go, x, w = a["go"], a["x"], a["w"]
    kw = dict(stride=c.stride, padding=c.padding, groups=c.groups)
    calls: dict[str, Callable] = {
        alg: functools.partial(convcore.conv2d_backward, go, x, w, algorithm=alg, **kw)
        for alg in ALGORITHMS}
    tf = _torch()
    if tf is not None:
        torch, functional = tf
        leaves = [torch.from_numpy(v).requires_grad_() for v in (x, w, a["b"])]
        y = functional.conv2d(*leaves, **kw)
        tgo = torch.from_numpy(go)

        def run_torch():
            grads = torch.autograd.grad(y, leaves, tgo, retain_graph=True)
            return tuple(g.numpy() for g in grads)

        calls["torch"] = run_torch
    return calls


def _calls(job: _Job, a: dict, threads: int | None) -> dict[str, Callable]:
    if job.kind == "conv":
        return _conv_calls(job.case, a, threads)
    if job.kind == "pool":
        return _pool_calls(job.case, a)
    if job.kind == "network":
        return _network_calls(job.case, job.dtype)
    if job.kind == "transpose":
        return _transpose_calls(job.case, a)
    return _backward_calls(job.case, a)


def implementations(kind: str, case: ConvCase | PoolCase, dtype: str = "float32",
                    ) -> dict[str, Callable]:
    """The calls ``convcore bench`` times on a case, on fixed random arrays.

    Parameters
    ----------
    kind : {'conv', 'pool', 'backward'}
        A forward convolution (``case`` a :class:`ConvCase`), a pooling (a
        :class:`PoolCase`) or a convolution's backward pass (all three gradients).
    case : ConvCase or PoolCase
    dtype : {'float32', 'float64'}

    Returns
    -------
    dict
        Name -> function of no arguments returning the result: convcore's
        ``'direct'``, ``'im2col'`` and ``'auto'`` (``'convcore'`` for pooling), then the
        installed peers: ``'torch'``, and for one-channel images ``'ndimage'`` and
        ``'signal'`` (SciPy).  Every peer computes the same numbers as convcore.

    Examples
    --------
    >>> from convcore.bench import CONV_CASES, implementations
    >>> tiny = next(c for c in CONV_CASES if c.name == "tiny_8x8_3x3")
    >>> calls = implementations("conv", tiny)
    >>> calls["auto"]().shape
    (1, 1, 6, 6)
    """
    if kind not in ("conv", "pool", "backward"):
        raise ValueError(f"kind must be 'conv', 'pool' or 'backward', got {kind!r}")
    want = PoolCase if kind == "pool" else ConvCase
    if not isinstance(case, want):
        raise TypeError(f"a {kind} case must be a {want.__name__}, got {type(case).__name__}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    job = _Job(kind, case, dtype)
    return _calls(job, _arrays(job), None)


def _on_one_thread(fn: Callable, threads: int) -> Callable:
    def run():
        convcore.set_num_threads(1)
        try:
            return fn()
        finally:
            convcore.set_num_threads(threads)

    return run


# ---- checking and timing -------------------------------------------------------------------

def _as_tuple(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def _relative_error(result, reference) -> float:
    """Largest |difference| over every output array, relative to the reference's largest
    magnitude (inf when the shapes differ other than by axes of length 1: SciPy's filters
    return the (H, W) plane of convcore's (1, 1, H, W))."""
    worst = 0.0
    for r, ref in zip(_as_tuple(result), _as_tuple(reference), strict=True):
        r, ref = np.asarray(r, dtype=np.float64), np.asarray(ref, dtype=np.float64)
        if r.shape != ref.shape:
            if np.squeeze(r).shape != np.squeeze(ref).shape:
                return math.inf
            r, ref = np.squeeze(r), np.squeeze(ref)
        scale = max(float(np.abs(ref).max(initial=0.0)), 1e-30)
        worst = max(worst, float(np.abs(r - ref).max(initial=0.0)) / scale)
    return worst


def _tolerance(dtype: str) -> float:
    # a wrong setup (shifted window, flipped or transposed kernel) is off by O(1)
    return 1e-3 if dtype == "float32" else 1e-9


def _extra_bytes(fn: Callable) -> int:
    """Peak bytes traced during fn() beyond the arrays it returns."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = sum(np.asarray(r).nbytes for r in _as_tuple(result) if r is not None)
    return max(0, peak - kept)


class _Settings(NamedTuple):
    budget: float      # seconds of calls per case (all implementations, settling included)
    min_rounds: int
    max_rounds: int
    sample: float      # seconds per sample: fast calls are repeated to fill it
    settle: float      # seconds of untimed calls before a sample of a fast implementation
    pause: float       # seconds of idle cores before a timed call of a slow implementation


FULL = _Settings(budget=3.0, min_rounds=5, max_rounds=30, sample=0.005, settle=0.01,
                 pause=0.05)
QUICK = _Settings(budget=0.2, min_rounds=3, max_rounds=6, sample=0.002, settle=0.01,
                  pause=0.0)


def _time_round_robin(calls: dict[str, Callable], s: _Settings,
                      once: tuple[str, ...] = ()) -> dict[str, dict]:
    """Median seconds per call of each implementation, timed in alternation.

    Each round times every implementation in turn, starting one further along each
    round; rounds go on until ``s.budget`` seconds have passed (at least
    ``s.min_rounds``, at most ``s.max_rounds``).  A fast implementation (under
    ``s.settle`` per call) is called for ``s.settle`` seconds untimed, then timed call by
    call for ``s.sample`` seconds: OpenMP's idle threads spin for a few milliseconds
    after each of PyTorch's calls (and of convcore's; the two share one libgomp where
    both load libgomp.so.1), taking the cores from the next implementation; measured
    here, that doubled the time of a 0.1 ms call made right after the other library's.
    The median is over every timed call, so the rare call that waits for a core held by
    another process (a scheduler tick, 4 ms here) does not move it.  Slower calls are timed one
    per round, each after ``s.pause`` seconds of idle cores: a call that maps and frees
    much memory leaves the kernel work behind it (PyTorch's 4 GB column matrix for the
    10^6-sample, 1001-tap signal: measured here, an FFT call of 10 ms made right after
    it took 17.7 ms, and 12.1 ms after a 50 ms pause), which would otherwise land on
    whichever implementation comes next.  The pause is not timed.  The calls named in
    ``once`` are made once per round whatever their speed (the pooling cases' triad).
    Each implementation's median in each round is kept as well (``round_s``), for the
    time ratios paired by round (:func:`paired_ratio`), and the page faults of the
    process per timed call in each round (``round_faults``: minor faults over the
    round's timed calls, every thread's, e.g. an output mapped afresh on each call).
    """
    names = list(calls)
    fast = {}
    for name in names:  # warm up: first touch of the outputs, thread pools, caches
        calls[name]()
        t0 = time.perf_counter()
        calls[name]()
        fast[name] = time.perf_counter() - t0 < s.settle and name not in once
    samples: dict[str, list[float]] = {n: [] for n in names}
    per_round: dict[str, list[float]] = {n: [] for n in names}
    faults: dict[str, list[float]] = {n: [] for n in names}
    clock = time.perf_counter
    enabled = gc.isenabled()
    gc.disable()
    start, rounds = clock(), 0
    try:
        for r in range(s.max_rounds):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                fn, out = calls[name], samples[name]
                if not fast[name]:
                    if s.pause:
                        time.sleep(s.pause)
                    f0 = _minor_faults()
                    t0 = clock()
                    fn()
                    out.append(clock() - t0)
                    faults[name].append(float(_minor_faults() - f0))
                    per_round[name].append(out[-1])
                    continue
                end = clock() + s.settle
                while clock() < end:
                    fn()
                f0 = _minor_faults()
                t0 = clock()
                end = t0 + s.sample
                n0 = len(out)
                while t0 < end:
                    fn()
                    t1 = clock()
                    out.append(t1 - t0)
                    t0 = t1
                faults[name].append((_minor_faults() - f0) / (len(out) - n0))
                per_round[name].append(float(np.median(out[n0:])))
            rounds = r + 1
            if rounds >= s.min_rounds and clock() - start >= s.budget:
                break
    finally:
        if enabled:
            gc.enable()
    return {n: {"median_s": float(np.median(v)), "min_s": float(np.min(v)),
                "rounds": rounds, "calls": len(v), "round_s": per_round[n],
                "round_faults": faults[n]}
            for n, v in samples.items()}


def _minor_faults() -> int:
    """Minor page faults of this process so far (every thread's), 0 where the platform
    does not count them."""
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@functools.cache
def _triad_buffer(nbytes: int) -> np.ndarray:
    """The pooling cases' triad buffer, the probe's size, allocated once per run."""
    return np.empty(max(int(nbytes) // 8, 3), dtype=np.float64)


def _work(job: _Job) -> tuple[float, str]:
    """(work per call, unit): flops for convolutions, bytes for pooling."""
    if job.kind == "pool":
        return float(job.case.nbytes(job.dtype)), "GB/s"
    flops = float(job.case.flops)
    return (2 * flops if job.kind == "backward" else flops), "GFLOP/s"


def _peak_of(peaks: dict, threads: int, dtype: str, unit: str) -> float | None:
    p = peaks.get(threads)
    if p is None:
        return None
    return p["bandwidth_gbps"] if unit == "GB/s" else p["fma_gflops"][dtype]


def _best_peak(a: dict, b: dict) -> dict:
    """The better figure of two probes of one thread count, field by field: the peak is
    what the machine was seen to reach (on a shared VM a probe whose cores were taken
    by other work read half the FMA rate of the same probe minutes later)."""
    return dict(a, fma_gflops={k: max(v, b["fma_gflops"][k])
                               for k, v in a["fma_gflops"].items()},
                bandwidth_gbps=max(a["bandwidth_gbps"], b["bandwidth_gbps"]))


def _rescale_to_peak(results: list[dict], peaks: dict) -> None:
    """Each row's fraction of peak against ``peaks`` (the best of the run's probes),
    but for the cases measured against a triad timed beside them."""
    for r in results:
        if "triad_gbps" in r:
            continue
        for row in r["results"].values():
            if row.get("frac_peak") is not None:
                row["frac_peak"] = row["rate"] / _peak_of(peaks, row["threads"], r["dtype"],
                                                          r["unit"])


def _run_job(job: _Job, threads: int, peaks: dict, s: _Settings) -> dict:
    a = _arrays(job)
    calls = _calls(job, a, threads)
    ours = [n for n in calls if n in ALGORITHMS + FAST_ALGORITHMS or n == "convcore"]
    reference_name = "auto" if "auto" in calls else "convcore"
    convcore.set_num_threads(threads)
    tf = _torch()
    if tf is not None and "torch" in calls:
        tf[0].set_num_threads(threads)

    # the same result from everyone, once, before timing
    reference = calls[reference_name]()
    # "zeros" is the same call with zero padding (a border case's peer): another result
    errors = {n: _relative_error(fn(), reference) for n, fn in calls.items()
              if n not in (reference_name, "zeros")}
    mismatched = sorted(n for n, e in errors.items() if not e <= _tolerance(job.dtype))
    errors = {n: e if math.isfinite(e) else None for n, e in errors.items()}  # for JSON

    triad: list[float] = []
    if job.kind == "pool":  # the bandwidth available while the case runs
        buffer = _triad_buffer(peaks.get(threads, {}).get("buffer_bytes", 256 * MiB))
        calls = dict(calls, triad=lambda: triad.append(_peak.triad_gbps(buffer, threads, 1)))
    timing = _time_round_robin(calls, s, once=("triad",))
    timing.pop("triad", None)
    paired = float(np.median(triad[2:])) if len(triad) > 2 else None  # after 2 warm-ups
    work, unit = _work(job)
    rows = {}
    for name, t in timing.items():
        row_threads = 1 if name == SINGLE or name in ("ndimage", "signal") else threads
        rate = work / t["median_s"] / 1e9
        peak = paired or _peak_of(peaks, 1 if name == SINGLE else threads, job.dtype, unit)
        row = dict(t, rate=rate, threads=row_threads,
                   frac_peak=None if peak is None or name in PEER_LABELS else rate / peak)
        if name not in PEER_LABELS and name != SINGLE:
            row["ratios"] = {p: paired_ratio(t, timing[p]) for p in PEER_LABELS
                             if p in timing}
        rows[name] = row
    for name in ours:  # memory last: tracemalloc slows allocations down
        rows[name]["extra_bytes"] = _extra_bytes(calls[name])

    result = {"name": job.name, "kind": job.kind, "case": job.case.name, "dtype": job.dtype,
              "threads": threads, "unit": unit, "work": work,
              "layer": job.case._asdict(), "target": job.case.target,
              "max_relative_error": errors, "mismatched": mismatched, "results": rows}
    if paired is not None:
        result["triad_gbps"] = paired
    if job.kind == "conv":
        result["auto"] = _auto_choice(job, a, rows)
        result["im2col_workspace_bound"] = _im2col_bound(job.case, a, threads)
    elif job.kind == "backward":
        fastest = min(("direct", "im2col"), key=lambda n: rows[n]["median_s"])
        over = paired_ratio(rows["auto"], rows[fastest])
        result["auto"] = {"picked": "per gradient", "fastest": fastest, "ok": over <= TIE,
                          "auto_over_fastest": over}
    return result


def _geometry(c: ConvCase, a: dict):
    return _prepare(c.nd, a["x"], a["w"], a["b"], c.stride, c.padding, 1, c.groups,
                    c.padding_mode)[0]


def _auto_choice(job: _Job, a: dict, rows: dict) -> dict:
    picked = choose_algorithm(_geometry(job.case, a), a["x"].dtype)
    fastest = min((n for n in ("direct", "im2col") + FAST_ALGORITHMS if n in rows),
                  key=lambda n: rows[n]["median_s"])
    over = paired_ratio(rows[picked], rows[fastest])
    return {"picked": picked, "fastest": fastest, "ok": picked == fastest or over <= TIE,
            "picked_over_fastest": over}


def _im2col_bound(c: ConvCase, a: dict, threads: int) -> int:
    """Bytes of the im2col workspace by the formula of the code: one column tile per
    working thread and the packed weights (functional._run_gemm)."""
    g = _geometry(c, a)
    items, per_thread = _conv.gemm_plan(g)
    workers = threads if items >= threads else 1
    return int((workers * per_thread + _conv.gemm_packed_size(g)) * a["x"].itemsize)


def _batch_independence(threads: int) -> dict:
    """im2col's traced workspace on the ResNet 3x3 layer at batch 1 and batch 8."""
    case = next(c for c in CONV_CASES if c.name == "resnet_128x28_3x3_b8")
    out = {}
    convcore.set_num_threads(threads)
    for n in (1, case.N):
        a = _arrays(_Job("conv", case._replace(N=n), "float32"))
        fn = functools.partial(convcore.conv2d, a["x"], a["w"], a["b"], padding=case.padding,
                               algorithm="im2col")
        fn()
        out[f"batch_{n}"] = _extra_bytes(fn)
    return {"case": case.name, "extra_bytes": out}


# ---- the run -------------------------------------------------------------------------------

class _Progress:
    """A one-line progress bar on stderr (a line per step when it is not a terminal)."""

    def __init__(self, total: int, stream=None, enabled: bool = True):
        self.total, self.done, self.enabled = total, 0, enabled
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()

    def step(self, label: str) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.t0
        if self.tty:
            width = 30
            fill = width * self.done // max(self.total, 1)
            bar = "#" * fill + "-" * (width - fill)
            line = f"\r[{bar}] {self.done}/{self.total} {elapsed:5.0f}s {label[:40]:<40}"
            self.stream.write(line)
        else:
            self.stream.write(f"  [{self.done + 1}/{self.total}] {label}\n")
        self.stream.flush()
        self.done += 1

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write(f"\r{' ' * 90}\r")
            self.stream.flush()


def run_bench(threads: int | None = None, *, quick: bool = False, cases=None, dtypes=None,
              progress: bool = True) -> dict:
    """Run the benchmark and check the targets; every number as a dict.

    Parameters
    ----------
    threads : int, optional
        Threads for convcore and PyTorch (default: :func:`convcore.get_num_threads`).
        Layers marked large are also timed on one thread (the scaling target).
    quick : bool
        A few small cases, float32 only unless ``dtypes`` says otherwise, short timings.
    cases : str or list of str, optional
        Glob patterns (a pattern without wildcards matches as a substring) of case
        names, e.g. ``"gray_*,tiny"``; backward cases are named ``<layer>_backward``.
    dtypes : str or sequence of str, optional
        ``"float32"``, ``"float64"``, ``"both"`` or a sequence of them.
    progress : bool
        Draw a progress bar on stderr.

    Returns
    -------
    dict
        ``machine``, ``peak`` (per thread count), ``cases`` (one entry per case and
        dtype: medians, rates, fractions of peak, ratios to each peer, extra bytes, the
        peers' agreement with convcore, auto's choice), ``memory`` and ``targets``
        (each with ``status`` PASS, FAIL or SKIP and the measured value).

    Raises
    ------
    TypeError, ValueError
        A bad thread count, dtype, or a pattern that matches no case.

    Examples
    --------
    >>> from convcore.bench import run_bench
    >>> r = run_bench(1, quick=True, cases="tiny", progress=False)
    >>> [c["name"] for c in r["cases"]], r["cases"][0]["mismatched"]
    (['tiny_8x8_3x3'], [])
    """
    threads = convcore.get_num_threads() if threads is None else _thread_count(threads)
    dtypes = _dtypes(dtypes, quick)
    jobs = _select(_all_jobs(quick, dtypes), cases)
    settings = QUICK if quick else FULL
    thread_counts = sorted({1, threads}) if any(
        j.kind == "conv" and j.case.large for j in jobs) else [threads]
    batch_check = cases is None  # a run of chosen cases checks only those
    bar = _Progress(2 * len(thread_counts) + len(jobs) + batch_check, enabled=progress)
    saved = _threads._requested  # None (the default) stays None
    tf = _torch()
    saved_torch = None if tf is None else tf[0].get_num_threads()
    peaks = {}
    run_start = _cpu_clock()
    try:
        for t in thread_counts:
            bar.step(f"peak probe, {t} thread{'s' if t > 1 else ''}")
            peaks[t] = (measure_peak(t, seconds=0.05, buffer_bytes=128 * MiB) if quick
                        else measure_peak(t))
        results = []
        for job in jobs:
            bar.step(f"{job.name} {job.dtype}")
            start, trip = _cpu_clock(), _round_trip(threads)
            results.append(_run_job(job, threads, peaks, settings))
            results[-1]["others_cores"] = _others_cores(start, _cpu_clock())
            results[-1]["round_trip_ns"] = [trip, _round_trip(threads)]
        memory = None
        if batch_check:
            bar.step("memory: im2col workspace against the batch")
            memory = _batch_independence(threads)
        for t in thread_counts:  # again: a probe that shared its core read low
            bar.step(f"peak probe again, {t} thread{'s' if t > 1 else ''}")
            again = (measure_peak(t, seconds=0.05, buffer_bytes=128 * MiB) if quick
                     else measure_peak(t))
            peaks[t] = _best_peak(peaks[t], again)
        _rescale_to_peak(results, peaks)
    finally:
        bar.close()
        _triad_buffer.cache_clear()  # the pools' triad buffer: not kept past the run
        convcore.set_num_threads(saved)
        if saved_torch is not None:
            tf[0].set_num_threads(saved_torch)
    words = ["convcore", "bench", "--threads", str(threads)] + (["--quick"] if quick else [])
    if cases is not None:
        words += ["--cases", cases if isinstance(cases, str) else ",".join(cases)]
    if dtypes != _dtypes(None, quick):
        words += ["--dtype", dtypes[0] if len(dtypes) == 1 else "both"]
    report = {
        "command": " ".join(words),
        "date": datetime.date.today().isoformat(),
        "machine": dict(_machine(threads),
                        others_cores=_others_cores(run_start, _cpu_clock())),
        "settings": settings._asdict(),
        "quick": quick,
        "peak": {str(t): p for t, p in peaks.items()},
        "peers": {"torch": _torch_version(), "scipy": _scipy_version()},
        "cases": results,
        "memory": memory,
    }
    report["targets"] = (check_targets(report) + _network_targets(report)
                         + _transpose_targets(report))
    return report


def _machine(threads: int) -> dict:
    info = convcore.config_info()
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "threads": threads, "convcore": info["version"],
            "simd": info["kernels"]["conv2d direct"], "simd_detected": convcore.detected_isa(),
            "openmp": info["openmp"],
            "blas": info["blas"], "python": platform.python_version(),
            "numpy": np.__version__}


def _cpu_clock() -> tuple[float, float, float] | None:
    """(wall seconds, CPU seconds used by every process on the machine, CPU seconds used
    by this one), or None where /proc/stat does not exist."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    # user, nice, system, (idle, iowait), irq, softirq, steal (the hypervisor's other guests)
    busy = sum(ticks[:3]) + sum(ticks[5:8])
    own = os.times()
    return time.perf_counter(), busy / hz, own.user + own.system


def _round_trip(threads: int) -> float | None:
    """Nanoseconds for a cache line to go from one core to another and back (the peak
    probe's ping-pong between OpenMP threads 0 and 1, the fastest of 5 runs), or None on
    one thread, one CPU, without OpenMP or when OpenMP gives fewer than two threads.  On
    a VM the host may move the two virtual CPUs between cores that share a cache and
    cores that do not: measured here, about 50 ns and about 350 ns, the second with
    depthwise 64@56 at 1.07-1.7x the time, depending on the hour (docs/algorithms.md,
    "Threads: own shares first")."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    if threads < 2 or cpus < 2:
        return None
    ns = _peak.round_trip_ns(5000)
    return None if ns < 0 else float(ns)


def _others_cores(start, end) -> float | None:
    """Cores that other processes kept busy, on average, between two _cpu_clock()s."""
    if start is None or end is None or end[0] <= start[0]:
        return None
    return max(0.0, ((end[1] - start[1]) - (end[2] - start[2])) / (end[0] - start[0]))


def _torch_version() -> str | None:
    tf = _torch()
    return None if tf is None else tf[0].__version__


def _scipy_version() -> str:
    import scipy

    return scipy.__version__


# ---- command line ---------------------------------------------------------------------------

def _thread_arg(text: str) -> int:
    try:
        return _thread_count(text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``convcore bench``."""
    parser.add_argument("--quick", action="store_true",
                        help="a few small cases, float32, short timings (under a minute)")
    parser.add_argument("--threads", type=_thread_arg, dest="bench_threads", metavar="N",
                        help="threads for convcore and PyTorch (default: convcore's setting)")
    parser.add_argument("--json", metavar="PATH", help="write every number as JSON "
                        "('-' for stdout; the table then goes to stderr)")
    parser.add_argument("--plot", metavar="PATH.png",
                        help="bar chart of throughput per case and implementation "
                             "(matplotlib)")
    parser.add_argument("--cases", metavar="PATTERNS",
                        help="comma-separated glob patterns or substrings of case names")
    parser.add_argument("--dtype", choices=("float32", "float64", "both"), default=None,
                        help="default: both (float32 with --quick)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _threads_of(args: argparse.Namespace) -> int:
    threads = getattr(args, "bench_threads", None)
    return convcore.get_num_threads() if threads is None else threads


def main(args: argparse.Namespace) -> int:
    """Run ``convcore bench`` with parsed arguments; 0 on success, 1 when a peer's result
    disagreed with convcore's, 2 on bad arguments."""
    if args.plot and _matplotlib() is None:
        print(f"convcore bench: error: {MATPLOTLIB_MISSING}",
              file=sys.stderr)
        return 2
    try:
        report = run_bench(_threads_of(args), quick=args.quick,
                           cases=args.cases, dtypes=args.dtype,
                           progress=not args.no_progress)
    except (TypeError, ValueError) as exc:
        print(f"convcore bench: {exc}", file=sys.stderr)
        return 2
    text = format_bench(report)
    if args.json == "-":
        print(text, file=sys.stderr)
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print(text)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
    if args.plot:
        plot_bench(report, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 1 if any(c["mismatched"] for c in report["cases"]) else 0
