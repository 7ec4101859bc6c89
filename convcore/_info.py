"""show_config(): what this build of convcore is and how it will run."""

from __future__ import annotations

from convcore import _config, _conv, _pool
from convcore._blas import blas_description
from convcore._threads import get_num_threads
from convcore._version import __version__


def config_info() -> dict:
    """The facts :func:`show_config` prints, as a dict."""
    return {
        "version": __version__,
        "openmp": _config.openmp_enabled(),
        "threads": get_num_threads(),
        "simd_detected": _conv.simd_detected(),
        "isa": _conv.simd_level(),
        "kernels": {
            "conv2d direct": _conv.simd_level(),
            "conv2d im2col": "im2col tiles (portable C) + BLAS gemm",
            "im2col/col2im": "portable C",
            "pooling": _pool.simd_level(),
            "pool backward": "portable C",
            "adaptive pool": "portable C",
        },
        "blas": blas_description(),
    }


def show_config() -> None:
    """Print the version, OpenMP and threads, the SIMD level of each kernel and the BLAS.

    Examples
    --------
    >>> import convcore
    >>> convcore.show_config()  # doctest: +ELLIPSIS
    convcore ...
    """
    info = config_info()
    lines = [
        f"convcore {info['version']}",
        f"  OpenMP:          {'yes' if info['openmp'] else 'no (serial kernels)'}",
        f"  threads:         {info['threads']}",
        f"  CPU SIMD:        {info['simd_detected']}",
        f"  ISA level:       {info['isa']}"
        + ("" if info["isa"] == info["simd_detected"] else " (forced: CONVCORE_ISA or set_isa)"),
    ]
    lines += [f"  {name + ':':<16} {level}" for name, level in info["kernels"].items()]
    lines.append(f"  BLAS (im2col):   {info['blas']}")
    print("\n".join(lines))
