"""What an operator sees: long runs, failure streaks, policies, SLM, health, JSON."""
import json
import re

import pytest

from tests.conftest import first_line, now_ms, run_check
from tests.fake_es import HOUR_MS, Cluster, Snap

DAY_MS = 24 * HOUR_MS


def check(server, *args):
    code, out, err = run_check("--url", server.url, *args)
    assert err == ""
    return code, first_line(out), out


# -- -v / -vv -------------------------------------------------------------------

def test_verbose_table_is_newest_first_with_facts(serve):
    now = now_ms()
    cluster = Cluster("es8", {"b": [Snap("older", "SUCCESS", now - 2 * HOUR_MS, duration_ms=90_000),
                                    Snap("newer", "SUCCESS", now - HOUR_MS, size_bytes=3 * 2**30)]})
    code, _, out = check(serve(cluster), "-v")
    lines = out.splitlines()
    start = lines.index("repository b: 2 snapshot(s) read, newest 2:")
    assert lines[start + 1].startswith("  newer SUCCESS 20") and "took 1m size 3.0GiB shards failed 0/5" in lines[start + 1]
    assert lines[start + 2].startswith("  older SUCCESS 20") and "took 1m30s" in lines[start + 2]


def test_vv_says_version_strategy_requests_and_time(serve):
    code, _, out = check(serve(Cluster("os2", {"b": [Snap("s", "SUCCESS", now_ms() - HOUR_MS)]})), "-vv")
    assert "listing strategy for OpenSearch 2.11.0: legacy" in out
    assert "GET /_snapshot/b/_all -> HTTP 200" in out
    assert any(line.startswith("4 requests, ") and line.endswith("ms waiting for the cluster")
               for line in out.splitlines())


def test_vv_log_budget_is_not_spent_on_lines_only_vvv_shows(serve):
    # Seen on ES 7.17.29: the -vvv field lists counted against the 2000
    # bytes of -vv's log, which then dropped the history request and the totals.
    code, _, out = check(serve(Cluster("es7.17", {"b": [Snap("s", "SUCCESS", now_ms() - HOUR_MS)]})), "-vv")
    assert "further log lines dropped" not in out
    assert any(line.startswith("5 requests, ") and line.endswith("ms waiting for the cluster")
               for line in out.splitlines()), out
    assert "fields asked for" not in out


# -- a snapshot that runs too long ---------------------------------------------------

def running_cluster(hours):
    now = now_ms()
    return Cluster("es8", {"b": [Snap("done", "SUCCESS", now - (hours + 1) * HOUR_MS),
                                 Snap("run", "IN_PROGRESS", now - hours * HOUR_MS)]})


def test_ok_running_within_limits(serve):
    code, line, out = check(serve(running_cluster(2)))
    assert (code, line) == (0, "ES_SNAPSHOT OK - run IN_PROGRESS for 2h, last success 3h old (repo b)")
    running = re.search(r"running=(\d+)s;93600;180000;0", out)
    assert running and 7200 <= int(running.group(1)) < 7260


def test_warn_running_too_long_by_default_thresholds(serve):
    code, line, _ = check(serve(running_cluster(30)), "-w", "2d", "-c", "3d", "--running-warning", "1d")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - run IN_PROGRESS for 1d6h, more than 1d (repo b)")


def test_crit_running_too_long(serve):
    code, line, _ = check(serve(running_cluster(3)), "--running-critical", "2h")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - run IN_PROGRESS for 3h, more than 2h (repo b)")


# -- failure streaks ----------------------------------------------------------

def streak_cluster():
    now = now_ms()
    return Cluster("es7.10", {"b": [Snap("good", "SUCCESS", now - 5 * HOUR_MS)] + [
        Snap(f"p{i}", "PARTIAL", now - i * HOUR_MS, shards_failed=1) for i in (1, 2, 3)]})


def test_streak_is_measured(serve):
    code, line, out = check(serve(streak_cluster()))
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - p1 PARTIAL 1h ago, 1/5 shards failed (repo b)")
    assert "failed_streak=3;;;0" in out


def test_crit_streak_beyond_threshold(serve):
    code, line, out = check(serve(streak_cluster()), "--failed-streak-critical", "2")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - 3 snapshots in a row not successful (limit 2) (repo b)")
    assert "failed_streak=3;;2;0" in out


def test_unknown_bad_streak_range():
    code, out, _ = run_check("--failed-streak-warning", "2h")
    assert code == 3 and out.startswith("ES_SNAPSHOT UNKNOWN - usage: --failed-streak-warning '2h'")


# -- policies --------------------------------------------------------------------

def two_policies(family):
    now = now_ms()
    return Cluster(family, {"b": [Snap("nightly-1", "SUCCESS", now - 3 * HOUR_MS, policy="nightly"),
                                  Snap("hourly-1", "FAILED", now - HOUR_MS, policy="hourly")]})


@pytest.mark.parametrize("family", ["es7.10", "es8", "os2"])
def test_slm_policy_restricts_the_check(serve, family):
    server = serve(two_policies(family))
    assert check(server)[0] == 2
    code, line, _ = check(server, "--slm-policy", "nightly")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")


