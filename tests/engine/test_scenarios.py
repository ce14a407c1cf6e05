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
    # With thread_pool.snapshot.max: 4 (harness.py) a newer snapshot of a small
    # index ends while the older, throttled one still runs (on 2 cores the
    # pool's one thread made it wait before): the running one is named, and
    # the age of the success that just ended.
    "in_progress_newer_done": [("*", 0, "ES_SNAPSHOT OK - snap-2 IN_PROGRESS for <age>, last success <age> old "
                                        "(repo slow)")],
    "no_repository": [("*", 2, "ES_SNAPSHOT CRITICAL - no snapshot repository registered")],
    "missing_named": [("*", 2, "ES_SNAPSHOT CRITICAL - repository 'nope' not found (registered: daily)")],
    # ES >= 7.16 widens its window up to 512 times (issue 10), then asks once for the
    # newest snapshot before it: none, so the repository is known to be empty (issue 20).
    "empty": [("*", 2, "ES_SNAPSHOT CRITICAL - repository 'empty' holds no snapshot")],
    "empty_ok": [("*", 0, "ES_SNAPSHOT OK - repository 'empty' holds no snapshot")],
    # Its folder removed: listed, unreadable (404 naming it, then an empty retry): never "empty".
    # ES 5.6.16 and 6.8.23 read the repository afresh and answer 200 with no snapshot: it looks new.
    "wiped": [("es<7.0", 2, "ES_SNAPSHOT CRITICAL - repository 'wiped' holds no snapshot"),
              ("*", 2, "ES_SNAPSHOT CRITICAL - snapshot w-1 has no readable metadata, no readable snapshot "
                       "in repository 'wiped'")],
    "wiped_ok": [("es<7.0", 0, "ES_SNAPSHOT OK - repository 'wiped' holds no snapshot"),
                 ("*", 2, "ES_SNAPSHOT CRITICAL - snapshot w-1 has no readable metadata, no readable snapshot "
                          "in repository 'wiped'")],
    "one_broken": [("*", 2, "ES_SNAPSHOT CRITICAL - <any>")],
    # Its index-N overwritten: ES 5.6/6.8 list per repository and answer the
    # whole request HTTP 500 (issue 22: the line must say which repository).
    "one_corrupt": [("es<7.0", 2, "ES_SNAPSHOT CRITICAL - repository 'broken': HTTP 500 from 127.0.0.1:<port> "
                                  "for list snapshots: Compressor detection can only be called on some xcontent "
                                  "bytes or compressed xcontent bytes"),
                    # From 7.0 (and on OpenSearch) the node keeps the repository
                    # data it read and does not read the file again: nothing shows.
                    ("*", 0, "ES_SNAPSHOT OK - a-1 SUCCESS, <age> old (repo alpha); 2 repositories OK")],
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
    "slm_policy": [("es<7.3", 2, "ES_SNAPSHOT CRITICAL - repository 'daily' holds no snapshot of policy 'nightly'"),
                   ("*", 0, "ES_SNAPSHOT OK - snap-p SUCCESS, <age> old (repo daily)")],
    "health": [("*", 0, "ES_SNAPSHOT OK - snap-1 SUCCESS, <age> old (repo daily)")],
    "health_note": [("es>=8.7", None, ""),
                    ("es", None, "--health: Elasticsearch <version> has no health report (Elasticsearch 8.7 or later)"),
                    ("os", None, "--health: OpenSearch <version> has no health report (Elasticsearch 8.7 or later)")],
    # Concurrent snapshots (ES >= 7.8, OpenSearch): a full snapshot that
    # started first and ended (PARTIAL: a real FAILED is not kept from 7.9 on,
    # see test_concurrent_snapshots) after an hourly success is judged.
    "concurrent_ended_later": [("*", 1, "ES_SNAPSHOT WARNING - full-1 PARTIAL <ago>, 1/2 shards failed, "
                                        "ended <ago>, after the last success hourly-1 (<age> old) (repo conc)")],
    "concurrent_other_policy": [("*", 1, "ES_SNAPSHOT WARNING - full-1 PARTIAL <ago>, 1/2 shards failed, "
                                         "no success without a policy since (repo conc)")],
    "concurrent_resolved": [("*", 0, "ES_SNAPSHOT OK - hourly-3 SUCCESS, <age> old (repo conc)")],
    "tie_worse": [("*", 1, "ES_SNAPSHOT WARNING - a-full-<n> PARTIAL <ago>, 1/1 shards failed (repo tie)")],
    "empty_snapshot": [("*", 1, "ES_SNAPSHOT WARNING - s-zero SUCCESS, <age> old, holds no index (repo zero)")],
    "empty_snapshot_ok": [("*", 0, "ES_SNAPSHOT OK - s-zero SUCCESS, <age> old, holds no index (repo zero)")],
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
            assert _wait_done(node, "slow", "snap-3")["state"] == "SUCCESS"
            result = check(node, "-r", "slow")
            assert {s["snapshot"]: s["state"] for s in node.snapshots("slow")}["snap-2"] == "IN_PROGRESS"
            expect(node, "in_progress_newer_done", result)
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
    expect(writable, "empty_ok", check(writable, "-r", "empty", "--no-snapshots-state", "ok"))


