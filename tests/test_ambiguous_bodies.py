"""Issue 20, item 3: a body that can be read two ways is refused, not guessed.

Each of these read OK before (json.loads keeps the last of two keys, a
dict keeps the last of two snapshots, str.upper() folds Unicode, a stray
repository and an out-of-range SLM time were dropped): end to end against
the simulated cluster, exact first lines."""
import json

import pytest

from tests.conftest import HOUR_MS, NOW_MS, first_line
from tests.fake_es import Cluster, Override, Snap

UNEXPECTED = "ES_SNAPSHOT UNKNOWN - unexpected answer from the cluster: "
# The listing of every family, not _current (served by the cluster itself).
LISTING = "^/_snapshot/backups/(?!_current)"


def ago(name, state="SUCCESS", hours=1.0, **kw):
    return Snap(name, state, NOW_MS - int(hours * HOUR_MS), **kw)


def entry(name, state="SUCCESS", hours=1.0, repository="backups", **extra):
    start = NOW_MS - int(hours * HOUR_MS)
    body = {"snapshot": name, "repository": repository, "state": state, "start_time_in_millis": start,
            "end_time_in_millis": start + 60_000, "duration_in_millis": 60_000,
            "shards": {"total": 1, "failed": 0, "successful": 1}, "failures": []}
    body.update(extra)
    return body


def listing(*entries):
    return json.dumps({"snapshots": list(entries)})


def run(inproc, cluster, *args):
    server = inproc(cluster)
    code, out, err = server.run("--url", server.url, *args)
    assert err == ""
    return code, first_line(out)


def with_listing(inproc, body, family="es8", *args):
    cluster = Cluster(family, {"backups": [ago("old-good", hours=30)]})
    cluster.overrides.append((LISTING, Override(200, body.encode() if isinstance(body, str) else body)))
    return run(inproc, cluster, *args)


# -- a key twice -------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["es8", "es7.10", "os2"])
def test_unknown_state_key_twice_in_one_snapshot(inproc, family):
    text = listing(entry("s1", "FAILED")).replace('"state": "FAILED"', '"state": "FAILED", "state": "SUCCESS"')
    assert (with_listing(inproc, text, family)) == (
        3, UNEXPECTED + "an object in the answer holds the key 'state' twice")


def test_unknown_snapshots_key_twice_at_the_top(inproc):
    text = '{"snapshots": %s, "snapshots": %s}' % (json.dumps([entry("f", "FAILED")]), json.dumps([entry("s")]))
    assert with_listing(inproc, text) == (3, UNEXPECTED + "an object in the answer holds the key 'snapshots' twice")


def test_unknown_key_twice_in_a_responses_item(inproc):
    text = ('{"responses": [{"repository": "backups", "snapshots": %s, "snapshots": %s}]}'
            % (json.dumps([entry("f", "FAILED")]), json.dumps([entry("s")])))
    assert with_listing(inproc, text) == (3, UNEXPECTED + "an object in the answer holds the key 'snapshots' twice")


def test_unknown_snapshots_next_to_a_responses_wrapper(inproc):
    for text in ('{"snapshots": %s, "responses": [{"repository": "backups", "snapshots": %s}]}',
                 '{"responses": [{"repository": "backups", "snapshots": %s}], "snapshots": %s}'):
        text %= (json.dumps([entry("f", "FAILED")]), json.dumps([entry("s")]))
        assert with_listing(inproc, text) == (
            3, UNEXPECTED + "the snapshot listing holds both a 'snapshots' list and a 'responses' wrapper")


