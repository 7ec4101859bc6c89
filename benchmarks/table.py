"""Print a pytest-benchmark JSON file of bench_conv.py, bench_pool.py or
bench_conv_backward.py as a table.

    python -m pytest benchmarks/bench_conv.py -k float32 --benchmark-json=conv.json
    python benchmarks/table.py conv.json

One row per layer (float64 rows are named "<layer> (float64)"): median time and
throughput of each implementation (GFLOP/s for convolution, GB/s moved for pooling),
and the time ratio of convcore's default to PyTorch (lower is better) when PyTorch was
measured.
"""

import json
import sys


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    layers: dict[str, dict[str, tuple[float, float]]] = {}
    impls: list[str] = []
    pooling = "nbytes" in data["benchmarks"][0]["extra_info"]
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        name = info["layer"]["name"]
        impl = bench["params"]["impl"]
        median = bench["stats"]["median"]
        work = info["nbytes"] if pooling else info["flops"]
        layers.setdefault(name, {})[impl] = (median, work / median / 1e9)
        if impl not in impls:
            impls.append(impl)
    ours = "convcore" if pooling else "auto"
    unit = "GB/s" if pooling else "GFLOP/s"
    threads = data["benchmarks"][0]["extra_info"].get("threads")
    dtypes = sorted({b["extra_info"].get("dtype", "float32") for b in data["benchmarks"]})
    print(f"{', '.join(dtypes)}, {threads} threads, median ms ({unit}); "
          f"ratio = convcore / PyTorch\n")
    print("| layer | " + " | ".join(impls) + f" | {ours} / torch |")
    print("|---" * (len(impls) + 2) + "|")
    for name, res in layers.items():
        cells = [f"{res[i][0] * 1e3:.3f} ({res[i][1]:.1f})" if i in res else "-" for i in impls]
        ratio = f"{res[ours][0] / res['torch'][0]:.2f}" if {"torch", ours} <= res.keys() else "-"
        print(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")


if __name__ == "__main__":
    main(sys.argv[1])
