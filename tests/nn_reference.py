"""Slow references for the convcore.nn tests: central finite differences."""

import numpy as np


def numeric_gradient(loss, arr, eps=1e-6):
    """d loss() / d arr by central differences, one entry at a time (``arr`` is changed in
    place and restored)."""
    g = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = loss()
        flat[i] = old - eps
        lo = loss()
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g
