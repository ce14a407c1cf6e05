"""Every snapshot state the check judges, produced on real engines.

The check runs as a subprocess (the installed console script, else the
checkout's script) against each engine; its exit code and exact first line
are asserted.  All expected lines live in EXPECTED below, in one place.
"""
import json
import re
import shutil
import threading
import time

import pytest

from tests.engine import harness
from tests.engine.checkrun import check, first_line

pytestmark = pytest.mark.engine

# scenario -> [(engines, exit code, first line)]: the first row whose engines
# match wins ("*" all; "es" / "os" a distribution; "es<7.9", "es>=8.7", "os>=2.0"
# a range; "es>=7.14,es<8.14" both).  Placeholders: <age> a duration (12s, 1m5s), <ago> "just now" or
# "<age> ago", <n> a number, <port> a port.
EXPECTED = {
    "success": [("*", 0, "ES_SNAPSHOT OK - snap-1 SUCCESS, <age> old (repo daily)")],
    "too_old": [("*", 2, "ES_SNAPSHOT CRITICAL - newest success snap-1 is <age> old, more than 2s (repo daily)")],
    "partial": [("*", 1, "ES_SNAPSHOT WARNING - snap-2 PARTIAL <ago>, 1/2 shards failed (repo daily)")],
    # A snapshot of an index without primaries: recorded FAILED up to ES 7.8;
    # later (and on OpenSearch) the create call fails and nothing is recorded.
    "failed": [("es<7.9", 2, "ES_SNAPSHOT CRITICAL - snap-2 FAILED <ago>: Indices don't have primary shards [bad] (repo daily)"),
               ("*", 0, "ES_SNAPSHOT OK - snap-1 SUCCESS, <age> old (repo daily)")],
    "in_progress": [("*", 0, "ES_SNAPSHOT OK - snap-2 IN_PROGRESS for <age>, last success <age> old (repo slow)")],
    # A newer snapshot of the same repository cannot end before the older one:
    # finalizations are ordered per repository (seen on ES 9.5.2: snap-3 waited).
    "in_progress_newer_done": [("*", 0, "ES_SNAPSHOT OK - snap-3 SUCCESS, <age> old (repo slow)")],
    "in_progress_newer": [("*", 0, "ES_SNAPSHOT OK - snap-3 IN_PROGRESS for <age>, last success <age> old (repo slow)")],
    "no_repository": [("*", 2, "ES_SNAPSHOT CRITICAL - no snapshot repository registered")],
    "missing_named": [("*", 2, "ES_SNAPSHOT CRITICAL - repository 'nope' not found (registered: daily)")],
    # ES >= 7.16 widens its window up to 512 times (issue 10) and says how far it looked.
    "empty": [("es>=7.16", 2, "ES_SNAPSHOT CRITICAL - no snapshot in repository 'empty' in the last 2y358d "
                              "(the check looks no further back)"),
              ("*", 2, "ES_SNAPSHOT CRITICAL - no snapshot in repository 'empty'")],
    "one_broken": [("*", 2, "ES_SNAPSHOT CRITICAL - <any>")],
    "unregistered": [("es>=7.14,es<8.14", 2, "ES_SNAPSHOT CRITICAL - repository 'gone' could not be read: [gone] missing"),
                     ("*", 2, "ES_SNAPSHOT CRITICAL - repository 'gone' could not be read: repository disappeared while reading")],
    # A cluster without SLM / a health report leaves the snapshot verdict
    # standing (issue 10); what it lacks is a note in -v and in JSON.
    "slm": [("*", 0, "ES_SNAPSHOT OK - snap-1 SUCCESS, <age> old (repo daily)")],
    "slm_note": [("es<7.4", None, "--slm: Elasticsearch <version> has no SLM (Elasticsearch 7.4 or later)"),
                 ("es", None, "--slm: Elasticsearch <version> has no SLM API (HTTP <n>; a build without x-pack?)"),
                 ("os<2.1", None, "--slm: OpenSearch <version> has no snapshot management (OpenSearch 2.1 or later)"),
                 # The zips carry no index-management plugin (seen on 2.19.6 and 3.6.0).
                 ("os", None, "--slm: snapshot management is not available (HTTP 400 from 127.0.0.1:<port> for "
                              "<any>: no handler found for uri [<any>] and method [GET])")],
    "slm_policy": [("es<7.3", 2, "ES_SNAPSHOT CRITICAL - no snapshot of policy 'nightly' in repository 'daily'"),
                   ("*", 0, "ES_SNAPSHOT OK - snap-p SUCCESS, <age> old (repo daily)")],
    "health": [("*", 0, "ES_SNAPSHOT OK - snap-1 SUCCESS, <age> old (repo daily)")],
    "health_note": [("es>=8.7", None, ""),
                    ("es", None, "--health: Elasticsearch <version> has no health report (Elasticsearch 8.7 or later)"),
                    ("os", None, "--health: OpenSearch <version> has no health report (Elasticsearch 8.7 or later)")],
    "unreadable_newest": [("*", 1, "ES_SNAPSHOT WARNING - snapshot snap-new has no readable metadata, "
                                   "newest readable snap-old SUCCESS, <age> old (repo ur)")],
}

