"""The direct kernel's packed weights, kept between calls for read-only weight arrays.

Each direct convolution first packs its weights for the register tile (a reordered copy,
about the size of the weights: for a 512 x 512 x 3 x 3 layer at batch 1, as long as a
third of the convolution itself).  A weight array that is read-only and owns its memory
cannot change unless it is first made writeable again, so its packed form is kept, keyed
by the array, the SIMD level and the plan, and later calls with the same array skip the
packing; the entry goes when the array does.  The folded layers of an inference model
(:func:`convcore.nn.fold_batchnorms`) are such arrays.  A sample of the values is
compared on every use as a second guard.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from convcore import _conv

# id(weight) -> (weakref to weight, key, sample of the values, packed weights)
_CACHE: dict[int, tuple] = {}
_LOCK = threading.Lock()
_SAMPLES = 61


def eligible(weight) -> bool:
    """Whether the packed form of ``weight`` is kept between calls."""
    return (isinstance(weight, np.ndarray) and not weight.flags.writeable
            and weight.base is None and weight.size > 0)


def _sample(weight: np.ndarray) -> bytes:
    flat = weight.reshape(-1)
    return flat[::max(1, flat.size // _SAMPLES)].tobytes()


def _forget(ident: int, ref) -> None:
    with _LOCK:
        entry = _CACHE.get(ident)
        if entry is not None and entry[0] is ref:
            del _CACHE[ident]


def direct_weights(weight, wc: np.ndarray, g, n_threads: int) -> np.ndarray | None:
    """The packed weights of ``wc`` (the contiguous (K, Cg, U, S) view of ``weight``) for
    geometry ``g``, kept if ``weight`` is a read-only array owning its memory; None for
    any other weight (the kernel then packs them itself)."""
    if not eligible(weight):
        return None
    plan = _conv.direct_plan(g, wc.dtype)
    key = (_conv.simd_level(), plan["tile"], plan["kb"], wc.shape, g.groups, wc.dtype.str)
    sample, ident = _sample(weight), id(weight)
    with _LOCK:
        entry = _CACHE.get(ident)
    if entry is not None and entry[0]() is weight and entry[1] == key and entry[2] == sample:
        return entry[3]
    packed = _conv.direct_pack(wc, g, n_threads)
    with _LOCK:
        entry = _CACHE.get(ident)
        if entry is not None and entry[0]() is weight:
            ref = entry[0]
        else:
            ref = weakref.ref(weight)
            weakref.finalize(weight, _forget, ident, ref)
        _CACHE[ident] = (ref, key, sample, packed)
    return packed
