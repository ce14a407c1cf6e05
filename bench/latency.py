"""What one check costs over a WAN: wall time and sequential round trips.

Run by hand from the project root (not a test; nothing here asserts)::

    python bench/latency.py                        # simulated clusters, 0 and 50 ms
    python bench/latency.py --rtt 0 50 100 --runs 9
    python bench/latency.py --engine es-8.19.21    # also one real node (engine tier)
    python bench/latency.py --check /before/check_es_snapshot.py check_es_snapshot.py

A delaying proxy on 127.0.0.1 stands between the check and the cluster.  It
holds every chunk RTT/2 in each direction (in order, without adding up the
delays of chunks in flight together) and charges one RTT for each new
connection, before its first byte goes upstream: the TCP handshake a real
WAN costs.  The proxy also sees where each request starts and its answer
ends, so it can tell which requests waited for another's answer:
"sequential round trips" is the longest such chain, a new connection
counting one more; "after connect" leaves the connection charges out.

Each check runs next to the least a Python check can do through the same
proxy, ``python -c "import requests; requests.get(url)"`` (one GET of
the listing: the one-request peers' cost), alternating, so both see the
same machine noise.  The figures are medians of ``--runs``.
"""
import argparse
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_es import HOUR_MS, Cluster, Server, Snap  # noqa: E402

FLOOR = "import requests, sys; requests.get(sys.argv[1])"
# (label, family, check arguments beyond --url and thresholds)
CASES = [("ES 8 (8.15), -r given", "es8", ["-r", "backups"]),
         ("ES 8 (8.15), no -r", "es8", []),
         ("ES 7.10", "es7.10", ["-r", "backups"]),
         ("ES 5.6 (5.5)", "es5", ["-r", "backups"]),
         ("OpenSearch 2", "os2", ["-r", "backups"])]


class DelayProxy:
    """TCP relay on 127.0.0.1 that adds ``rtt_s`` of round-trip time."""

    def __init__(self, upstream_port, rtt_s):
        self.upstream_port = upstream_port
        self.rtt = rtt_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests = []  # dicts: conn, first (bool), start, end (proxy clock)
        self.lock = threading.Lock()
        self.closed = False
        self.threads = []
        self._spawn(self._accept)

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _accept(self):
        number = 0
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            number += 1
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            state = {"conn": number, "current": None, "opened": time.monotonic()}
            self._spawn(self._relay, client, upstream, state, True)
            self._spawn(self._relay, upstream, client, state, False)

    def _relay(self, source, target, state, upward):
        """Forward ``source`` to ``target``, each chunk RTT/2 after it came."""
        pending, done = [], False
        while True:
            timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else None
            if not done:
                ready, _, _ = select.select([source], [], [], timeout)
            else:
                ready = []
                if pending:
                    time.sleep(max(0.0, pending[0][0] - time.monotonic()))
            if ready:
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    done = True
                else:
                    due = time.monotonic() + self.rtt / 2
                    if upward:
                        # The handshake: the first bytes of a connection
                        # leave one RTT after it was opened, at the earliest.
                        due = max(due, state["opened"] + self.rtt + self.rtt / 2)
                    pending.append((due, data))
                    if upward:
                        self._note(state, True, time.monotonic())
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                _, data = pending.pop(0)
                try:
                    target.sendall(data)
                except OSError:
                    done, pending = True, []
                    break
                if not upward:
                    self._note(state, False, now)
            if done and not pending:
                try:
                    target.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return

    def _note(self, state, upward, now):
        # Client bytes after an answer started begin a new request (no
        # pipelining); answer bytes extend the current request's end.  The
        # client is on 127.0.0.1: what the proxy receives from it was sent
        # just then, what it forwards to it arrives just then.
        with self.lock:
            current = state["current"]
            if upward and (current is None or current["end"] is not None):
                state["current"] = {"conn": state["conn"], "first": current is None, "sent": now, "end": None}
                self.requests.append(state["current"])
            elif not upward and current is not None:
                current["end"] = now

    def round_trips(self, since=0):
        """(sequential round trips, of them after the connection was up, connections)."""
        with self.lock:
            reqs = sorted(self.requests[since:], key=lambda r: r["sent"])
        depth, after = {}, {}
        for i, req in enumerate(reqs):
            before = [j for j in range(i) if reqs[j]["end"] is not None
                      and reqs[j]["end"] <= req["sent"]]
            base = max((depth[j] for j in before), default=0)
            base_after = max((after[j] for j in before), default=0)
            depth[i] = base + 1 + (1 if req["first"] else 0)
            after[i] = base_after + 1
        connections = len({r["conn"] for r in reqs})
        return max(depth.values(), default=0), max(after.values(), default=0), connections

    def close(self):
        self.closed = True
        self.listener.close()