_TOKENS = {"<age>": r"(?:\d+[dhms])+", "<ago>": r"(?:just now|(?:\d+[dhms])+ ago)", "<n>": r"\d+",
           "<port>": r"\d+", "<any>": r".+", "<version>": r"[0-9.]+"}


def _matches(where, node):
    if where == "*":
        return True
    if "," in where:
        return all(_matches(part, node) for part in where.split(","))
    match = re.fullmatch(r"(es|os)(?:(<|>=)(\d+)\.(\d+))?", where)
    distribution, op, major, minor = match.groups()
    if (distribution == "os") != node.opensearch:
        return False
    if op is None:
        return True
    at_least = node.version[:2] >= (int(major), int(minor))
    return at_least if op == ">=" else not at_least


def expected(scenario, node):
    """(exit code, regex) of a scenario on this engine."""
    for where, code, line in EXPECTED[scenario]:
        if _matches(where, node):
            pattern = "".join(_TOKENS.get(part, re.escape(part))
                              for part in re.split(r"(<[a-z]+>)", line))
            return code, pattern
    raise KeyError(f"no expectation for {scenario} on {node.engine.id}")


def expect(node, scenario, result):
    code, pattern = expected(scenario, node)
    line = first_line(result.stdout)
    harness.record(node, scenario=scenario, exit_code=result.returncode, line=line)
    assert (result.returncode, line) == (code, line) and re.fullmatch(pattern, line), (
        f"{scenario} on {node.engine.id}: exit {result.returncode}, {line!r}\n"
        f"expected exit {code}, /{pattern}/\n{result.stdout[-1500:]}{result.stderr[-500:]}")
    assert result.stderr == ""


def created(node, repo, name, indices, **body):
    status, payload = node.snapshot(repo, name, indices, **body)
    assert status == 200, f"{name}: {status} {str(payload)[:400]}"
    return payload["snapshot"]


# -- states -----------------------------------------------------------------------

def test_success_then_too_old(writable):
    node = writable
    node.repository("daily")
    node.index("logs", docs=5)
    snap = created(node, "daily", "snap-1", "logs")
    assert snap["state"] == "SUCCESS"
    expect(node, "success", check(node, "-r", "daily"))
    time.sleep(max(0.0, snap["start_time_in_millis"] / 1000 + 3.5 - time.time()))
    expect(node, "too_old", check(node, "-r", "daily", "-w", "1s", "-c", "2s"))


def _with_bad_index(node):
    node.repository("daily")
    node.index("logs", docs=5)
    node.index("bad", docs=0, unassignable=True)
    created(node, "daily", "snap-1", "logs")


def test_partial(writable):
    _with_bad_index(writable)
    snap = created(writable, "daily", "snap-2", "logs,bad", partial=True)
    assert snap["state"] == "PARTIAL"
    expect(writable, "partial", check(writable, "-r", "daily"))


