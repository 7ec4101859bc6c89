"""Argument validation shared by the public functions.

Every message names the offending value and the rule it breaks.  Nothing here touches
the data of an array (no copies, no kernel calls).
"""

from __future__ import annotations

import difflib
import math
import operator
import os
from collections.abc import Sequence

import numpy as np

# Signed and unsigned integers and floats; bool is refused (its arithmetic is logic, not
# numbers: a convolution of masks is almost always a forgotten cast).
_REAL_KINDS = "iuf"
# Strides, dilations, paddings and sizes of windows stay below 2**31, so every index
# the kernels compute (e.g. oh * stride - pad + r * dilation) fits in 64 bits.
PARAM_LIMIT = 2**31 - 1
# Refuse calls whose allocations together exceed this fraction of the memory currently
# available; calls allocating less in all are not checked (reading /proc/meminfo costs
# more than they do).
_MEMORY_FRACTION = 0.8
MEMORY_CHECK_BYTES = 1 << 30
# Sequences that are never a tuple of sizes (b"2" would otherwise read as (50,)).
_TEXT = (str, bytes, bytearray)
# No array, even an empty one, may have dimensions whose product in bytes exceeds this.
_MAX_BYTES = int(np.iinfo(np.intp).max)


def result_array(shape, dtype) -> np.ndarray:
    """An uninitialised array for a kernel to fill, every element of it (the pooling
    results and indices).  tests/test_pool_poisoned.py replaces it with one filled with
    NaN, then with a finite value no result takes (indices: a negative one), at every
    SIMD level, so that an element a kernel leaves unwritten shows."""
    return np.empty(shape, dtype)


def as_real_array(name: str, value) -> np.ndarray:
    """``np.asarray(value)``, refusing dtypes that are not real numbers (bool, complex,
    object, string, datetime, void)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of real numbers: {exc}") from None
    if arr.dtype.kind not in _REAL_KINDS:
        hint = f"; cast it explicitly, e.g. {name}.astype(np.float32)" if (
            arr.dtype.kind == "b") else ""
        raise TypeError(
            f"{name} has dtype {arr.dtype}; convcore computes on real numbers only "
            f"(float32 and float64 natively, integers and float16 in float64){hint}"
        )
    return arr


def compute_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 or float64 when numpy's result type is one of them, else float64."""
    first = arrays[0].dtype
    if (first == np.float32 or first == np.float64) and all(a.dtype == first for a in arrays):
        return first  # the common case, without numpy's promotion machinery
    rt = np.result_type(*(a.dtype for a in arrays))
    if rt == np.float32 or rt == np.float64:
        return np.dtype(rt)
    return np.dtype(np.float64)


def as_int(name: str, value) -> int:
    """A Python int from an int-like (not bool, not float)."""
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r}") from None


