"""What one check costs, by repository size and version family.

Run by hand from the project root (not a test; nothing here asserts)::

    python bench/benchmark.py                 # 10 to 100,000 snapshots
    python bench/benchmark.py --sizes 10 1000 --runs 9

For each repository size and family it serves a simulated cluster on
127.0.0.1 (one snapshot an hour, the check run with -w 2h -c 4h) and
prints per check: HTTP requests, snapshot metadata the cluster loads from
its repository, response bytes on the wire (compressed, as sent), and the
median whole-process wall time next to a floor measured in the same run: a
Python process that imports requests and sends one GET to the same server.
Runs alternate between the two, so both see the same machine noise; the
best-of ratio (fastest check over fastest floor) is the figure least moved
by that noise.
"""
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_es import HOUR_MS, Cluster, Server, Snap  # noqa: E402

FAMILIES = [("es8", "ES >= 7.16 (8.15)"), ("es7.15", "ES 7.14-7.15"),
            ("es7.10", "ES <= 7.13 (7.10)"), ("os2", "OpenSearch 2")]
FLOOR = "import requests, sys; requests.get(sys.argv[1])"


def repository(count, now_ms):
    return [Snap(f"hourly-{i:06d}", "SUCCESS", now_ms - 20 * 60_000 - i * HOUR_MS) for i in range(count)]


def timed(command):
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started, result


def measure(family, count, runs):
    cluster = Cluster(family, {"backups": repository(count, int(time.time() * 1000))})
    with Server(cluster) as server:
        check = [sys.executable, str(ROOT / "check_es_snapshot.py"), "--url", server.url,
                 "-w", "2h", "-c", "4h", "-t", "120"]
        floor = [sys.executable, "-c", FLOOR, server.url + "/"]
        cluster.log.clear()
        _, result = timed(check)  # the cost of one check, counted by the cluster
        per_run = list(cluster.log)
        walls, floors = [], []
        for _ in range(runs):  # interleaved, so both see the same machine noise
            floors.append(timed(floor)[0])
            walls.append(timed(check)[0])
    return {"status": result.stdout.split(" | ")[0].strip(), "requests": len(per_run),
            "loads": sum(e["loads"] for e in per_run), "bytes": sum(e["bytes"] for e in per_run),
            "wall_ms": statistics.median(walls) * 1000, "floor_ms": statistics.median(floors) * 1000,
            "best_ratio": min(walls) / min(floors)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement (median)")
    parser.add_argument("--families", nargs="+", default=[f for f, _ in FAMILIES])
    args = parser.parse_args()
    names = dict(FAMILIES)
    print("| snapshots | cluster | requests | metadata loaded | bytes on the wire "
          "| wall time | floor | ratio | best-of ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for count in args.sizes:
        for family in args.families:
            runs = args.runs if count <= 10000 else max(1, args.runs // 5)
            m = measure(family, count, runs)
            if not m["status"].startswith("ES_SNAPSHOT OK"):
                print(f"<!-- {family} {count}: {m['status']} -->")
            print(f"| {count:,} | {names.get(family, family)} | {m['requests']} | {m['loads']:,} "
                  f"| {m['bytes']:,} | {m['wall_ms']:.0f} ms | {m['floor_ms']:.0f} ms "
                  f"| {m['wall_ms'] / m['floor_ms']:.2f} | {m['best_ratio']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
