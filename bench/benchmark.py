"""What one check costs, by repository size, index count and version family.

Run by hand from the project root (not a test; nothing here asserts)::

    python bench/benchmark.py                 # 10 to 100,000 snapshots
    python bench/benchmark.py --sizes 10 1000 --indices 3 --runs 9
    python bench/benchmark.py --check /other/checkout/check_es_snapshot.py

For each repository size, indices per snapshot and family it serves a
simulated cluster on 127.0.0.1 (one snapshot an hour, the check run with
-w 2h -c 4h) and prints per check: HTTP requests, snapshot metadata the
cluster loads from its repository, response bytes on the wire (compressed,
as sent), the same JSON before compression, the peak resident memory of the
check process, and its whole-process wall time (median and best) next to a
floor measured in the same run: a Python process that imports requests and
sends one GET to the same server, and the CPU time of the check process
alone (the wall time includes the simulated cluster's).  Runs alternate between the two, so both
see the same machine noise; the best-of figures are the ones least moved by
that noise.  ``--check`` measures another checkout (before/after).
"""
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_es import HOUR_MS, Cluster, Server, Snap, index_names  # noqa: E402

FAMILIES = [("es8", "ES >= 7.16 (8.15)"), ("es7.15", "ES 7.14-7.15"),
            ("es7.10", "ES <= 7.13 (7.10)"), ("os2", "OpenSearch 2")]
FLOOR = "import requests, sys; requests.get(sys.argv[1])"
# A child's peak RSS counts the memory of the process it was forked from
# (Linux carries the high-water mark across fork and exec), and this one
# holds the simulated cluster: the check is started from a small process.
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); print(u.ru_maxrss, u.ru_utime + u.ru_stime)")


def repository(count, now_ms, indices):
    """Hourly snapshots of daily indices: names change with the day, as they
    do on a real cluster (and gzip cannot fold them into one), while the
    snapshots of one day share one tuple, cheap to hold."""
    by_day, snaps = {}, []
    for i in range(count):
        start = now_ms - 20 * 60_000 - i * HOUR_MS
        day = time.strftime("%Y.%m.%d", time.gmtime(start // 1000))
        names = by_day.setdefault(day, index_names(indices, day))
        snaps.append(Snap(f"hourly-{i:06d}", "SUCCESS", start, indices=names))
    return snaps


def timed(command):
    """(wall seconds, stdout) of one process."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started, result.stdout


def peak(command):
    """(peak resident memory in KiB, CPU seconds) of one run of ``command``:
    the check's own cost, without the simulated cluster's."""
    kib, cpu = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL).stdout.split()
    return int(kib), float(cpu)


def measure(family, count, indices, runs, script):
    cluster = Cluster(family, {"backups": repository(count, int(time.time() * 1000), indices)})
    with Server(cluster) as server:
        check = [sys.executable, str(script), "--url", server.url, "-w", "2h", "-c", "4h", "-t", "300"]
        floor = [sys.executable, "-c", FLOOR, server.url + "/"]
        cluster.log.clear()
        _, out = timed(check)  # the cost of one check, counted by the cluster
        per_run = list(cluster.log)
        peak_kib, cpu_s = peak(check)
        walls, floors = [], []
        for _ in range(runs):  # interleaved, so both see the same machine noise
            floors.append(timed(floor)[0])
            walls.append(timed(check)[0])
    return {"status": out.split(" | ")[0].strip(), "requests": len(per_run),
            "loads": sum(e["loads"] for e in per_run), "bytes": sum(e["bytes"] for e in per_run),
            "raw": sum(e["raw"] for e in per_run), "peak_kib": peak_kib, "cpu_ms": cpu_s * 1000,
            "wall_ms": statistics.median(walls) * 1000, "best_ms": min(walls) * 1000,
            "floor_ms": min(floors) * 1000}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000, 100000])
    parser.add_argument("--indices", type=int, nargs="+", default=[3, 300],
                        help="indices per snapshot")
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement (median)")
    parser.add_argument("--families", nargs="+", default=["es7.10", "os2"],
                        help=f"of {', '.join(f for f, _ in FAMILIES)}")
    parser.add_argument("--check", type=Path, default=ROOT / "check_es_snapshot.py",
                        help="the check script to measure (default: this checkout's)")
    args = parser.parse_args()
    names = dict(FAMILIES)
    print("| snapshots | indices each | cluster | requests | metadata loaded | bytes on the wire "
          "| raw JSON bytes | peak RSS | check CPU | wall time (median) | best | floor (best) |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in args.sizes:
        for indices in args.indices:
            for family in args.families:
                runs = args.runs if count <= 10000 else max(1, args.runs // 5)
                m = measure(family, count, indices, runs, args.check)
                if not m["status"].startswith("ES_SNAPSHOT OK"):
                    print(f"<!-- {family} {count}x{indices}: {m['status']} -->")
                print(f"| {count:,} | {indices} | {names.get(family, family)} | {m['requests']} "
                      f"| {m['loads']:,} | {m['bytes']:,} | {m['raw']:,} | {m['peak_kib'] / 1024:.0f} MB | {m['cpu_ms']:.0f} ms "
                      f"| {m['wall_ms']:.0f} ms | {m['best_ms']:.0f} ms | {m['floor_ms']:.0f} ms |", flush=True)


if __name__ == "__main__":
    main()
