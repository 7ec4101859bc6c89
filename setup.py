"""Build convcore's C kernels and Cython bridges.

Environment switches (all optional):

CONVCORE_NO_OPENMP=1      build without OpenMP (serial kernels)
CONVCORE_CYTHON_CHECKS=1  turn Cython bounds/wraparound checks back on (debugging)
CONVCORE_SANITIZE=1       build with AddressSanitizer and UBSan (debugging)
"""

import os
import subprocess
import sys
import sysconfig
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

CSRC = "csrc"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _compiler_accepts(flags: list[str]) -> bool:
    """Compile and link a tiny OpenMP program with ``flags``."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    src = (
        "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel\n"
        "{n=omp_get_num_threads();}\nreturn n<1;}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        cmd = cc.split() + [path, "-o", os.path.join(tmp, "probe")] + flags
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


def _openmp_flags() -> list[str]:
    if _flag("CONVCORE_NO_OPENMP"):
        print("convcore: OpenMP disabled by CONVCORE_NO_OPENMP", file=sys.stderr)
        return []
    if _compiler_accepts(["-fopenmp"]):
        return ["-fopenmp"]
    print("convcore: compiler has no OpenMP; building serial kernels", file=sys.stderr)
    return []


omp = _openmp_flags()
cflags = ["-O3", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function", "-Wno-psabi"]
ldflags = list(omp)
cflags += omp
if _flag("CONVCORE_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"]
    cflags += san
    ldflags += san

directives = {
    "language_level": "3",
    "boundscheck": _flag("CONVCORE_CYTHON_CHECKS"),
    "wraparound": _flag("CONVCORE_CYTHON_CHECKS"),
    "cdivision": True,
    "initializedcheck": _flag("CONVCORE_CYTHON_CHECKS"),
}

KERNELS = [
    "cpu_features.c",
    "conv2d_direct_avx512.c",
    "conv2d_direct_avx2.c",
    "conv2d_direct_generic.c",
    "conv2d_direct_dispatch.c",
    "im2col.c",
    "conv2d_gemm.c",
]

WINOGRAD = [
    "cpu_features.c",
    "winograd.c",
    "winograd_generic.c",
    "winograd_avx2.c",
    "winograd_avx512.c",
]

POOLING = [
    "cpu_features.c",
    "pool2d_avx512.c",
    "pool2d_avx2.c",
    "pool2d_generic.c",
    "pool2d_dispatch.c",
    "pool2d_backward.c",
    "pool2d_adaptive.c",
    "pool2d_nhwc.c",
]


def ext(name: str, c_sources: list[str]) -> Extension:
    return Extension(
        f"convcore.{name}",
        [f"convcore/{name}.pyx"] + [os.path.join(CSRC, s) for s in c_sources],
        include_dirs=[CSRC, numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )


extensions = [
    ext("_config", ["threads.c"]),
    ext("_conv", KERNELS),
    ext("_im2col", ["im2col.c"]),
    ext("_pool", POOLING),
    ext("_matrix", ["conv_matrix.c"]),
    ext("_peak", ["cpu_features.c", "peak_probe.c"]),
    ext("_winograd", WINOGRAD),
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