def as_bool(name: str, value) -> bool:
    """A flag: a Python or NumPy bool (not any truthy object)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def int_tuple(name: str, value, n: int, minimum: int | None = 1) -> tuple[int, ...]:
    """An int (repeated n times) or a sequence of n ints, each in [minimum, PARAM_LIMIT]."""
    if type(value) is int and (minimum is None or value >= minimum) and value <= PARAM_LIMIT:
        return (value,) * n  # the common case
    if isinstance(value, Sequence) and not isinstance(value, _TEXT):
        if len(value) != n:
            raise ValueError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")
        out = tuple(as_int(name, v) for v in value)
    else:
        out = (as_int(name, value),) * n
    if minimum is not None and any(v < minimum for v in out):
        raise ValueError(f"{name} must be >= {minimum} in every dimension, got {value!r}")
    if any(v > PARAM_LIMIT for v in out):
        raise ValueError(f"{name} must be <= 2**31 - 1 in every dimension, got {value!r}")
    return out


def padding_pairs(padding, n: int) -> tuple[tuple[int, int], ...]:
    """Explicit padding as ((before, after),) * n.

    Accepted: an int; n ints (symmetric per dimension); n (before, after) pairs; for
    n == 1 also a plain (before, after) pair.  Strings are handled by the caller.
    """
    def pair(v) -> tuple[int, int]:
        if isinstance(v, Sequence) and not isinstance(v, _TEXT):
            if len(v) != 2:
                raise ValueError(f"padding entry {v!r} must be an int or a (before, after) pair")
            return (as_int("padding", v[0]), as_int("padding", v[1]))
        p = as_int("padding", v)
        return (p, p)

    if type(padding) is int and 0 <= padding <= PARAM_LIMIT:
        return ((padding, padding),) * n  # the common case
    if isinstance(padding, Sequence) and not isinstance(padding, _TEXT):
        items = list(padding)
        if n == 1 and len(items) == 2 and not any(isinstance(v, Sequence) for v in items):
            pairs = (pair(items),)
        elif len(items) == n:
            pairs = tuple(pair(v) for v in items)
        else:
            raise ValueError(
                f"padding {padding!r} must be an int, {n} ints, or {n} (before, after) pairs"
            )
    else:
        pairs = (pair(padding),) * n
    if any(p < 0 for pr in pairs for p in pr):
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    if any(p > PARAM_LIMIT for pr in pairs for p in pr):
        raise ValueError(f"padding must be <= 2**31 - 1, got {padding!r}")
    return pairs


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF/Keras 'same': out = ceil(size / stride), the odd pixel after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable: free plus
    reclaimable cache), or None when the platform does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes: int, what: str) -> None:
    """Refuse a single allocation the machine could not hold, before trying it (calls
    that allocate several arrays use :func:`check_budget`)."""
    check_budget(what, (what, nbytes))


def array_bytes(what: str, shape: tuple, itemsize: int) -> int:
    """Bytes of an array of ``shape``; refuses, before anything is allocated, a shape
    NumPy cannot describe (dimensions multiplying past 2**63 - 1 bytes, even with a 0
    among them) or an array past 2**63 - 1 bytes."""
    nbytes = math.prod(shape) * itemsize
    if 0 < nbytes <= _MAX_BYTES:
        return nbytes
    if nbytes == 0:
        span = math.prod(max(n, 1) for n in shape) * itemsize
        if span > _MAX_BYTES:
            raise ValueError(
                f"{what} would have shape {shape}: its dimensions multiply to "
                f"{span:.3g} bytes, beyond the 2**63 - 1 an array can describe"
            )
        return 0
    raise MemoryError(
        f"{what} (shape {shape}) needs {nbytes / 1e9:.1f} GB, more than 2**63 - 1 "
        "bytes: no array that large can exist"
    )


def copy_bytes(a: np.ndarray, dtype: np.dtype) -> int:
    """Bytes of the aligned C-contiguous copy of ``a`` in ``dtype`` a kernel needs, 0 when
    ``a`` can be used as it is."""
    flags = a.flags
    if a.dtype == dtype and flags.c_contiguous and flags.aligned:
        return 0
    return a.size * dtype.itemsize


def format_bytes(nbytes: int) -> str:
    """A size for a message: '12.3 GB', '812.4 TB'."""
    if nbytes >= 1e15:
        return f"{nbytes / 1e15:,.1f} PB"
    if nbytes >= 1e12:
        return f"{nbytes / 1e12:,.1f} TB"
    return f"{nbytes / 1e9:.1f} GB"


def check_budget(call: str, *parts: tuple) -> None:
    """Refuse a call whose allocations together would not fit, before any is made.

    ``parts`` are (what, bytes) or (what, bytes, shape) tuples: everything the call will
    allocate (its result, the copies of its inputs, its workspace).  Their sum is
    checked once against 80% of the memory available; the message names every part (and
    its shape when given).  Checking the parts one at a time would pass a call needing
    twice the free memory, each part fitting on its own.

    Raises
    ------
    MemoryError
        When the sum exceeds 80% of the available memory or 2**63 - 1 bytes.

    Examples
    --------
    >>> from convcore._checks import check_budget
    >>> check_budget("conv2d", ("the output", 4096, (1, 4, 16, 16)), ("the workspace", 1024))
    """
    total = 0
    for part in parts:
        total += part[1]
    if total < MEMORY_CHECK_BYTES:
        return  # the common case: not worth reading /proc/meminfo
    if total <= _MAX_BYTES:
        avail = available_memory()
        if avail is None or total <= _MEMORY_FRACTION * avail:
            return
        tail = f"; only {avail / 1e9:.1f} GB of memory is available"
    else:
        tail = ", more than 2**63 - 1 bytes: no array that large can exist"
    named = [p for p in parts if p[1]]
    names = [p[0] + (f" (shape {p[2]})" if len(p) > 2 else "") for p in named]
    if len(named) == 1 and named[0][0] == call:
        head = f"{names[0]} needs {total / 1e9:.1f} GB"
    else:
        listing = " + ".join(f"{w} {p[1] / 1e9:.2f} GB" for w, p in zip(names, named, strict=True))
        head = f"{call} needs {total / 1e9:.1f} GB ({listing})"
    raise MemoryError(head + tail)


def check_alloc(what: str, shape: tuple, itemsize: int) -> None:
    """Refuse, before allocating, an array of ``shape`` that NumPy cannot describe or
    that the machine could not hold (a call whose only allocation it is)."""
    nbytes = math.prod(shape) * itemsize
    if 0 < nbytes < MEMORY_CHECK_BYTES:
        return  # the common case
    check_budget(what, (what, array_bytes(what, shape, itemsize), shape))


def did_you_mean(value, choices) -> str:
    """``"; did you mean 'same'?"`` when ``value`` is a near miss of one of ``choices``
    (another case, a typo), else ``""``: the hint to append to an error message.

    >>> did_you_mean("SAME", ("valid", "same"))
    "; did you mean 'same'?"
    >>> did_you_mean("im2cl", ("auto", "direct", "im2col"))
    "; did you mean 'im2col'?"
    >>> did_you_mean(3, ("valid", "same"))
    ''
    """
    if not isinstance(value, str):
        return ""
    choices = [c for c in choices if isinstance(c, str)]
    folded = {c.lower(): c for c in choices}
    match = folded.get(value.strip().lower())
    if match is None:
        close = difflib.get_close_matches(value.lower(), list(folded), n=1, cutoff=0.75)
        match = folded[close[0]] if close else None
    return f"; did you mean {match!r}?" if match is not None and match != value else ""
