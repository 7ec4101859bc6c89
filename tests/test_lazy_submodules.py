"""convcore.nn, convcore.analysis and convcore.dask are there after `import convcore`, as
torch.nn is after `import torch`, and are imported only when first used."""

import subprocess
import sys
import textwrap


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_submodules_on_attribute_access():
    proc = _python("""
        import sys
        import convcore
        lazy = ("convcore.nn", "convcore.analysis", "convcore.dask")
        print(*[m in sys.modules for m in lazy])
        print(convcore.nn.Conv2d.__name__, convcore.analysis.conv_params(3, 4, 3),
              convcore.dask.conv2d.__module__)
        print("nn" in dir(convcore), "dask" in dir(convcore))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["False False False", "Conv2d 112 convcore.dask",
                                           "True True"]


def test_unknown_attribute_is_still_an_attribute_error():
    proc = _python("""
        import convcore
        try:
            convcore.nonexistent
        except AttributeError as exc:
            print(exc)
    """)
    assert proc.stdout.strip() == "module 'convcore' has no attribute 'nonexistent'"


def test_dask_missing_says_what_to_install():
    proc = _python("""
        import sys
        sys.modules["dask"] = None          # as if Dask were not installed
        import convcore
        try:
            convcore.dask
        except ImportError as exc:
            print(exc)
        print(convcore.nn.ReLU.__name__)   # the other submodules do not need it
    """)
    assert proc.returncode == 0, proc.stderr
    assert 'convcore.dask needs Dask: pip install "dask[array]" distributed' in proc.stdout
    assert proc.stdout.strip().endswith("ReLU")
