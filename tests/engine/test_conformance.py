"""The simulated cluster (tests/fake_es.py), held to the real engines.

The requests are not listed by hand: the check is run against the
simulation set up like the real node, and every request it sent (its
request log) is replayed against both; the bodies must have the same shape
(keys, types, nesting; values aside) and errors the same status and type.
Requests the check learns to send later are covered without a change here.
Representative real bodies are saved under tests/fixtures/real/<engine>/.
"""
import json
import os
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import FIXTURES
from tests.engine.checkrun import check
from tests.fake_es import FAMILIES, Cluster, Server, Snap

pytestmark = pytest.mark.engine

# Check runs whose requests are replayed (the version decides which are sent).
# "empty" holds no snapshot: its filtered listing is {} on the real engines
# (filter_path drops an empty array), which the check must refill.
CHECK_RUNS = ([], ["--no-size"], ["-r", "conf"], ["-r", "conf", "-w", "1s", "-c", "2s"],
              ["-r", "conf", "-v"], ["-r", "conf", "--format", "json"], ["-r", "empty"],
              ["-r", "empty", "-v"], ["-r", "nope"], ["--slm-policy", "nightly"], ["--health"], ["--slm"])
# Errors the check must read the same way on both: an unknown parameter, a
# missing repository, a missing snapshot.
PROBES = ("/_snapshot/conf/_all?no_such_parameter=1", "/_snapshot/nope/_all",
          "/_snapshot/conf/no-such-snapshot/_status")
# The zips lack x-pack ILM/SLM; the simulation models a full distribution.
BUILD_DIFFERENCES = {".indicators.slm: only the simulation has it"}
SAVE_AS = {"/_snapshot": "repositories", "/_health_report": "health_report"}


def family_for(node):
    """The simulated family closest below the engine, at the engine's exact version."""
    candidates = [(tuple(int(x) for x in number.split(".")), family)
                  for family, (distribution, number) in FAMILIES.items()
                  if distribution == node.engine.distribution]
    below = [c for c in sorted(candidates) if c[0][:2] <= node.version[:2]]
    family = (below or sorted(candidates))[-1][1]
    cluster = Cluster(family, {})
    cluster.number, cluster.version = node.engine.version, node.version
    return cluster


def as_snap(entry):
    shards = entry.get("shards", {})
    return Snap(name=entry["snapshot"], state=entry["state"], start_ms=entry["start_time_in_millis"],
                duration_ms=max(0, entry.get("duration_in_millis", 0)),
                shards_total=shards.get("total", 0), shards_failed=shards.get("failed", 0),
                reason=entry.get("reason") or "", indices=tuple(entry.get("indices", ())),
                policy=(entry.get("metadata") or {}).get("policy", ""))


# Objects keyed by names (repositories, indices): their keys are values.
NAME_KEYED = ("index_details", "indices", "failures")


def shape(value, name_keyed=False):
    """Keys, types and nesting of a JSON value; list items merged."""
    if isinstance(value, dict) and name_keyed:
        merged = None
        for item in value.values():
            merged = _merge(merged, shape(item))
        return {"<name>": merged} if value else {}
    if isinstance(value, dict):
        return {key: shape(item, key in NAME_KEYED) for key, item in value.items()}
    if isinstance(value, list):
        merged = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [merged]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


def _merge(a, b):
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in {**a, **b}}
    return a if a == b else a


def differences(real, fake, where=""):
    """What the simulation sends differently, one sentence each."""
    if isinstance(real, dict) and isinstance(fake, dict):
        found = [f"{where}.{k}: only the real engine has it" for k in real if k not in fake]
        found += [f"{where}.{k}: only the simulation has it" for k in fake if k not in real]
        for key in real.keys() & fake.keys():
            found += differences(real[key], fake[key], f"{where}.{key}")
        return found
    if isinstance(real, list) and isinstance(fake, list):
        if real[0] is None or fake[0] is None:
            return []  # an empty list on one side says nothing about its items
        return differences(real[0], fake[0], where + "[]")
    return [] if real == fake else [f"{where or '.'}: real {real}, simulated {fake}"]


def _get(base, path):
    response = requests.get(base + path, timeout=60, headers={"Accept": "application/json"})
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


def _error_type(body):
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else error if isinstance(error, str) else None


