"""The plots of `convcore report --plot` and `convcore bench --plot`, rendered with Agg
(skipped without matplotlib): title with the machine, ISA level, dtype, threads and date;
values written on the bars; busy cases and auto's choice marked; plain tick labels."""

import pytest

import convcore
from convcore._bench_report import plot_bench, plot_heading
from convcore.report import _count_label, _seconds_label, plot_report

MACHINE = {"cpu": "Test CPU 9000", "cores": 2, "simd": "avx2", "threads": 1}


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


@pytest.fixture
def figures(monkeypatch):
    """Every figure the plot functions save, kept open for inspection."""
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    saved, close = [], plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: saved.append(fig))
    yield saved
    close("all")


def test_heading_names_machine_isa_dtype_threads_date():
    assert plot_heading(MACHINE, "float32", "2026-12-01") == (
        "Test CPU 9000 (2 cores), avx2 kernels, float32, 1 thread, 2026-12-01")


def test_plain_tick_labels():
    assert [_seconds_label(v) for v in (2.5, 1e-3, 4.2e-5, 3e-9)] == [
        "2.5 s", "1 ms", "42 µs", "3 ns"]
    assert [_count_label(v) for v in (2, 1500, 3.2e6, 1e9)] == ["2", "1.5 k", "3.2 M", "1 G"]


def _case(name, kind, rates, busy, picked=None):
    unit = "GB/s" if kind == "pool" else "GFLOP/s"
    c = {"name": name, "case": name, "kind": kind, "dtype": "float32", "unit": unit,
         "others_cores": 1.0 if busy else 0.0,
         "results": {n: {"rate": r} for n, r in rates.items()}}
    if picked:
        c["auto"] = {"picked": picked}
    return c


def test_bench_plot(tmp_path, figures):
    report = {"machine": MACHINE, "date": "2026-12-01", "cases": [
        _case("vgg", "conv", {"direct": 120.0, "im2col": 100.0, "auto": 119.0, "torch": 150.0},
              False, "direct"),
        _case("tiny", "conv", {"direct": 0.1, "im2col": 0.05, "auto": 0.1, "torch": 2e-5},
              True, "direct"),
        _case("max_2x2s2", "pool", {"convcore": 4.0, "torch": 0.67}, False),
    ]}
    path = tmp_path / "bench.png"
    plot_bench(report, str(path))
    assert path.stat().st_size > 10_000
    fig = figures[-1]
    texts = _texts(fig)
    assert any("Test CPU 9000 (2 cores), avx2 kernels, float32, 1 thread, 2026-12-01" in t
               for t in texts)
    # values on the bars, plain digits; auto's choice; the busy case starred
    for value in ("120 GFLOP/s", "150 GFLOP/s", "4 GB/s", "0.67 GB/s", "20 kFLOP/s"):
        assert any(t.startswith(value) for t in texts), value
    assert any("(auto took direct)" in t for t in texts)
    ax_conv, ax_pool = fig.axes[:2]
    assert [t.get_text() for t in ax_conv.get_yticklabels()] == ["vgg", "tiny *"]
    assert any("hatched" in t for t in texts)
    # linear axes from zero: 4.0 and 0.67 GB/s are bars of 1 and 0.17
    for ax in (ax_conv, ax_pool):
        assert ax.get_xscale() == "linear" and ax.get_xlim()[0] == 0
    widths = sorted(round(p.get_width(), 3) for p in ax_pool.patches)
    assert widths == [round(0.67 / 4.0, 3), 1.0]


def test_report_plot(tmp_path, figures, monkeypatch):
    data = {"sizes": [8, 16, 24],
            "time_s": {"convolution": [1e-5, 1.1e-5, 1.2e-5], "sparse": [6e-6, 7e-6, 8e-6],
                       "dense": [2e-6, 2e-5, 1e-4]},
            "busy": {"convolution": [False, True, False], "sparse": [False] * 3,
                     "dense": [False] * 3},
            "stored_floats": {"convolution": [2, 2, 2], "sparse": [112, 480, 1104],
                              "dense": [3584, 61440, 317952]}}
    path = tmp_path / "report.png"
    plot_report(str(path), True, data=data)
    assert path.stat().st_size > 10_000
    fig = figures[-1]
    texts = _texts(fig)
    threads = convcore.get_num_threads()
    assert any(f"float32, {threads} thread" in t for t in texts)
    assert any("hollow: other processes kept the cores busy" in t for t in texts)
    a, b = fig.axes
    labels = [t.get_text() for t in a.get_yticklabels()]
    assert "10 µs" in labels and not any("^" in t or "e-" in t for t in labels)
    assert "100 µs" in texts  # the last dense time written at its point
    assert "318 k" in texts and "2" in texts
    # the busy point is hollow: its face is white
    hollow = [ln for ln in a.lines if ln.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and list(hollow[0].get_xdata()) == [16]