def test_slm_policy_is_filtered_by_the_cluster_on_es_7_16(serve):
    cluster = two_policies("es9")
    check(serve(cluster), "--slm-policy", "nightly")
    listing = [e for e in cluster.log if e["path"].startswith("/_snapshot/b/")]
    assert "slm_policy_filter=nightly" in listing[0]["path"] and listing[0]["loads"] == 1


# -- SLM and the health report --------------------------------------------------------

def slm_cluster(family="es8", **policy):
    now = now_ms()
    cluster = Cluster(family, {"b": [Snap("nightly-1", "SUCCESS", now - 3 * HOUR_MS, policy="nightly")]})
    cluster.policies["nightly"] = {"repository": "b", "next_ms": now + 20 * HOUR_MS,
                                   "last_success": (now - 3 * HOUR_MS, "nightly-1"), **policy}
    return cluster


def test_ok_slm_running(serve):
    code, line, out = check(serve(slm_cluster()), "--slm", "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    assert "SLM: RUNNING" in out.splitlines()


def test_warn_slm_stopped(serve):
    cluster = slm_cluster()
    cluster.slm_mode = "STOPPED"
    code, line, _ = check(serve(cluster), "--slm")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - SLM is STOPPED: scheduled snapshots are not taken")


def test_warn_slm_missed_schedule(serve):
    code, line, _ = check(serve(slm_cluster(next_ms=now_ms() - 5 * HOUR_MS)), "--slm")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - SLM policy 'nightly' missed its schedule (due 5h ago)")


def test_warn_slm_last_run_failed(serve):
    failure = (now_ms() - HOUR_MS, "nightly-2", "concurrent snapshot in progress")
    code, line, _ = check(serve(slm_cluster(last_failure=failure)), "--slm")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - SLM policy 'nightly' last run failed 1h ago: "
                               "concurrent snapshot in progress")


def test_crit_slm_policy_not_found(serve):
    code, line, out = check(serve(slm_cluster()), "--slm", "--slm-policy", "weekly", "-v")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - SLM policy 'weekly' not found (+1 more)")
    assert ("CRITICAL: no snapshot of policy 'weekly' in repository 'b' in the last 2y358d "
            "(the check looks no further back)") in out


@pytest.mark.parametrize("family, words", [("os1", "--slm: OpenSearch 1.3.7 has no snapshot management"),
                                           ("es6", "--slm: Elasticsearch 6.8.23 has no SLM")])
def test_ok_snapshot_verdict_stands_where_there_is_no_slm(serve, family, words):
    code, line, out = check(serve(slm_cluster(family)), "--slm", "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    assert any(l.startswith(f"note: {words} (") for l in out.splitlines()), out


def test_warn_health_repository_integrity_yellow(serve):
    cluster = slm_cluster("es9")
    cluster.health["repository_integrity"] = ("yellow", "Detected [1] corrupted snapshot repository.")
    code, line, out = check(serve(cluster), "--health", "-v")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - health repository_integrity is yellow: "
                               "Detected [1] corrupted snapshot repository.")
    assert "health slm: green - Snapshot Lifecycle Management is running" in out.splitlines()


def test_ok_snapshot_verdict_stands_where_there_is_no_health_report(serve):
    code, line, out = check(serve(slm_cluster("es7.17")), "--health", "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    assert ("note: --health: Elasticsearch 7.17.25 has no health report (Elasticsearch 8.7 or later)"
            in out.splitlines())


# -- JSON -------------------------------------------------------------------------

def test_json_document_with_the_same_exit_code(serve):
    now = now_ms()
    cluster = Cluster("es8", {"b": [Snap("good", "SUCCESS", now - 3 * HOUR_MS),
                                    Snap("bad", "FAILED", now - HOUR_MS, reason="disk full", shards_failed=1)]})
    code, out, err = run_check("--url", serve(cluster).url, "--format", "json")
    document = json.loads(out)
    assert (code, err) == (2, "")
    assert document["state"] == "CRITICAL" and document["exit_code"] == 2
    assert document["summary"] == "bad FAILED 1h ago: disk full (repo b)"
    assert document["reasons"] == ["bad FAILED 1h ago: disk full (repo b)"]
    repo = document["repositories"][0]
    assert repo["newest"]["name"] == "bad" and repo["newest"]["reason"] == "disk full"
    assert repo["newest"]["shard_failures"][0]["index"] == "logs-1"
    assert repo["newest_success"]["name"] == "good" and repo["failed_streak"] == 1
    assert document["metrics"]["age"]["value"] >= 10800 and document["metrics"]["age"]["critical"] == "180000"
    assert document["cluster"] == {"distribution": "elasticsearch", "version": "8.15.3"}


def test_json_when_the_cluster_cannot_be_reached():
    code, out, _ = run_check("--url", "http://127.0.0.1:9", "--format", "json")
    document = json.loads(out)
    assert code == 2 and document["state"] == "CRITICAL" and document["metrics"] == {}
    assert document["summary"] == "cannot read the cluster version at 127.0.0.1:9: connection refused"
