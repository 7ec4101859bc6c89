"""``convcore report`` end to end, and the numbers it is built from."""

import json
import subprocess
import sys

import pytest

from convcore.analysis import conv_macs
from convcore.report import ALEXNET, LENET5, VGG16, network_table


def test_report_quick_json_end_to_end(tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "convcore", "report", "--quick", "--json",
                           str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Sparse interactions" in proc.stdout and "VGG-16" in proc.stdout
    assert "..." in proc.stderr  # progress lines while measuring
    r = json.loads(out.read_text())
    si = r["sparse_interactions"]
    assert si["convolution"]["stored_floats"] == 2
    assert si["sparse"]["stored_floats"] == 178_640
    assert si["dense"]["stored_floats"] == 319 * 280 * 320 * 280
    assert si["convolution"]["flops"] == si["sparse"]["flops"] == 267_960
    assert 3.9e9 < r["ratios"]["dense_over_conv_storage"] < 4.1e9
    assert 59_000 < r["ratios"]["dense_over_conv_flops"] < 61_000
    p = r["parameters"]
    assert p["fully connected 32x32 -> 32x32"] == 1_049_600
    assert p["locally connected 3x3, gray, 30x30"] == 9_000
    assert p["locally connected 3x3, 3 channels, 30x30"] == 25_200
    assert p["convolution 3x3x3, 1 filter"] == 28 and p["convolution 3x3x3, 4 filters"] == 112
    o = r["output_sizes"]
    assert o["1x1 padded by 2, 5x5 filter"] == 1
    assert o["300x400 padded by 2, 5x5 filter"] == [300, 400]
    assert o["2x2 max pool stride 2 on 300x400"] == [150, 200]
    assert o["AlexNet conv1 227, 11x11 stride 4"] == 55
    assert r["vgg16_total_params"] == 138_357_544
    assert 55_000 < r["lenet5_total_params"] < 65_000
    assert 58e6 < r["alexnet_total_params"] < 63e6
    assert r["fc_as_conv_max_difference"] < 1e-9
    m = r["measured"]
    assert all(t > 0 for t in m["edge_320x280"].values())
    n = m["dense_side"]
    assert m[f"edge_{n}x{n}"]["dense"] > 0


def test_vgg16_table_matches_the_lecture():
    rows = network_table(VGG16, (3, 224, 224))
    params = [r["params"] for r in rows if r["params"]]
    assert params[:2] == [1_792, 36_928]          # the lecture's 1.7k and 37k
    assert params[-3:] == [102_764_544, 16_781_312, 4_097_000]
    assert rows[1]["output"] == (64, 224, 224) and rows[1]["activations"] == 3_211_264
    assert rows[-4]["output"] == (512, 7, 7) and rows[-4]["activations"] == 25_088
    assert sum(params) == 138_357_544


def test_lenet_and_alexnet_shapes():
    lenet = network_table(LENET5, (1, 32, 32))
    assert [r["output"] for r in lenet[1:5]] == [(6, 28, 28), (6, 14, 14), (16, 10, 10),
                                                  (16, 5, 5)]
    assert lenet[-1]["output"] == (10,)
    alex = network_table(ALEXNET, (3, 227, 227))
    assert alex[1]["output"] == (96, 55, 55)


@pytest.mark.parametrize("args, expected", [
    (((3, 224, 224), 64, 3, 1, 1), 64 * 224 * 224 * 3 * 9),
    (((64, 56, 56), 64, 3, 1, 1, 1, 64), 64 * 56 * 56 * 9),   # depthwise
    (((3, 227, 227), 96, 11, 4), 96 * 55 * 55 * 3 * 121),
])
def test_conv_macs(args, expected):
    assert conv_macs(*args) == expected


def test_plot_written_or_clear_message(tmp_path):
    """--plot draws with matplotlib when it is installed, else says how to get it."""
    png = tmp_path / "costs.png"
    proc = subprocess.run([sys.executable, "-m", "convcore", "report", "--quick", "--plot",
                           str(png)], capture_output=True, text=True, timeout=300)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert proc.returncode != 0 and "pip install matplotlib" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert png.stat().st_size > 1000
