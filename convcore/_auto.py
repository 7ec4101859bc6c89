"""The algorithm ``algorithm="auto"`` picks: a cost model of each route, built from the
register tile the direct kernel would use at the active SIMD level.

Times are estimated in CPU cycles of one core, in units where the core retires two
vector FMAs per cycle (every x86 core convcore targets, and the larger AArch64 ones):

- **direct**, tiles along output columns: one reduction step (input channel c, outer tap
  u, tap s) of a register tile of kb output channels x nv vectors issues kb * nv FMAs,
  nv input loads (in 1-D, two and a shuffle at stride 2, one load per lane at larger
  strides; 2-D and 3-D bands split their copy by column phase, so one load) and kb
  weight broadcasts.  It takes the longest of: the FMAs at 2 per cycle, the loads
  at 2 per cycle, the shuffles at 1 per cycle, and the FMA latency (4 cycles) that each
  accumulator chain waits.  The useful share of the tile is the channels and columns it
  really covers.
- **direct**, tiles along output channels (many channels per group): a step of pix
  pixels x nv vectors of channels issues pix * nv FMAs, nv weight loads and pix input
  broadcasts, whatever the stride; each tile ends with a transposed store of its
  kb * pix outputs (lanes x lanes blocks in registers: log2(lanes) shuffles and one
  store per vector).
- **direct**, one-channel 3x3 layers at stride 1 (depthwise, image filters): strips of
  nv vectors walk down each band of output rows, and each input row they pass issues
  9 * nv FMAs and 3 * nv loads (csrc/kernels/conv_direct_strip_ukernel.h).
- **direct**, pointwise layers (1x1, stride 1, unpadded): a GEMM whose tiles read a
  copy of their input rows, side by side (csrc/kernels/conv_direct_ukernel.h, row_pw):
  the FMAs of the big column tile (a short last block of channels on a tile of 2 or 4
  rows less) at POINTWISE_EFFICIENCY of the peak, copy included.
- **im2col**: the copy of the column matrix into panels of the ISA's GEMM tile (a 1x1
  layer's input rows too) plus a GEMM at a fraction of the FMA peak that falls when one
  of its dimensions is short (the tile is 6-8 rows x 8-32 floats, and each slice of
  the reduction stores and reloads its sums).
- Both reorder the weights before computing, once per call (the direct kernel never
  when its packed weights are kept, see convcore/_packed.py).  At batch 1 on a small
  plane (7x7, 512 channels) this is a third of the direct kernel's time.

The constants are per-microarchitecture facts, not timings of this machine; the tile
comes from the ISA's table in the C library, so the choice follows the ISA.  The rule
and the measurements behind it are in docs/algorithms.md ("How `auto` chooses").
"""

from __future__ import annotations

import math

import numpy as np

from convcore._geometry import ConvGeometry, gemm_fits

