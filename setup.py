"""Build convcore's C library and Cython bridges.

The C sources under csrc/ (every ``csrc/**/*.c`` except csrc/tests, csrc/fuzz and
programs with a ``main()``) are compiled once each into one static library,
``libconvcore.a``, that every extension links; the objects of the library and of the
extensions are compiled in parallel (``-j``; default: all cores). A rebuild compiles only
what changed: each object is kept in build/objects.* with the headers it included (for
wheel, editable and in-place builds alike), and a change of compiler, flags, Python, NumPy
or Cython rebuilds everything.

Environment switches (all optional):

CONVCORE_NO_OPENMP=1      build without OpenMP (serial kernels)
CONVCORE_CYTHON_CHECKS=1  turn Cython bounds/wraparound checks back on (debugging)
CONVCORE_SANITIZE=1       build with AddressSanitizer and UBSan (debugging)
CONVCORE_BUILD_JOBS=N     compile N files at once (default: the number of cores)
"""

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import Cython
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
CSRC = "csrc"
# Folders of csrc/ that hold programs or build output, not library code.
NOT_LIBRARY = {"tests", "fuzz", "build"}
# Where objects, dependency lists and the library are kept between builds of every kind
# (wheel, editable, build_ext --inplace).
OBJECTS = ROOT / "build" / f"objects.{sysconfig.get_platform()}-{sys.implementation.cache_tag}"
_MAIN = re.compile(r"^\s*int\s+main\s*\(", re.MULTILINE)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def library_sources() -> list[str]:
    """Every C file of the library: ``csrc/**/*.c`` minus tests, fuzzing and programs."""
    found = []
    for path in sorted((ROOT / CSRC).rglob("*.c")):
        rel = path.relative_to(ROOT / CSRC)
        if NOT_LIBRARY & set(rel.parts[:-1]):
            continue
        if _MAIN.search(path.read_text(errors="replace")):
            continue
        found.append(str(path.relative_to(ROOT)))
    return found


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
# -ffp-contract=fast: the micro-kernels' a * b + c become FMAs where the ISA has them.
cflags = ["-O3", "-ffp-contract=fast", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function"]
ldflags = list(omp)
cflags += omp
# No debug information unless CFLAGS asks for it (Python's own flags carry -g): it does not
# change the code and costs 5-20% of the compile time of the templated kernels.
if "-g" not in os.environ.get("CFLAGS", "").split():
    cflags.append("-g0")
# The Cython bridges only check and pass pointers: at -O1 their large generated C compiles
# 3x faster than at -O3, and no kernel runs in them.
bridge_cflags = cflags + ["-O1"]
if _flag("CONVCORE_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"]
    cflags += san
    bridge_cflags += san
    ldflags += san

directives = {
    "language_level": "3",
    "boundscheck": _flag("CONVCORE_CYTHON_CHECKS"),
    "wraparound": _flag("CONVCORE_CYTHON_CHECKS"),
    "cdivision": True,
    "initializedcheck": _flag("CONVCORE_CYTHON_CHECKS"),
}


def _signature(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


# What a compiled file means besides its sources: when it differs from the last build, the
# files it covers are rebuilt. The C library depends on the compiler and its flags only
# (so its objects serve every Python and NumPy, isolated build or not); the bridges also on
# Python, NumPy, Cython and the directives.
LIBRARY_SIGNATURE = _signature(cflags, os.environ.get("CC", ""), os.environ.get("CFLAGS", ""))
SIGNATURE = _signature(
    LIBRARY_SIGNATURE,
    bridge_cflags,
    ldflags,
    directives,
    sys.version,
    numpy.__version__,
    Cython.__version__,
)


def _jobs(requested) -> int:
    env = os.environ.get("CONVCORE_BUILD_JOBS", "").strip()
    if env:
        return max(1, int(env))
    if requested and requested is not True:
        return max(1, int(requested))
    return os.cpu_count() or 1


def _deps_of(obj: Path) -> list[Path] | None:
    """The project files that ``obj`` was compiled from (its ``.d`` file), or None."""
    dep = obj.with_suffix(".d")
    if not dep.exists():
        return None
    text = dep.read_text().replace("\\\n", " ")
    _, _, rest = text.partition(":")
    files = []
    for word in shlex.split(rest.split("\n", 1)[0]):
        path = (ROOT / word).resolve() if not os.path.isabs(word) else Path(word)
        # Headers outside the project (Python, NumPy, libc) are covered by SIGNATURE.
        if ROOT in path.parents:
            files.append(path)
    return files


def _stale(obj: Path, source: Path) -> bool:
    if not obj.exists():
        return True
    deps = _deps_of(obj)
    if deps is None:
        return True
    built = obj.stat().st_mtime
    return any(not d.exists() or d.stat().st_mtime > built for d in [source, *deps])


class BuildExt(build_ext):
    """build_ext that compiles csrc/ once into libconvcore.a, everything in parallel."""

    def build_extensions(self):
        self.check_extensions_list(self.extensions)
        # Not self.build_temp: pip's editable installs set it to a fresh temporary folder,
        # which would recompile everything for every `pip install -e ".[extra]"`.
        temp = OBJECTS
        stamp = temp / "convcore-build.json"
        previous = json.loads(stamp.read_text()) if stamp.exists() else {}
        cc = list(self.compiler.compiler_so)
        signatures = {
            "library": _signature(LIBRARY_SIGNATURE, cc),
            "bridges": _signature(SIGNATURE, [a for a in cc if not a.startswith("-I")]),
        }
        previous_signatures = previous.get("signatures", {})
        forced = {k for k, v in signatures.items() if self.force or previous_signatures.get(k) != v}
        seconds = previous.get("seconds", {})

        jobs = []  # (source, object, extra arguments, part)
        lib_objects = []
        for src in library_sources():
            flat = "__".join(Path(src).relative_to(CSRC).with_suffix(".o").parts)
            obj = temp / "libconvcore" / flat
            lib_objects.append(obj)
            jobs.append((Path(src), obj, ["-I" + CSRC] + cflags, "library"))
        ext_objects = {}
        for ext in self.extensions:
            args = [f"-I{d}" for d in ext.include_dirs + self.compiler.include_dirs]
            args += [f"-D{k}={v}" if v is not None else f"-D{k}" for k, v in ext.define_macros]
            args += ext.extra_compile_args
            objs = []
            for src in ext.sources:
                obj = temp / "extensions" / Path(src).with_suffix(".o")
                objs.append(obj)
                jobs.append((Path(src), obj, args, "bridges"))
            ext_objects[ext.name] = objs

        todo = [j for j in jobs if j[3] in forced or _stale(j[1], ROOT / j[0])]

        # Longest first, so that the cores finish together: the time each file took last
        # time, else the kernels that instantiate templates (the slow ones), then by size.
        def cost(job):
            src = ROOT / job[0]
            templated = (
                "_impl.h" in src.read_text(errors="replace")
                if job[0].suffix == ".c" and str(job[0]).startswith(CSRC)
                else False
            )
            return (seconds.get(str(job[0]), 0.0), templated, src.stat().st_size)

        todo.sort(key=cost, reverse=True)
        workers = _jobs(self.parallel)
        if todo:
            print(
                f"convcore: compiling {len(todo)} of {len(jobs)} C files with {workers} jobs",
                file=sys.stderr,
            )
        start = time.perf_counter()

        def compile_one(job):
            src, obj, args, _ = job
            t0 = time.perf_counter()
            obj.parent.mkdir(parents=True, exist_ok=True)
            cmd = (
                cc
                + args
                + ["-MMD", "-MF", str(obj.with_suffix(".d")), "-c", str(src), "-o", str(obj)]
            )
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                obj.unlink(missing_ok=True)
                raise RuntimeError(f"compiling {src} failed:\n{shlex.join(cmd)}\n{proc.stderr}")
            if proc.stderr.strip():
                print(proc.stderr, file=sys.stderr, end="")
            seconds[str(src)] = round(time.perf_counter() - t0, 2)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(compile_one, j) for j in todo]:
                future.result()
        if todo:
            print(f"convcore: compiled in {time.perf_counter() - start:.1f} s", file=sys.stderr)

        lib = temp / "libconvcore.a"
        members = [o.name for o in lib_objects]
        if (
            "library" in forced
            or not lib.exists()
            or previous.get("library_members") != members  # a file added or removed
            or any(o.stat().st_mtime > lib.stat().st_mtime for o in lib_objects)
        ):
            lib.unlink(missing_ok=True)
            self.compiler.create_static_lib(
                [str(o) for o in lib_objects], "convcore", output_dir=str(temp)
            )

        for ext in self.extensions:
            target = Path(self.get_ext_fullpath(ext.name))
            inputs = ext_objects[ext.name] + [lib]
            if (
                not forced
                and target.exists()
                and all(i.stat().st_mtime <= target.stat().st_mtime for i in inputs)
            ):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            self.compiler.link_shared_object(
                [str(i) for i in inputs],
                str(target),
                libraries=self.get_libraries(ext),
                extra_postargs=ext.extra_link_args,
                export_symbols=self.get_export_symbols(ext),
                build_temp=str(temp),
                target_lang="c",
            )
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(
            json.dumps(
                {"signatures": signatures, "library_members": members, "seconds": seconds}, indent=1
            )
        )


def ext(name: str) -> Extension:
    # Every extension links the same libconvcore.a (added by BuildExt).
    return Extension(
        f"convcore.{name}",
        [f"convcore/{name}.pyx"],
        include_dirs=[CSRC, numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=bridge_cflags,
        extra_link_args=ldflags,
    )


def _cythonize(extensions):
    stamp = ROOT / "build" / "cython-signature"
    force = not stamp.exists() or stamp.read_text() != SIGNATURE
    result = cythonize(
        extensions,
        compiler_directives=directives,
        force=force,
        nthreads=_jobs(None) if len(extensions) > 1 else 0,
        quiet=True,
    )
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(SIGNATURE)
    return result


NAMES = ["_config", "_conv", "_im2col", "_pool", "_matrix", "_peak", "_winograd"]

setup(ext_modules=_cythonize([ext(n) for n in NAMES]), cmdclass={"build_ext": BuildExt})
