"""Sphinx configuration of convcore's API reference (built from the numpydoc docstrings).

    pip install ".[docs]"
    python -m sphinx -W -b html docs/api build/api-html
"""

import re

import convcore

project = "convcore"
author = "convcore authors"
release = version = convcore.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
templates_path: list[str] = []

_STAR = re.compile(r"(?<=[(,] )\*(?=[A-Za-z_])")


def _escape_unpacking(app, what, name, obj, options, lines):
    """Shapes written as Python tuples, ``(K, C, *kernel_size)``, keep their star (not an
    emphasis for reST)."""
    lines[:] = [_STAR.sub(r"\\*", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _escape_unpacking, priority=100)