FMA_PER_CYCLE = 2
LOADS_PER_CYCLE = 2
SHUFFLES_PER_CYCLE = 1
STORES_PER_CYCLE = 1
FMA_LATENCY = 4
# Share of the FMA peak the direct kernel's steady state reaches besides what the
# issue model counts (loop control, edge tiles, L2 traffic of the input rows).
DIRECT_OVERHEAD = 0.85
# Share of the FMA peak a large GEMM reaches on convcore's column tiles, fitted with the
# copy cost below to single-thread timings of 13 layers when the route ran on OpenBLAS
# (docs/algorithms.md): about half, against the 0.85 a square 2048^2 SGEMM reaches.  The
# ISA's GEMM tile that replaced it ran the same layers in 0.8-1.2x OpenBLAS's time.
GEMM_PEAK = 0.5
# How much slower than the issue model the channel tiles run at levels whose FMAs cannot
# take a broadcast operand from memory (each broadcast is a separate instruction into one
# of only 16 registers), with 16 or more input channels per group.  At AVX2 this was 1.15
# while the 6 x 2 tile spilled accumulators; since its taps are a loop (no spills), the
# direct kernel beat im2col on every 3x3 layer of ResNet-18 (batch 1 and 8) and VGG at the
# forced AVX2 level of one Intel Xeon, by 1.03-1.48x (2026-12-01, docs/performance.md),
# as the issue model predicts without a slowdown.  The portable level keeps the older fit.
CHANNEL_TILE_SLOWDOWN = {"avx2": 1.0, "generic": 1.15}
# Share of the FMA peak the pointwise GEMM reaches, its copy of the input included:
# 0.55-0.62 on ResNet's 1x1 256 -> 64 56x56 b8 on one Zen 3 core (AVX2, 2026-12-02),
# where OpenBLAS's GEMM on the same layer (the im2col route) reached 0.50-0.58.  Fitted
# on that one layer and level: with it `auto` takes the pointwise GEMM on every 1x1
# layer, also where it measured 1.03-1.12x the im2col route's time (deep layers whose
# weights outgrow L2: 1024 -> 256 at 14x14, 512 -> 2048 at 7x7, docs/algorithms.md).
POINTWISE_EFFICIENCY = 0.6
# Cycles per vector of the column matrix written by im2col and packed into panels of the
# GEMM tile (element-by-element gathers of the input rows, then a pass in L1).
COPY_CYCLES_PER_VECTOR = 7.0
# The polyphase Winograd route of a stride-2 3x3 layer is taken where its estimate times
# this is below the other routes' (its sums are rounded differently and an infinite
# input gives NaN where the direct kernel gives an infinity, so only for a clear gain).
# The RGB stem (3 -> 32 channels, 224^2, batch 8) is estimated at 0.94x the direct
# kernel's time at AVX-512 and measured at 0.85-0.98x on two threads (docs/algorithms.md);
# at AVX2 it is
# estimated and measured slower (1.6x: one output channel per tile, a load and a
# broadcast per FMA).
S2W_MARGIN = 1.05
# Cycles per weight of reordering them for a tile (a read and a scattered write, from
# memory for large layers: 1.9 ms for 2.4 M weights on one 3 GHz core).
PACK_CYCLES_PER_WEIGHT = 2.0


def _virtual_pitch(g: ConvGeometry) -> int:
    """Pixels per row of a band run as one virtual row by the direct kernel (the
    driver's flat_band): the padded input row's pitch over the column stride."""
    sw, pad_l, w = g.stride[-1], g.pad[-1][0], g.in_sizes[-1]
    last = (g.out[-1] - 1) * sw + (g.kernel[-1] - 1) * g.dilation[-1]
    wp = max(pad_l + w, last - pad_l + 1, g.out[-1] * sw)
    return math.ceil(wp / sw)


def _virtual_rows(g: ConvGeometry, plan: dict, rows: int, unit: int) -> tuple[int, int]:
    """Rows the tiles sweep and tiles of ``unit`` outputs per row: a band of
    ``plan['band']`` output rows runs as one virtual row of pitch _virtual_pitch."""
    band = min(plan["band"], g.out[-2])
    bands = rows // g.out[-2] * math.ceil(g.out[-2] / band)
    return bands, math.ceil(band * _virtual_pitch(g) / unit)


def _pointwise_rows(kg: int, kb: int) -> int:
    """Rows of output channels the pointwise GEMM computes for kg: whole blocks of kb, and
    a short last block on a tile of 2 or 4 rows less where its channels fit (row_pw)."""
    tail = kg % kb
    if tail == 0 or tail > kb - 2:
        return math.ceil(kg / kb) * kb
    short = kb - 2 if tail > kb - 4 or kb < 6 else kb - 4
    return kg - tail + short