def repository(count, now_ms):
    return [Snap(f"hourly-{i:06d}", "SUCCESS", now_ms - 20 * 60_000 - i * HOUR_MS) for i in range(count)]


def timed(command):
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started, result.stdout


def measure(url, extra, runs, script, rtt_s, upstream_port, floor_path):
    proxy = DelayProxy(upstream_port, rtt_s)
    try:
        base = f"http://127.0.0.1:{proxy.port}"
        check = [sys.executable, str(script), "--url", base, "-w", "2h", "-c", "4h", "-t", "30", *extra]
        floor = [sys.executable, "-c", FLOOR, base + floor_path]
        mark = len(proxy.requests)
        _, out = timed(check)
        time.sleep(rtt_s + 0.05)  # the last answer's end is noted
        trips, after, conns = proxy.round_trips(mark)
        count = len(proxy.requests) - mark
        walls, floors = [], []
        for _ in range(runs):
            floors.append(timed(floor)[0])
            walls.append(timed(check)[0])
    finally:
        proxy.close()
    return {"checkout": script.resolve().parent.name, "status": out.split(" | ")[0].strip(), "requests": count, "trips": trips, "after": after,
            "connections": conns, "wall": statistics.median(walls), "floor": statistics.median(floors)}


def row(label, m, rtt_ms):
    return (f"| {label} | {m['checkout']} | {rtt_ms:g} ms | {m['requests']} | {m['connections']} | {m['trips']} | {m['after']} "
            f"| {m['wall'] * 1000:.0f} ms | {m['floor'] * 1000:.0f} ms | {m['wall'] / m['floor']:.2f}x "
            f"| {m['status'][:60]} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt", type=float, nargs="+", default=[0, 50], help="round-trip times in ms")
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (median)")
    parser.add_argument("--snapshots", type=int, default=10)
    parser.add_argument("--check", type=Path, nargs="+", default=[ROOT / "check_es_snapshot.py"],
                        help="the check scripts to measure, each in turn (default: this checkout's)")
    parser.add_argument("--engine", help="also a real node of the engine tier, e.g. es-8.19.21")
    parser.add_argument("--no-simulated", action="store_true", help="only the --engine")
    args = parser.parse_args()
    print("| cluster | checkout | RTT | requests | connections | sequential round trips | after connect "
          "| wall (median) | one-GET floor | ratio | status |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    if not args.no_simulated:
        for label, family, extra in CASES:
            now_ms = int(time.time() * 1000)
            cluster = Cluster(family, {"backups": repository(args.snapshots, now_ms)})
            with Server(cluster) as server:
                port = int(server.url.rsplit(":", 1)[1])
                for rtt in args.rtt:
                    for script in args.check:
                        m = measure(server.url, extra, args.runs, script, rtt / 1000, port,
                                    "/_snapshot/backups/_all")
                        print(row(label, m, rtt), flush=True)
    if args.engine:
        engine_row(args)


def engine_row(args):
    from tests.engine import harness
    engine = next(e for e in harness.ENGINES if e.id == args.engine)
    node = harness.start(engine)
    try:
        node.repository("backups")
        node.index("data")
        node.snapshot("backups", "snap-1", "data")
        # node.url: the 8.x integ-test zips serve no GET / of their own (harness.Proxy adds it)
        port = int(node.url.rsplit(":", 1)[1])
        for extra, label in ((["-r", "backups"], "-r given"), ([], "no -r")):
            for rtt in args.rtt:
                for script in args.check:
                    m = measure(node.url, extra, args.runs, script, rtt / 1000, port,
                                "/_snapshot/backups/_all")
                    print(row(f"{engine.id} (real), {label}", m, rtt), flush=True)
    finally:
        node.stop()


if __name__ == "__main__":
    main()
