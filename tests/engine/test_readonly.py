"""Read-only scenarios: safe against a cluster of your own.

    CHECK_ES_ENGINE_URL=https://monitor:secret@es.example:9200 \\
        python -m pytest -m engine -k url tests/engine/test_readonly.py

Only GET requests are sent.  On the engines the tier starts, a repository
with one snapshot is made first (the only write).
"""
import json

import pytest

from tests.engine.checkrun import check, first_line
from tests.engine.test_conformance import Server, as_snap, differences, family_for, shape, _get
from tests.engine.test_scenarios import _no_age

pytestmark = pytest.mark.engine


@pytest.fixture
def readable(node):
    if not node.readonly:
        node.reset()
        node.repository("daily")
        node.index("logs", docs=1)
        status, body = node.snapshot("daily", "snap-1", "logs")
        assert status == 200, body
    return node


def test_one_verdict_at_every_verbosity_and_in_json(readable):
    node = readable
    plain = check(node)
    assert plain.returncode in (0, 1, 2, 3) and plain.stdout.startswith("ES_SNAPSHOT ")
    for level in ("-v", "-vv"):
        verbose = check(node, level)
        assert verbose.returncode == plain.returncode
        assert _no_age(first_line(verbose.stdout)) == _no_age(first_line(plain.stdout))
    document = check(node, "--format", "json")
    parsed = json.loads(document.stdout)
    assert parsed["exit_code"] == document.returncode == plain.returncode
    assert parsed["state"] == first_line(plain.stdout).split()[1]


def test_the_simulation_reads_like_this_cluster(readable):
    """The simulation, given this cluster's snapshots, answers the same shapes."""
    node = readable
    status, repositories = _get(node.url, "/_snapshot")
    assert status == 200
    cluster = family_for(node)
    for name in sorted(repositories)[:5]:
        status, body = _get(node.url, f"/_snapshot/{name}/_all")
        cluster.repositories[name] = [as_snap(s) for s in body.get("snapshots", [])] if status == 200 else []
    report = []
    with Server(cluster) as server:
        check(node, url=server.url)
        for path in dict.fromkeys(entry["path"] for entry in cluster.log):
            if path.split("?")[0] == "/" and not node.serves_root:
                continue
            real_status, real_body = _get(node.url, path)
            fake_status, fake_body = _get(server.url, path)
            if real_status != fake_status:
                report.append(f"GET {path}: real HTTP {real_status}, simulated {fake_status}")
            elif real_status == 200:
                keyed = path.split("?")[0] == "/_snapshot"
                report += [f"GET {path}: {d}" for d in differences(shape(real_body, keyed), shape(fake_body, keyed))]
    assert not report, "\n".join(report)
