"""convcore: fast CPU convolution kernels (C and Cython) with a NumPy API.

Conventions follow PyTorch: NCHW arrays, weights (K, C // groups, R, S), and
"convolution" meaning cross-correlation (no kernel flip).
"""

from convcore._info import config_info, show_config
from convcore._shapes import conv_output_size
from convcore._threads import get_num_threads, set_num_threads
from convcore._version import __version__
from convcore.functional import col2im, conv1d, conv2d, im2col, relu

__all__ = [
    "__version__",
    "col2im",
    "config_info",
    "conv1d",
    "conv2d",
    "conv_output_size",
    "get_num_threads",
    "im2col",
    "relu",
    "set_num_threads",
    "show_config",
]
