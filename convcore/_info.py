"""show_config(): what this build of convcore is and how it will run."""

from __future__ import annotations

from convcore import _config, _conv, _pool, _scratch
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
            "conv2d im2col": f"{_conv.simd_level()} (column tiles and GEMM tile)",
            "GEMM products": f"{_conv.simd_level()} GEMM tile (channels-last 1x1, "
                             "transposed per tap, Linear, Winograd's weight gradient)",
            "im2col/col2im": _conv.simd_level(),
            "pooling": f"{_pool.simd_level()} (forward, backward, unpooling, adaptive, "
                       "channels-last)",
        },
        "blas": blas_description(),
        "kept_buffer_bytes": _scratch.kept_bytes(),
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
    lines.append(f"  {'BLAS:':<16} {info['blas']}")
    lines.append(f"  kept buffers:    {info['kept_buffer_bytes'] / 2**20:.1f} MiB "
                 "(Winograd's, between calls; release_buffers() frees them)")
    print("\n".join(lines))


def release_buffers() -> int:
    """Free the scratch buffers convcore keeps between calls, and return their bytes.

    Winograd's transformed weights and workspace (up to 256 MiB in all) are kept after a
    call so that the next call does not map and zero them again; a long-running program
    that is done with convolutions can give that memory back.  Later calls allocate
    again as needed.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> _ = convcore.conv2d(np.ones((1, 16, 8, 8)), np.ones((16, 16, 3, 3)),
    ...                     algorithm="winograd")
    >>> convcore.release_buffers() > 0
    True
    >>> convcore.release_buffers()
    0
    """
    return _scratch.clear()
