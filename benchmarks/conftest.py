"""Collect the bench_*.py suites when pytest is given the directory
(``python -m pytest benchmarks/``); named files are collected by pytest itself."""

import pytest


def pytest_collect_file(file_path, parent):
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
