"""What a check costs on a real repository of 1,000 snapshots, next to the
plain listing of the same repository on the same node (README, Performance)."""
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.engine import harness
from tests.engine.checkrun import check

pytestmark = pytest.mark.engine

COUNT = 1000


def _make_many(node, repo, count):
    node.repository(repo)
    node.index("tiny", docs=0)
    # Concurrent snapshots from ES 7.8 (and OpenSearch): four at a time.
    workers = 4 if node.opensearch or node.es_at_least(7, 8) else 1

    def one(i):
        for _ in range(20):
            status, body = node.snapshot(repo, f"many-{i:04d}", "tiny")
            if status == 200:
                return
            time.sleep(0.2)  # a concurrent-snapshot limit: try again
        raise AssertionError(f"many-{i:04d}: {status} {str(body)[:300]}")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))


def _plain_listing(node, repo):
    """(bytes on the wire with gzip, bytes of JSON, seconds) of GET _snapshot/<repo>/_all."""
    started = time.monotonic()
    response = requests.get(f"{node.url}/_snapshot/{repo}/_all", stream=True, timeout=120,
                            headers={"Accept-Encoding": "gzip"})
    wire = response.raw.read(decode_content=False)
    seconds = time.monotonic() - started
    json_bytes = len(requests.get(f"{node.url}/_snapshot/{repo}/_all", timeout=120).content)
    return len(wire), json_bytes, seconds


def test_cost_of_a_thousand_snapshots(writable):
    node = writable
    began = time.monotonic()
    _make_many(node, "many", COUNT)
    made_s = time.monotonic() - began
    started = time.monotonic()
    result = check(node, "-r", "many", "-vv", timeout=120)
    wall_s = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-2000:]
    totals = re.search(r"^(\d+) requests, (\d+) bytes received, (\d+) ms waiting", result.stdout, re.M)
    count, received, waited_ms = (int(g) for g in totals.groups())
    wire, json_bytes, plain_s = _plain_listing(node, "many")
    harness.record(node, cost={"snapshots": COUNT, "made_s": round(made_s, 1), "check_requests": count,
                               "check_bytes": received, "check_wait_ms": waited_ms,
                               "check_wall_ms": round(wall_s * 1000), "plain_wire_bytes": wire,
                               "plain_json_bytes": json_bytes, "plain_ms": round(plain_s * 1000)})
    if node.es_at_least(7, 16):
        assert count <= 4, result.stdout