def _direct_cycles(g: ConvGeometry, plan: dict) -> float:
    kb, nv, lanes, pix = plan["kb"], plan["nv"], plan["lanes"], plan["pix"]
    kg = g.K // g.groups
    blocks = math.ceil(kg / kb)
    rows = g.N * g.groups * math.prod(g.out[:-1])
    steps = (g.C // g.groups) * math.prod(g.kernel)
    if pix:  # vectorised along output channels: broadcasts of inputs, vectors of weights
        step = max(pix * nv / FMA_PER_CYCLE, (nv + pix) / LOADS_PER_CYCLE, FMA_LATENCY)
        rows, tiles = _virtual_rows(g, plan, rows, pix)
        # the transposed store of each tile: lanes x lanes blocks, log2(lanes) rounds of
        # interleaves (a shuffle per vector) and a store per vector
        store = kb * pix / lanes * (math.log2(lanes) / SHUFFLES_PER_CYCLE
                                    + 1 / STORES_PER_CYCLE)
        # each input row (c, u) costs about one step more: its address, its loop
        steps += (g.C // g.groups) * math.prod(g.kernel[:-1])
        deep = g.C // g.groups >= 16  # the slowdown shows on deep reductions only
        slow = CHANNEL_TILE_SLOWDOWN.get(plan.get("isa", ""), 1.0) if deep else 1.0
        return rows * blocks * tiles * (steps * step + store) * slow / DIRECT_OVERHEAD
    if plan["tile"] == "strip":  # one-channel 3x3: strips of nv vectors down each band
        bands = rows // g.out[-2] * math.ceil(g.out[-2] / plan["band"])
        strips = math.ceil(g.out[-1] / (nv * lanes))
        walked = bands * (min(plan["band"], g.out[-2]) + 2)  # 2 more input rows a band
        step = max(9 * nv / FMA_PER_CYCLE, 3 * nv / LOADS_PER_CYCLE)
        return walked * strips * step / DIRECT_OVERHEAD
    if plan["tile"] == "pointwise":
        tiles = math.ceil(math.prod(g.out) / (nv * lanes))
        fma = g.N * g.groups * _pointwise_rows(kg, kb) * tiles * steps * nv / FMA_PER_CYCLE
        return fma / POINTWISE_EFFICIENCY
    # 2-D and 3-D bands split their copy by column phase at a column stride (the
    # driver's flat_band): every tap then loads whole vectors, as at stride 1
    sw = g.stride[-1] if len(g.out) == 1 else 1
    loads_per_vector = 1 if sw == 1 else 2 if sw == 2 else lanes
    shuffles = nv if sw == 2 else 0
    step = max(kb * nv / FMA_PER_CYCLE, (nv * loads_per_vector + kb) / LOADS_PER_CYCLE,
               shuffles / SHUFFLES_PER_CYCLE, FMA_LATENCY)
    rows, tiles = _virtual_rows(g, plan, rows, nv * lanes)
    return rows * blocks * tiles * steps * step / DIRECT_OVERHEAD


def _gemm_efficiency(m: int, n: int, k: int) -> float:
    """Share of the FMA peak a GEMM of (m x k) times (k x n) reaches."""
    short = min(1.0, m / 32) * min(1.0, n / 64) * min(1.0, k / 64)
    return GEMM_PEAK * max(short, 0.02) ** 0.5


def _im2col_cycles(g: ConvGeometry, lanes: int) -> float:
    """The im2col route as the C library cuts it (driver/conv_im2col_plan.c and
    driver/conv_im2col.c):
    items of kb output channels x P output pixels of one image; a thread packs the P
    columns of the column matrix (a 1x1 layer's input channels too) once for the items
    of that tile it runs, and multiplies them on the ISA's GEMM tile by the weights,
    packed once per call."""
    from convcore import _conv

    kg, pixels, red = g.K // g.groups, math.prod(g.out), g.reduction
    kb, cols = _conv.gemm_blocks(g)
    fma = g.N * g.groups * kg * pixels * red / lanes / FMA_PER_CYCLE
    gemm = fma / _gemm_efficiency(min(kb, kg), min(cols, pixels), red)
    copy = g.N * g.groups * red * pixels / lanes * COPY_CYCLES_PER_VECTOR
    return gemm + copy + g.K * red * PACK_CYCLES_PER_WEIGHT


def stride2_winograd_applies(g: ConvGeometry) -> bool:
    """A layer Winograd runs by its polyphase route (convcore.winograd.run_stride2): 2-D,
    3x3, stride 2, dilation 1."""
    from convcore import winograd

    return (winograd.stride2(g)
            and winograd.unsupported_reason(2, g.kernel, g.stride, g.dilation) is None)


# Cycles per vector of tiles and input channel of the polyphase Winograd route's input
# transform: 5 row combinations, each 8 vectors of combined input rows (12 loads), 9
# shuffles to split them by column phase and 5 stores (csrc/kernels/conv_s2w_ukernel.h).
# Share of the issue model's FMA rate the route's tile loop reaches: 0.93-0.95 on the RGB
# stem (its transformed input and weights in L1; perf, one Zen 4 class core, AVX-512).
S2W_PRODUCT_EFFICIENCY = 0.93
# Cycles each stored vector of outputs waits on its line where the route does not stream
# its output (csrc/driver/conv_s2w.c): with the products that short, the stores' reads
# for ownership are what the route waits on.  Fitted on two layers the model had put at
# 0.6-1.1x the direct kernel's time and that measured 1.1-1.8x (8 -> 16 channels at 224^2
# and 16 -> 32 at 112^2, batch 8, float32: outputs of 6.4 and 3.2 MB; two threads, Zen 4
# class, AVX-512).
S2W_STORE_WAIT_CYCLES = 40
S2W_TRANSFORM_CYCLES = 5 * (12 / LOADS_PER_CYCLE + 9 / SHUFFLES_PER_CYCLE + 5 / STORES_PER_CYCLE)


def _s2w_fits(g: ConvGeometry, dtype) -> bool:
    """Whether the polyphase route's chunks keep their full length within its budget for
    the transformed input (deeper layers get shorter chunks; at 32 -> 64 to 128 -> 256
    channels they measured 0.72-1.20x the direct kernel's time: not modelled)."""
    from convcore import _winograd

    return _winograd.s2w_fits(g, np.dtype(dtype).itemsize)


def _s2w_cycles(g: ConvGeometry, dtype, lanes: int, level: str) -> float:
    """The polyphase Winograd route of a stride-2 3x3 layer (csrc/kernels/
    conv_s2w_ukernel.h), in the direct kernel's units: per vector of tiles (2 x 2
    outputs each), block of kb output channels and input channel, 25 steps of kb FMAs,
    one load of the transformed input and kb weight broadcasts (carried by the FMAs
    where they take a broadcast operand from memory, AVX-512), then per block the 4
    outputs of each channel (4 interleaving shuffles and 4 stores; the additions run
    beside the FMAs), and the input transform."""
    from convcore import _winograd

    kb = _winograd.s2w_plan(g, np.dtype(dtype).itemsize)[0]
    cg, kg = g.C // g.groups, g.K // g.groups
    tiles = math.ceil(g.Hout / 2) * math.ceil(g.Wout / 2)
    vectors = g.N * g.groups * math.ceil(tiles / lanes)
    loads = 1 + (0 if level == "avx512" else kb)
    step = max(kb / FMA_PER_CYCLE, loads / LOADS_PER_CYCLE)
    blocks = math.ceil(kg / kb)
    products = vectors * blocks * cg * 25 * step / S2W_PRODUCT_EFFICIENCY
    outputs = vectors * blocks * kb * (4 / SHUFFLES_PER_CYCLE + 4 / STORES_PER_CYCLE)
    if level == "generic" or not _winograd.s2w_streams(g, np.dtype(dtype).itemsize):
        outputs += g.N * g.K * g.Hout * g.Wout / lanes * S2W_STORE_WAIT_CYCLES
    return products + (outputs + vectors * cg * S2W_TRANSFORM_CYCLES) / DIRECT_OVERHEAD


def estimate_cycles(g: ConvGeometry, dtype=np.float32, weights_kept=False) -> dict[str, float]:
    """Estimated single-core cycles of each route the model covers, for ``g`` (1, 2 or 3
    spatial dimensions) at the active SIMD level ('im2col' only where its GEMM fits
    32-bit sizes, gemm_fits; 'winograd' on 2-D 3x3 layers at stride 2, its polyphase
    route); ``weights_kept``: the direct kernel's packed weights are kept between calls
    (convcore/_packed.py)."""
    from convcore import _conv

    plan = dict(_conv.direct_plan(g, dtype), isa=_conv.simd_level())
    pack = 0.0 if weights_kept else g.K * g.reduction * PACK_CYCLES_PER_WEIGHT
    cycles = {"direct": _direct_cycles(g, plan) + pack}
    if gemm_fits(g):
        cycles["im2col"] = _im2col_cycles(g, plan["lanes"])
    if stride2_winograd_applies(g) and _s2w_fits(g, dtype):
        # its weights are transformed per call, as the direct kernel's are packed
        cycles["winograd"] = _s2w_cycles(g, dtype, plan["lanes"], plan["isa"]) + pack
    return cycles


def choose_algorithm(g: ConvGeometry, dtype=np.float32, weights_kept=False) -> str:
    """The algorithm ``algorithm="auto"`` picks for a validated geometry: Winograd where
    its cost model predicts a clear win, FFT where it predicts it faster, in ``dtype``
    (:func:`convcore.analysis._choose_fast_algorithm`), else the route with the fewest
    estimated cycles
    (:func:`estimate_cycles`); 'direct' on a tie."""
    key = (g, np.dtype(dtype).str, bool(weights_kept), _conv_level())
    hit = _CHOSEN.get(key)
    if hit is not None:
        return hit
    choice = _choose(g, dtype, weights_kept)
    if len(_CHOSEN) >= 512:
        _CHOSEN.clear()
    _CHOSEN[key] = choice
    return choice


def _planes_apply(g: ConvGeometry) -> bool:
    """A 3-D layer Winograd runs: T x 3 x 3 kernel, stride 1, dilation 1."""
    return g.kernel[1:] == (3, 3) and g.stride == (1, 1, 1) and g.dilation == (1, 1, 1)


def _planes(g: ConvGeometry) -> ConvGeometry:
    from convcore.winograd import planes_geometry

    return planes_geometry(g)


# choose_algorithm's answers by geometry, dtype, kept weights and SIMD level (a layer
# called again and again asks the same question)
_CHOSEN: dict = {}


def _conv_level() -> str:
    from convcore import _conv

    return _conv.simd_level()


def _choose(g: ConvGeometry, dtype, weights_kept: bool) -> str:
    from convcore.analysis import _choose_fast_algorithm

    if g.nd <= 2:
        fast = _choose_fast_algorithm(g, dtype)
        if fast is not None and (fast == "winograd" or g.padding_mode == "zeros"):
            return fast  # FFT pads with zeros only
    elif _planes_apply(g) and _choose_fast_algorithm(_planes(g), dtype) == "winograd":
        return "winograd"  # a T x 3 x 3 layer: its planes as one 2-D Winograd layer
    cycles = estimate_cycles(g, dtype, weights_kept)
    if "winograd" in cycles and not cycles["winograd"] * S2W_MARGIN < min(
            v for k, v in cycles.items() if k != "winograd"):
        del cycles["winograd"]  # a clear win only: its rounding differs (docs)
    return min(cycles, key=lambda name: (cycles[name], name != "direct"))