def test_unknown_key_twice_in_an_slm_policy(inproc):
    cluster = Cluster("es8", {"backups": [ago("s1")]})
    policy = ('{"nightly": {"policy": {"repository": "backups"}, "next_execution_millis": %d, '
              '"last_failure": {"time": %d, "snapshot_name": "f"}, "last_failure": null}}'
              % (NOW_MS + HOUR_MS, NOW_MS - HOUR_MS // 2))
    cluster.overrides.append(("^/_slm/policy", Override(200, policy.encode())))
    assert run(inproc, cluster, "--slm") == (3, UNEXPECTED + "an object in the answer holds the key 'last_failure' twice")


def test_crit_503_with_a_key_twice_keeps_its_own_verdict(inproc):
    cluster = Cluster("es8", {"backups": [ago("s1")]})
    body = b'{"error": {"type": "x", "reason": "first", "reason": "busy"}, "status": 503}'
    cluster.overrides.append((LISTING, Override(503, body)))
    code, line = run(inproc, cluster)
    assert code == 2 and line.startswith("ES_SNAPSHOT CRITICAL - HTTP 503 from ") and line.endswith(": busy")


# -- a snapshot twice, _current, a stray repository -------------------------------------------

def test_unknown_same_snapshot_listed_twice_with_other_states(inproc):
    text = listing(entry("s1", "FAILED"), entry("s1", "SUCCESS"))
    assert with_listing(inproc, text) == (
        3, UNEXPECTED + "snapshot 's1' is listed twice in repository 'backups', as FAILED and SUCCESS")


def test_ok_same_snapshot_listed_twice_alike_counts_once(inproc):
    text = listing(entry("s1"), entry("s1"))
    assert with_listing(inproc, text) == (0, "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo backups)")


@pytest.mark.parametrize("family", ["es8", "es7.15"])
def test_unknown_current_answers_a_completed_phantom(inproc, family):
    cluster = Cluster(family, {"backups": [ago("old-good", hours=30), ago("f1", "FAILED", 2)]})
    phantom = listing(entry("phantom", "SUCCESS", hours=1 / 60))
    cluster.overrides.append(("^/_snapshot/backups/_current", Override(200, phantom.encode())))
    assert run(inproc, cluster) == (3, UNEXPECTED + "the running snapshots (_current) include 'phantom' of "
                                                    "repository 'backups' as SUCCESS, not IN_PROGRESS")


def test_unknown_current_relists_a_failed_snapshot_as_running(inproc):
    cluster = Cluster("es8", {"backups": [ago("old-good", hours=30), ago("f1", "FAILED", 2)]})
    running = listing(entry("f1", "IN_PROGRESS", hours=2, end_time_in_millis=0, duration_in_millis=0))
    cluster.overrides.append(("^/_snapshot/backups/_current", Override(200, running.encode())))
    assert run(inproc, cluster) == (
        3, UNEXPECTED + "snapshot 'f1' is listed twice in repository 'backups', as FAILED and IN_PROGRESS")


def test_unknown_snapshot_of_a_repository_not_asked_for(inproc):
    text = listing(entry("old-good", hours=30), entry("f1", "FAILED", repository="other"))
    assert with_listing(inproc, text) == (
        3, UNEXPECTED + "the listing of 'backups' holds snapshot 'f1' of repository 'other', not asked for")


# -- states are ASCII, compared exactly -----------------------------------------------------

@pytest.mark.parametrize("family", ["es8", "es7.10"])
@pytest.mark.parametrize("state, shown", [("ſucceſſ", "%C5%BFucce%C5%BF%C5%BF"), ("ın_progress", "%C4%B1n_progress")])
def test_unknown_state_that_is_a_known_one_only_by_unicode_folding(inproc, family, state, shown):
    cluster = Cluster(family, {"backups": [ago("old-good", hours=20), ago("s2", state, 1)]})
    assert run(inproc, cluster) == (3, f"ES_SNAPSHOT UNKNOWN - s2 has unrecognised state '{shown}' (repo backups)")


@pytest.mark.parametrize("family", ["es8", "es7.10"])
def test_crit_failure_after_the_last_success_still_names_an_unrecognised_state(inproc, family):
    """f1 failed after the newest success ended: CRITICAL decides, and the
    state this plugin does not know is named all the same."""
    cluster = Cluster(family, {"backups": [ago("old-good", hours=20), ago("f1", "FAILED", 3),
                                           ago("s2", "ſucceſſ", 1)]})
    assert run(inproc, cluster) == (2, "ES_SNAPSHOT CRITICAL - f1 FAILED 3h ago (repo backups); "
                                       "s2 has unrecognised state '%C5%BFucce%C5%BF%C5%BF' (repo backups)")


def test_ok_lower_case_ascii_state_still_reads(inproc):
    assert run(inproc, Cluster("es8", {"backups": [ago("s1", "success")]})) == (
        0, "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo backups)")


# -- SLM and snapshot-management times ------------------------------------------------------

@pytest.mark.parametrize("when, words", [
    (10 ** 17, "out of range (100000000000000000; not a time between 1970 and 9999)"),
    (-5, "out of range (-5; not a time between 1970 and 9999)"),
    ("yesterday", "not a number"),
])
def test_unknown_slm_last_failure_time_out_of_range(inproc, when, words):
    cluster = Cluster("es8", {"backups": [ago("s1")]})
    cluster.policies["nightly"] = {"repository": "backups", "next_ms": NOW_MS + HOUR_MS,
                                   "last_success": (NOW_MS - 2 * HOUR_MS, "s0"),
                                   "last_failure": (when, "f1", "disk full")}
    assert run(inproc, cluster, "--slm") == (
        3, UNEXPECTED + f"SLM policy 'nightly': field 'last_failure.time' is {words}")


def test_unknown_sm_trigger_time_out_of_range(inproc):
    cluster = Cluster("os2", {"backups": [ago("s1")]})
    cluster.sm_policies["daily"] = {"repository": "backups", "next_ms": 10 ** 17,
                                    "creation": ("SUCCESS", NOW_MS - HOUR_MS, "")}
    assert run(inproc, cluster, "--slm") == (
        3, UNEXPECTED + "snapshot management policy 'daily': field 'creation.trigger.time' is out of range "
                        "(100000000000000000; not a time between 1970 and 9999)")
