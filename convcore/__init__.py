"""convcore: fast CPU convolution kernels (C and Cython) with a NumPy API.

Conventions follow PyTorch: NCHW arrays, weights (K, C // groups, R, S), and
"convolution" meaning cross-correlation (no kernel flip).

The submodules ``convcore.nn`` (layers), ``convcore.analysis`` (the cost model) and
``convcore.dask`` (the same functions over Dask arrays) are imported on first use, as
``torch.nn`` is after ``import torch``.
"""

import importlib

from convcore import _isa  # first: it caps the peers' ISA before OpenBLAS loads
from convcore._info import config_info, release_buffers, show_config
from convcore._isa import available_isas, detected_isa, get_isa, set_isa
from convcore._shapes import conv_output_size
from convcore._threads import get_num_threads, set_num_threads
from convcore._version import __version__
from convcore.backward import conv1d_backward, conv2d_backward, conv3d_backward
from convcore.functional import col2im, conv1d, conv2d, conv3d, im2col, relu
from convcore.matrix import conv_matrix
from convcore.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool1d_backward,
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool3d,
    avg_pool3d_backward,
    global_avg_pool2d,
    global_avg_pool3d,
    global_max_pool2d,
    global_max_pool3d,
    max_pool1d,
    max_pool1d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_pool3d,
    max_pool3d_backward,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    max_unpool_backward,
)
from convcore.transpose import (
    conv_transpose1d,
    conv_transpose1d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose3d,
    conv_transpose3d_backward,
)
from convcore.winograd import winograd_weights

__all__ = [
    "__version__",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "analysis",
    "avg_pool1d",
    "avg_pool1d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "available_isas",
    "col2im",
    "config_info",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv3d",
    "conv3d_backward",
    "conv_matrix",
    "conv_output_size",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose3d",
    "conv_transpose3d_backward",
    "detected_isa",
    "get_isa",
    "get_num_threads",
    "global_avg_pool2d",
    "global_max_pool2d",
    "im2col",
    "max_pool1d",
    "max_pool1d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "release_buffers",
    "relu",
    "set_isa",
    "set_num_threads",
    "show_config",
    "winograd_weights",
]
__all__ += [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool3d",
    "avg_pool3d",
    "avg_pool3d_backward",
    "global_avg_pool3d",
    "global_max_pool3d",
    "max_pool3d",
    "max_pool3d_backward",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "max_unpool_backward",
]

_isa.apply_environment()

# Imported on first attribute access: `import convcore` stays light, and Dask is needed only
# by those who use convcore.dask.
_SUBMODULES = ("analysis", "dask", "nn")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"convcore.{name}")  # also sets the attribute
    raise AttributeError(f"module 'convcore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