def test_failed_where_the_engine_records_it(writable):
    _with_bad_index(writable)
    status, payload = writable.snapshot("daily", "snap-2", "logs,bad")
    recorded = any(s["snapshot"] == "snap-2" for s in writable.snapshots("daily"))
    code, _ = expected("failed", writable)
    assert recorded == (code == 2), f"create answered {status}: {str(payload)[:300]}"
    expect(writable, "failed", check(writable, "-r", "daily"))


def _wait_running(node, repo, name, timeout_s=30):
    """The state of a snapshot started without waiting, once it is listed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = {s["snapshot"]: s["state"] for s in node.snapshots(repo)}
        if states.get(name) in ("IN_PROGRESS", "SUCCESS"):
            return states[name]
        time.sleep(0.2)
    raise AssertionError(f"{name} never ran: {states}")


def test_in_progress_and_a_newer_one_completing(writable):
    node = writable
    node.repository("slow")
    node.index("base", docs=5)
    created(node, "slow", "snap-1", "base")
    node.repository("slow", max_snapshot_bytes_per_sec="256b")  # the same folder, throttled
    node.index("big", docs=300)
    status, payload = node.snapshot("slow", "snap-2", "big", wait=False)
    assert status == 200, payload
    try:
        assert _wait_running(node, "slow", "snap-2") == "IN_PROGRESS"
        expect(node, "in_progress", check(node, "-r", "slow"))
        if node.es_at_least(7, 8) or node.opensearch:  # concurrent snapshots
            status, payload = node.snapshot("slow", "snap-3", "base", wait=False)
            assert status == 200, payload
            state = _wait_running(node, "slow", "snap-3")
            result = check(node, "-r", "slow")
            expect(node, "in_progress_newer" if state == "IN_PROGRESS" else "in_progress_newer_done", result)
    finally:
        for name in ("snap-3", "snap-2"):
            node.request("DELETE", f"/_snapshot/slow/{name}")  # aborts it


# -- repositories -------------------------------------------------------------------

def test_no_repository(writable):
    expect(writable, "no_repository", check(writable))


def test_named_repository_missing(writable):
    writable.repository("daily")
    expect(writable, "missing_named", check(writable, "-r", "nope"))


def test_empty_repository(writable):
    writable.repository("empty")
    expect(writable, "empty", check(writable, "-r", "empty"))


def test_two_repositories_one_broken(writable):
    node = writable
    node.index("logs", docs=1)
    node.repository("alpha")
    created(node, "alpha", "a-1", "logs")
    folder = node.repository("broken")
    created(node, "broken", "b-1", "logs")
    shutil.rmtree(folder)
    result = check(node)
    expect(node, "one_broken", result)
    assert "broken" in first_line(result.stdout)


def test_repository_unregistered_while_the_check_runs(writable):
    node = writable
    node.index("logs", docs=1)
    for name in ("kept", "gone"):
        node.repository(name)
        created(node, name, f"{name}-1", "logs")
    deleted, lock = [], threading.Lock()

    def unregister_before_listing(method, path):
        # Locked: the check sends _current next to the listing (plan.py),
        # and only the first of the two may unregister.
        with lock:
            if not deleted and path.startswith("/_snapshot/") and method == "GET":
                node.ok("DELETE", "/_snapshot/gone")
                deleted.append(path)

    proxy = harness.Proxy(node, hook=unregister_before_listing)
    try:
        result = check(node, url=proxy.url)
    finally:
        proxy.close()
    assert deleted, "the check never listed"
    expect(node, "unregistered", result)


# -- SLM, policies, health ----------------------------------------------------------------

def expect_note(node, scenario, note, *args):
    """The verdict stands; -v and JSON carry the note of what the cluster lacks."""
    plain = check(node, *args)
    expect(node, scenario, plain)
    _, pattern = expected(note, node)
    verbose = check(node, *args, "-v")
    notes = [line[len("note: "):] for line in verbose.stdout.splitlines() if line.startswith("note: ")]
    document = json.loads(check(node, *args, "--format", "json").stdout)
    harness.record(node, scenario=f"{scenario}+{note}", notes=notes, json_notes=document["notes"])
    if pattern == "":  # the engine has it: nothing to note
        assert notes == [] and document["notes"] == [], (notes, document["notes"])
    else:
        assert len(notes) == 1 and re.fullmatch(pattern, notes[0]), (notes, pattern, verbose.stdout)
        assert document["notes"] == notes
    assert document["exit_code"] == verbose.returncode == plain.returncode


def test_slm_policy_and_health(writable):
    node = writable
    node.repository("daily")
    node.index("logs", docs=1)
    created(node, "daily", "snap-1", "logs")
    expect_note(node, "slm", "slm_note", "--slm")
    expect_note(node, "health", "health_note", "--health")
    if node.opensearch or node.es_at_least(7, 3):  # user metadata on snapshots
        key = "sm_policy" if node.opensearch else "policy"
        created(node, "daily", "snap-p", "logs", metadata={key: "nightly"})
    expect(node, "slm_policy", check(node, "--slm-policy", "nightly", "-r", "daily"))
    # Named, the policy is asked for first (OpenSearch: its _explain).
    expect_note(node, "slm_policy", "slm_note", "--slm", "--slm-policy", "nightly", "-r", "daily")


# -- one verdict at every verbosity and in JSON ------------------------------------------

def _no_age(line):
    return re.sub(_TOKENS["<age>"], "<age>", line)


def test_verbosity_and_json_agree(writable):
    node = writable
    node.repository("daily")
    node.index("logs", docs=1)
    created(node, "daily", "snap-1", "logs")
    plain = check(node, "-r", "daily")
    for level in ("-v", "-vv"):
        result = check(node, "-r", "daily", level)
        assert result.returncode == plain.returncode == 0
        assert _no_age(first_line(result.stdout)) == _no_age(first_line(plain.stdout))
        assert "snap-1 SUCCESS" in result.stdout
    vv = check(node, "-r", "daily", "-vv").stdout
    assert f"cluster: {'OpenSearch' if node.opensearch else 'Elasticsearch'} {node.engine.version}" in vv
    requests_line = next(line for line in vv.splitlines() if line.endswith("ms waiting for the cluster"))
    count = int(requests_line.split()[0])
    assert count == len(re.findall(r"^GET .* -> HTTP 200,", vv, re.M)), vv
    # / (-v shows the version), the listing (no _snapshot: -r names the
    # repository, plan.py), then _current on ES >= 7.14 (running ones), -v's
    # history of older snapshots on ES >= 7.16 (the window holds one); below
    # 7.13 and on OpenSearch _status for the size (no index_details).
    assert count == (4 if node.es_at_least(7, 16) else 3), vv
    document = check(node, "-r", "daily", "--format", "json")
    parsed = json.loads(document.stdout)
    assert parsed["exit_code"] == document.returncode == 0 and parsed["state"] == "OK"
    assert parsed["repositories"][0]["newest"]["name"] == "snap-1"
    assert parsed["cluster"]["version"] == node.engine.version


# -- an unreadable newest snapshot (issue 11, item 16) -------------------------------------

def test_unreadable_newest_snapshot_is_noticed(writable):
    node = writable
    folder = node.repository("ur")
    node.index("logs", docs=1)
    created(node, "ur", "snap-old", "logs")
    new = created(node, "ur", "snap-new", "logs")
    (folder / f"snap-{new['uuid']}.dat").unlink()
    # What the engine does with ignore_unavailable=true: drops it without a word.
    listed = node.ok("GET", "/_snapshot/ur/_all", params={"ignore_unavailable": "true"})["snapshots"]
    assert [s["snapshot"] for s in listed] == ["snap-old"]
    status, body = node.request("GET", "/_snapshot/ur/_all")
    if node.version < (6, 0) and not node.opensearch:  # ES 5.6.16: wrapped, HTTP 500
        assert status == 500 and body["error"]["type"] == "snapshot_exception", body
        assert body["error"]["root_cause"][0]["type"] == "snapshot_missing_exception", body
    else:
        assert status == 404 and body["error"]["type"] == "snapshot_missing_exception", body
    expect(node, "unreadable_newest", check(node, "-r", "ur"))
