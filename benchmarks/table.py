"""Print a pytest-benchmark JSON file of bench_conv.py as a Markdown table.

    python -m pytest benchmarks/bench_conv.py --benchmark-json=conv.json
    python benchmarks/table.py conv.json

One row per layer: median time and GFLOP/s of each implementation, and the time ratio
of each convcore algorithm to PyTorch (lower is better) when PyTorch was measured.
"""

import json
import sys


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    layers: dict[str, dict[str, tuple[float, float]]] = {}
    for bench in data["benchmarks"]:
        layer = bench["params"]["layer"][0]
        impl = bench["params"]["impl"]
        median = bench["stats"]["median"]
        layers.setdefault(layer, {})[impl] = (median, bench["extra_info"]["flops"] / median / 1e9)
    impls = ["direct", "im2col", "auto", "torch"]
    threads = data["benchmarks"][0]["extra_info"].get("threads")
    print(f"float32, {threads} threads, median ms (GFLOP/s); ratio = convcore / PyTorch\n")
    print("| layer | " + " | ".join(impls) + " | auto / torch |")
    print("|---" * (len(impls) + 2) + "|")
    for layer, res in layers.items():
        cells = [f"{res[i][0] * 1e3:.3f} ({res[i][1]:.1f})" if i in res else "-" for i in impls]
        ratio = f"{res['auto'][0] / res['torch'][0]:.2f}" if "torch" in res else "-"
        print(f"| {layer} | " + " | ".join(cells) + f" | {ratio} |")


if __name__ == "__main__":
    main(sys.argv[1])