def test_wiped_repository_is_not_empty(writable):
    """The repository folder removed after a snapshot (files deleted or
    lost): --no-snapshots-state does not apply, whatever it says."""
    node = writable
    node.index("logs", docs=1)
    folder = node.repository("wiped")
    created(node, "wiped", "w-1", "logs")
    shutil.rmtree(folder)
    status, body = node.request("GET", "/_snapshot/wiped/_all")
    lenient = node.request("GET", "/_snapshot/wiped/_all", params={"ignore_unavailable": "true"})
    harness.record(node, scenario="wiped+answers", strict=[status, body.get("error", {}).get("type")],
                   lenient=[lenient[0], lenient[1].get("snapshots")])
    if node.version < (7, 0) and not node.opensearch:  # ES 5.6.16, 6.8.23: no snapshot at all, like a new one
        assert status == 200 and body == {"snapshots": []}, body
    else:
        assert status == 404 and body["error"]["type"] == "snapshot_missing_exception", body
    assert lenient[0] == 200 and lenient[1]["snapshots"] == [], lenient
    for args in ((), ("-v",)):
        expect(node, "wiped", check(node, "-r", "wiped", *args))
    expect(node, "wiped_ok", check(node, "-r", "wiped", "--no-snapshots-state", "ok"))


def alpha_and_broken(node):
    """Two repositories with a snapshot each; the folder of 'broken', to break."""
    node.index("logs", docs=1)
    node.repository("alpha")
    created(node, "alpha", "a-1", "logs")
    folder = node.repository("broken")
    created(node, "broken", "b-1", "logs")
    return folder


def test_two_repositories_one_broken(writable):
    node = writable
    shutil.rmtree(alpha_and_broken(node))
    result = check(node)
    expect(node, "one_broken", result)
    assert "broken" in first_line(result.stdout)


def test_two_repositories_one_corrupt(writable):
    node = writable
    folder = alpha_and_broken(node)
    for generation in folder.glob("index*"):  # index-N and index.latest: no longer JSON
        if generation.is_file():
            generation.write_bytes(b"not the repository's generation")
    result = check(node)
    expect(node, "one_corrupt", result)


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
    # repository, plan.py), on ES >= 7.16 the snapshots that started before
    # the window and lasted past its newest success (sort=duration), then
    # _current on ES >= 7.14 (running ones), -v's history of older snapshots
    # on ES >= 7.16 (the window holds one); below 7.13 and on OpenSearch
    # _status for the size (no index_details).
    assert count == (5 if node.es_at_least(7, 16) else 3), vv
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


# -- concurrent snapshots and a snapshot of no index (issue 20, items 1, 2, 5) ------------

