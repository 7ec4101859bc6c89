"""pytest settings for the doctests of the package's modules."""

collect_ignore = []
try:  # convcore.dask needs the optional extra; without it, its doctests cannot run
    import dask.array  # noqa: F401
except ImportError:
    collect_ignore.append("dask.py")
