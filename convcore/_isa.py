"""Which SIMD level the kernels run: detected at import, or forced for measuring.

Every extension module with per-ISA kernels dispatches on its own copy of the level, so
forcing one sets them all.  ``CONVCORE_ISA`` in the environment forces a level at
import, as :func:`set_isa` does afterwards.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# With CONVCORE_ISA set, the libraries measured beside convcore are held to the same level
# (unless their own variables are set): OpenBLAS (NumPy's and SciPy's products, the FFT
# route's and the bench's peers), and PyTorch's oneDNN and ATen when they are imported
# later (their documented caps).
_PEER_CAPS = {
    "avx2": {"OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "ATEN_CPU_CAPABILITY": "avx2"},
    "generic": {"OPENBLAS_CORETYPE": "Nehalem", "ONEDNN_MAX_CPU_ISA": "SSE41",
                "ATEN_CPU_CAPABILITY": "default"},
}


def cap_peers_from_environment() -> None:
    """Set the peers' ISA caps for the level ``CONVCORE_ISA`` names, before OpenBLAS
    loads (called first thing at import)."""
    level = os.environ.get("CONVCORE_ISA", "").strip().lower()
    for name, value in _PEER_CAPS.get(level, {}).items():
        os.environ.setdefault(name, value)
# The extension modules whose kernels have per-ISA builds.
_MODULES = ("convcore._conv", "convcore._pool", "convcore._peak", "convcore._winograd")


cap_peers_from_environment()


def _modules():
    return [importlib.import_module(name) for name in _MODULES]


# Calls holding the level (pinned), and the condition set_isa waits on for them to end.
_level_held = threading.Condition()
_holders = 0


@contextmanager
def pinned() -> Iterator[None]:
    """The SIMD level stays as it is inside (``set_isa`` from another thread waits until
    no call holds it): for the routes whose planning and kernels must see one level, as
    the im2col route's packed weights and its weight gradient's layout follow the level's
    GEMM tile.  Calls share it; a call must not call ``set_isa`` inside."""
    global _holders
    with _level_held:
        _holders += 1
    try:
        yield
    finally:
        with _level_held:
            _holders = max(0, _holders - 1)  # a fork inside reset it in the child
            if _holders == 0:
                _level_held.notify_all()


def _after_fork_in_child() -> None:
    """The child has only the thread that forked: holds of threads that are gone are
    released, and the condition (maybe held by one of them) is new."""
    global _level_held, _holders
    _level_held = threading.Condition()
    _holders = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def isa_levels() -> tuple[str, ...]:
    """Every SIMD level of this build, whether or not this CPU runs them.

    Returns
    -------
    tuple of str
        The rows of the C library's table of ISAs, from the portable 16-byte kernels
        (SSE2 on x86-64, NEON on AArch64) up: ('generic', 'avx2', 'avx512') on x86-64,
        ('generic',) elsewhere.

    Examples
    --------
    >>> from convcore._isa import isa_levels
    >>> isa_levels()[0]
    'generic'
    """
    from convcore import _conv

    return _conv.simd_levels()


def detected_isa() -> str:
    """The best SIMD level this CPU supports: 'avx512', 'avx2' or 'generic'.

    Examples
    --------
    >>> import convcore
    >>> convcore.detected_isa() in convcore.available_isas()
    True
    """
    from convcore import _conv

    return _conv.simd_detected()


def available_isas() -> tuple[str, ...]:
    """The SIMD levels this CPU can run, from 'generic' up to :func:`detected_isa`.

    Examples
    --------
    >>> import convcore
    >>> convcore.available_isas()[0]
    'generic'
    """
    levels = isa_levels()
    return levels[: levels.index(detected_isa()) + 1]


def get_isa() -> str:
    """The SIMD level the kernels use now.

    Examples
    --------
    >>> import convcore
    >>> convcore.get_isa() in ('generic', 'avx2', 'avx512')
    True
    """
    from convcore import _conv

    return _conv.simd_level()


def set_isa(level: str | None) -> None:
    """Run the kernels at ``level`` (for measuring or testing another ISA's kernels on
    this CPU), or at the best level the CPU supports when ``level`` is None.

    Waits until no im2col call of another thread is in flight (those keep one level
    from their plan to their last kernel).

    Parameters
    ----------
    level : {'generic', 'avx2', 'avx512'} or None
        'generic' is the portable 16-byte build (SSE2 on x86-64, NEON on AArch64).

    Raises
    ------
    TypeError
        If ``level`` is not a string or None.
    ValueError
        If ``level`` is not a known level or this CPU cannot run it (the message lists
        the levels it can).

    Examples
    --------
    >>> import convcore
    >>> convcore.set_isa("generic")
    >>> convcore.get_isa()
    'generic'
    >>> convcore.set_isa(None)            # back to the best level of this CPU
    """
    if level is None:
        level = detected_isa()
    if not isinstance(level, str):
        raise TypeError(f"the ISA level must be a string or None, got {level!r}")
    name = level.strip().lower()
    if name not in isa_levels():
        raise ValueError(
            f"unknown ISA level {level!r}: choose one of {', '.join(isa_levels())}")
    if name not in available_isas():
        raise ValueError(
            f"ISA level {name!r} is not supported by this CPU; it supports "
            f"{', '.join(available_isas())}"
        )
    with _level_held:  # after the calls in flight that hold the level (pinned)
        while _holders > 0:
            _level_held.wait()
        for module in _modules():
            module.force_simd(name)


def apply_environment() -> None:
    """Force the level named by ``CONVCORE_ISA``, if set (called once at import)."""
    value = os.environ.get("CONVCORE_ISA", "").strip()
    if value:
        try:
            set_isa(value)
        except ValueError as exc:
            raise ValueError(f"CONVCORE_ISA={value!r}: {exc}") from None