def _wait_done(node, repo, name, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = {s["snapshot"]: s for s in node.snapshots(repo)}
        if name in states and states[name]["state"] != "IN_PROGRESS":
            return states[name]
        time.sleep(0.5)
    raise AssertionError(f"{name} did not complete in {timeout_s}s")


def test_concurrent_snapshots_a_full_one_ending_after_an_hourly_success(writable):
    """Two naming schemes, as two SLM policies would make them: full-N of a
    big index (slow: a throttled repository, random payloads that do not
    compress) and hourly-N of a small one, started while full-1 runs.

    A real FAILED cannot be had here: from ES 7.9 (and on OpenSearch) a
    snapshot of an index without primaries is refused, and an aborted one
    (DELETE while it runs) is finalized FAILED and then deleted by that same
    request.  PARTIAL (``partial: true``) is a non-success judged by the same
    rule, at its own level (WARNING).  Snapshots of the same millisecond:
    test_same_millisecond_goes_to_the_worse_state."""
    node = writable
    if not (node.opensearch or node.es_at_least(7, 8)):
        pytest.skip("concurrent snapshots need ES 7.8 or later")
    key = "sm_policy" if node.opensearch else "policy"
    folder = node.repository("conc", max_snapshot_bytes_per_sec="40kb")
    node.index("base", docs=1)
    node.index("big", docs=2000, random_text=True)
    node.index("bad", docs=0, unassignable=True)
    status, payload = node.snapshot("conc", "full-1", "big,bad", wait=False, partial=True)
    assert status == 200, payload
    assert _wait_running(node, "conc", "full-1") == "IN_PROGRESS"
    # Start times come from a clock cached per 200 ms (seen: 200 ms apart,
    # and once on OpenSearch 3.6.0 the same millisecond): the next tick
    # makes hourly-1 the later one.
    time.sleep(0.5)
    hourly = created(node, "conc", "hourly-1", "base")
    assert hourly["state"] == "SUCCESS"
    states = {s["snapshot"]: s["state"] for s in node.snapshots("conc")}
    assert states["full-1"] == "IN_PROGRESS", f"full-1 was not slow enough to overlap: {states}"
    full = _wait_done(node, "conc", "full-1")
    assert full["state"] == "PARTIAL" and full["start_time_in_millis"] < hourly["start_time_in_millis"]
    assert full["end_time_in_millis"] > hourly["end_time_in_millis"], (full, hourly)
    harness.record(node, scenario="concurrent_overlap", full_ms=[full["start_time_in_millis"],
                   full["end_time_in_millis"]], hourly_ms=[hourly["start_time_in_millis"],
                                                           hourly["end_time_in_millis"]])
    expect(node, "concurrent_ended_later", check(node, "-r", "conc"))
    node.repository("conc")  # the same folder, no longer throttled
    assert folder.exists()
    # A success of a policy does not resolve the failure of the snapshots of no policy ...
    created(node, "conc", "hourly-2", "base", metadata={key: "hourly"})
    expect(node, "concurrent_other_policy", check(node, "-r", "conc"))
    # ... a later success of no policy does.
    created(node, "conc", "hourly-3", "base")
    expect(node, "concurrent_resolved", check(node, "-r", "conc"))


def test_snapshot_of_no_index(writable):
    """``indices: "nomatch-*"`` with ``ignore_unavailable``: SUCCESS, 0 shards."""
    node = writable
    node.repository("zero")
    snap = created(node, "zero", "s-zero", "nomatch-*", ignore_unavailable=True)
    assert snap["state"] == "SUCCESS" and snap["shards"]["total"] == 0, snap
    listed = node.snapshots("zero")[0]
    harness.record(node, scenario="empty_snapshot+listing", entry=listed)
    assert listed["shards"] == {"total": 0, "failed": 0, "successful": 0} and listed["indices"] == [], listed
    expect(node, "empty_snapshot", check(node, "-r", "zero"))
    expect(node, "empty_snapshot_ok", check(node, "-r", "zero", "--empty-snapshot-state", "ok"))


def test_same_millisecond_goes_to_the_worse_state(writable):
    """Two snapshots that start and end in the same millisecond: the engines
    stamp both times from a clock cached per 200 ms, so two snapshots with
    nothing to copy (a-full of an index without primaries, ``partial``:
    PARTIAL; b-hourly of no index: SUCCESS), created back to back, tie on
    both.  The worse state counts as the later one: by name b-hourly would
    win, and the check said OK."""
    node = writable
    if not (node.opensearch or node.es_at_least(7, 8)):
        pytest.skip("concurrent snapshots need ES 7.8 or later")
    node.repository("tie")
    node.index("bad", docs=0, unassignable=True)
    for attempt in range(20):  # OpenSearch 3.6.0 once took 8
        full, hourly = f"a-full-{attempt}", f"b-hourly-{attempt}"
        for name, body in ((full, {"indices": "bad", "partial": True}),
                           (hourly, {"indices": "nomatch-*", "ignore_unavailable": True})):
            status, payload = node.snapshot("tie", name, wait=False, **body)
            assert status == 200, payload
        a, b = _wait_done(node, "tie", full), _wait_done(node, "tie", hourly)
        times = ([a["start_time_in_millis"], a["end_time_in_millis"]],
                 [b["start_time_in_millis"], b["end_time_in_millis"]])
        harness.record(node, scenario="tie_times", a=times[0], b=times[1])
        if times[0] == times[1]:
            break
        for name in (full, hourly):  # only the pair that tied stays
            node.ok("DELETE", f"/_snapshot/tie/{name}")
    else:
        pytest.fail("no two snapshots started and ended in the same millisecond in 20 attempts")
    assert (a["state"], b["state"]) == ("PARTIAL", "SUCCESS")
    expect(node, "tie_worse", check(node, "-r", "tie", "--empty-snapshot-state", "ok"))