def _save(node, name, body):
    folder = FIXTURES / "real" / f"{node.engine.distribution}-{node.engine.version}"
    if os.environ.get("CHECK_ES_SAVE_FIXTURES") == "1" and not node.readonly:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")


def _prepare(node):
    node.repository("conf")
    node.repository("empty")
    node.index("logs-1", docs=3)
    # A dotted name: index_details.*.size_in_bytes must still reach its size.
    node.index("logs.2026.11.28", docs=3)
    node.index("bad", docs=0, unassignable=True)
    for name, indices, extra in (("c-1", "logs-1,logs.2026.11.28", {}), ("c-2", "logs-1,bad", {"partial": True})):
        status, payload = node.snapshot("conf", name, indices, **extra)
        assert status == 200, payload


def _duration_order(node, server, snaps):
    """``sort=duration&from_sort_value`` (the request that finds a snapshot
    started before the look-back window): the same snapshots, in the same
    order, on both, with the bound at each snapshot's duration and one past
    it, ascending and descending (the shape comparison cannot tell)."""
    report = []
    durations = sorted({s["end_time_in_millis"] - s["start_time_in_millis"] for s in snaps})
    for bound in sorted({0, *(d + step for d in durations for step in (0, 1))}):
        for order in ("asc", "desc"):
            path = f"/_snapshot/conf/*?sort=duration&order={order}&from_sort_value={bound}"
            answers = []
            for base in (node.url, server.url):
                status, body = _get(base, path)
                answers.append((status, [s["snapshot"] for s in body.get("snapshots", ())]
                                if status == 200 else _error_type(body)))
            if answers[0] != answers[1]:
                report.append(f"GET {path}: real {answers[0]}, simulated {answers[1]} (durations {durations})")
    return report


def test_simulation_answers_like_the_real_engine(writable):
    node = writable
    _, empty = _get(node.direct_url, "/_snapshot")
    assert empty == {}, "GET /_snapshot with no repository"
    _prepare(node)
    real_snaps = node.ok("GET", "/_snapshot/conf/_all")["snapshots"]
    cluster = family_for(node)
    cluster.repositories = {"conf": [as_snap(s) for s in real_snaps], "empty": []}
    cluster.sm_plugin = False  # the OpenSearch zips carry no index-management plugin
    report = []
    with Server(cluster) as server:
        for args in CHECK_RUNS:
            check(node, *args, url=server.url)
        paths = list(dict.fromkeys(entry["path"] for entry in cluster.log)) + list(PROBES)
        for path in paths:
            real_status, real_body = (_get(node.url, path) if path.split("?")[0] != "/" or node.serves_root
                                      else (200, None))
            fake_status, fake_body = _get(server.url, path)
            route = urlsplit(path).path
            if real_body is None:
                continue  # the ES 8/9 zip's GET / is our own stand-in: nothing to compare
            if route.startswith("/_slm") and real_status in (400, 405):
                continue  # no SLM in these builds (no x-pack ILM): the simulation models full ones
            if real_status != fake_status or _error_type(real_body) != _error_type(fake_body):
                report.append(f"GET {path}: real HTTP {real_status} {_error_type(real_body)}, "
                              f"simulated HTTP {fake_status} {_error_type(fake_body)}; "
                              f"real body {json.dumps(real_body)[:300]}")
                continue
            if real_status == 200:
                keyed = route == "/_snapshot"  # keyed by repository names
                report += [f"GET {path}: {d}" for d in differences(shape(real_body, keyed), shape(fake_body, keyed))
                           if d not in BUILD_DIFFERENCES]
            kind = SAVE_AS.get(route) or ("root" if route == "/" else "status" if route.endswith("/_status")
                                         else "current" if route.endswith("/_current")
                                         else "listing" if route.startswith("/_snapshot/conf") and real_status == 200
                                         else "empty_listing" if route.startswith("/_snapshot/empty/")
                                         else None)
            if kind and real_status == 200 and not (kind == "listing" and not real_body.get("snapshots")):
                _save(node, kind, real_body)
        if cluster.accepts("from_sort_value"):
            report += _duration_order(node, server, real_snaps)
    from tests.engine import harness
    harness.record(node, conformance=report, requests=paths)
    assert not report, f"{node.engine.id}: the simulation differs:\n" + "\n".join(report)
