"""What an operator sees: long runs, failure streaks, policies, SLM, health, JSON."""
import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import NOW_MS, SCRIPT, first_line, now_ms, run_check, runner
from tests.fake_es import FAMILIES, HOUR_MS, Cluster, Snap
from tests.incheck import main_with

DAY_MS = 24 * HOUR_MS


def check(server, *args):
    code, out, err = runner(server)("--url", server.url, *args)
    assert err == ""
    return code, first_line(out), out


# -- -v / -vv -------------------------------------------------------------------

def test_verbose_table_is_newest_first_with_facts(inproc):
    now = NOW_MS
    cluster = Cluster("es8", {"b": [Snap("older", "SUCCESS", now - 2 * HOUR_MS, duration_ms=90_000),
                                    Snap("newer", "SUCCESS", now - HOUR_MS, size_bytes=3 * 2**30)]})
    code, _, out = check(inproc(cluster), "-v")
    lines = out.splitlines()
    start = lines.index("repository b: 2 snapshot(s) read, newest 2:")
    # NOW_MS is 2024-05-01T12:00:00Z: the start times are exact, in UTC.
    assert lines[start + 1:start + 3] == [
        "  newer SUCCESS 2024-05-01T11:00:00Z took 1m size 3.0GiB shards failed 0/5",
        "  older SUCCESS 2024-05-01T10:00:00Z took 1m30s size 4.8MiB shards failed 0/5"]


def test_verbose_repository_lines_show_skew_stuck_older_and_missing(inproc):
    """The ten newest, plus every running snapshot however old, the skewed
    one set aside, how many older ones were read, a repository not there."""
    snaps = [Snap(f"daily-{i:02d}", "SUCCESS", NOW_MS - i * DAY_MS - HOUR_MS) for i in range(12)]
    snaps += [Snap("stuck", "IN_PROGRESS", NOW_MS - 13 * DAY_MS), Snap("ahead", "SUCCESS", NOW_MS + 30 * DAY_MS)]
    code, _, out = check(inproc(Cluster("es8", {"backups": snaps})), "-v", "-r", "backups,gone",
                         "--running-warning", "20d", "--running-critical", "30d")
    lines = out.splitlines()
    start = lines.index("repository backups: 13 snapshot(s) read, newest 11:")
    daily = [f"  daily-{i:02d} SUCCESS 2024-{'05-01' if i == 0 else f'04-{31 - i}'}T11:00:00Z took 1m size 4.8MiB "
             "shards failed 0/5" for i in range(10)]
    assert lines[start + 1:] == [
        "  ahead SUCCESS 2024-05-31T12:00:00Z starts in the future: set aside (clock skew?)",
        *daily,
        "  stuck IN_PROGRESS 2024-04-18T12:00:00Z running for 13d size - shards failed 0/5",
        "  ... and 2 older",
        "repository gone: not registered",
        lines[-1]]
    assert lines[-1].startswith("| age=3600s")


def test_vv_says_version_strategy_requests_and_time(inproc):
    code, _, out = check(inproc(Cluster("os2", {"b": [Snap("s", "SUCCESS", NOW_MS - HOUR_MS)]})), "-vv")
    assert f"listing strategy for OpenSearch {FAMILIES['os2'][1]}: legacy" in out
    assert "GET /_snapshot/b/_all -> HTTP 200" in out
    assert any(line.startswith("4 requests, ") and line.endswith("ms waiting for the cluster")
               for line in out.splitlines())


def test_vv_log_budget_is_not_spent_on_lines_only_vvv_shows(inproc):
    # Seen on ES 7.17.29: the -vvv field lists counted against the 2000
    # bytes of -vv's log, which then dropped the history request and the totals.
    code, _, out = check(inproc(Cluster("es7.17", {"b": [Snap("s", "SUCCESS", NOW_MS - HOUR_MS)]})), "-vv")
    assert "further log lines dropped" not in out
    assert any(line.startswith("6 requests, ") and line.endswith("ms waiting for the cluster")
               for line in out.splitlines()), out
    assert "fields asked for" not in out


# -- a snapshot that runs too long ---------------------------------------------------

def running_cluster(hours):
    now = NOW_MS
    return Cluster("es8", {"b": [Snap("done", "SUCCESS", now - (hours + 1) * HOUR_MS),
                                 Snap("run", "IN_PROGRESS", now - hours * HOUR_MS)]})


def test_ok_running_within_limits(inproc):
    code, line, out = check(inproc(running_cluster(2)))
    assert (code, line) == (0, "ES_SNAPSHOT OK - run IN_PROGRESS for 2h, last success 3h old (repo b)")
    running = re.search(r"running=(\d+)s;93600;180000;0", out)
    assert running and 7200 <= int(running.group(1)) < 7260


def test_warn_running_too_long_by_default_thresholds(inproc):
    code, line, _ = check(inproc(running_cluster(30)), "-w", "2d", "-c", "3d", "--running-warning", "1d")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - run IN_PROGRESS for 1d6h, more than 1d (repo b)")


def test_crit_running_too_long(inproc):
    code, line, _ = check(inproc(running_cluster(3)), "--running-critical", "2h")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - run IN_PROGRESS for 3h, more than 2h (repo b)")


# -- failure streaks ----------------------------------------------------------

def streak_cluster():
    now = NOW_MS
    return Cluster("es7.10", {"b": [Snap("good", "SUCCESS", now - 5 * HOUR_MS)] + [
        Snap(f"p{i}", "PARTIAL", now - i * HOUR_MS, shards_failed=1) for i in (1, 2, 3)]})


def test_streak_is_measured(inproc):
    code, line, out = check(inproc(streak_cluster()))
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - p1 PARTIAL 1h ago, 1/5 shards failed (repo b)")
    assert "failed_streak=3;;;0" in out


def test_crit_streak_beyond_threshold(inproc):
    code, line, out = check(inproc(streak_cluster()), "--failed-streak-critical", "2")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - 3 snapshots in a row not successful (limit 2) (repo b)")
    assert "failed_streak=3;;2;0" in out


def test_unknown_bad_streak_range():
    code, out, _ = main_with({}, "--failed-streak-warning", "2h")
    assert code == 3 and out.startswith("ES_SNAPSHOT UNKNOWN - usage: --failed-streak-warning '2h'")


# -- policies --------------------------------------------------------------------

def two_policies(family):
    now = NOW_MS
    return Cluster(family, {"b": [Snap("nightly-1", "SUCCESS", now - 3 * HOUR_MS, policy="nightly"),
                                  Snap("hourly-1", "FAILED", now - HOUR_MS, policy="hourly")]})


@pytest.mark.parametrize("family", ["es7.10", "es8", "os2"])
def test_slm_policy_restricts_the_check(inproc, family):
    server = inproc(two_policies(family))
    assert check(server)[0] == 2
    code, line, _ = check(server, "--slm-policy", "nightly")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")


def test_slm_policy_is_filtered_by_the_cluster_on_es_7_16(inproc):
    cluster = two_policies("es9")
    check(inproc(cluster), "--slm-policy", "nightly")
    listing = [e for e in cluster.log if e["path"] == "/_snapshot/b/*"]
    assert "slm_policy_filter=nightly" in listing[0]["target"] and listing[0]["loads"] == 1


# -- SLM and the health report --------------------------------------------------------

def slm_cluster(family="es8", **policy):
    now = NOW_MS
    cluster = Cluster(family, {"b": [Snap("nightly-1", "SUCCESS", now - 3 * HOUR_MS, policy="nightly")]})
    cluster.policies["nightly"] = {"repository": "b", "next_ms": now + 20 * HOUR_MS,
                                   "last_success": (now - 3 * HOUR_MS, "nightly-1"), **policy}
    return cluster


def test_ok_slm_running(inproc):
    code, line, out = check(inproc(slm_cluster()), "--slm", "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    assert "SLM: RUNNING" in out.splitlines()


@pytest.mark.parametrize("family", ["es7.10", "es7.17", "es8", "es9"])
def test_warn_slm_stopped(inproc, family):
    # SLM came with 7.4 and its status with 7.6: both are read on every 7.x.
    cluster = slm_cluster(family)
    cluster.slm_mode = "STOPPED"
    code, line, _ = check(inproc(cluster), "--slm")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - SLM is STOPPED: scheduled snapshots are not taken")


def test_verbose_slm_lines_give_each_policy_fact(inproc):
    """-v in an incident: per policy its last success (snapshot and time),
    last failure with its details, and the next run, in UTC."""
    cluster = slm_cluster(last_failure=(NOW_MS - 30 * HOUR_MS, "nightly-0", "disk full"))
    cluster.policies["weekly"] = {"repository": "b", "next_ms": NOW_MS + 100 * HOUR_MS}
    code, line, out = check(inproc(cluster), "--slm", "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    lines = out.splitlines()
    start = lines.index("SLM: RUNNING")
    assert lines[start + 1:start + 3] == [
        "  policy nightly (repo b): last success nightly-1 2024-05-01T09:00:00Z, "
        "last failure 2024-04-30T06:00:00Z (disk full), next run 2024-05-02T08:00:00Z",
        "  policy weekly (repo b): next run 2024-05-05T16:00:00Z"]


def test_verbose_sm_lines_say_disabled_and_deletion_failures(inproc):
    cluster = Cluster("os2", {"b": [Snap("daily-1", "SUCCESS", NOW_MS - 3 * HOUR_MS)]})
    cluster.sm_policies["daily"] = {"repository": "b", "enabled": False, "next_ms": NOW_MS + 5 * HOUR_MS,
                                    "creation": ("SUCCESS", NOW_MS - 3 * HOUR_MS, "ok"),
                                    "deletion": ("FAILED", NOW_MS - 2 * HOUR_MS, "cannot delete")}
    code, _, out = check(inproc(cluster), "--slm", "-v")
    lines = out.splitlines()
    start = lines.index("snapshot management (OpenSearch):")
    # OpenSearch's explain names no snapshot, so none is printed.
    assert lines[start + 1] == ("  policy daily (repo b): disabled, last success 2024-05-01T09:00:00Z, "
                                "last deletion failure 2024-05-01T10:00:00Z (cannot delete), "
                                "next run 2024-05-01T17:00:00Z")


def test_verbose_policy_due_at_time_zero_says_so(inproc):
    """A next run at 0 is judged as missed (loud); -v must not say "no next run"."""
    code, line, out = check(inproc(slm_cluster(next_ms=0)), "--slm", "-v")
    assert code == 1 and line.startswith("ES_SNAPSHOT WARNING - SLM policy 'nightly' missed its schedule")
    assert out.splitlines()[out.splitlines().index("SLM: RUNNING") + 1].endswith(
        ", next run 1970-01-01T00:00:00Z")


def test_warn_slm_missed_schedule(inproc):
    code, line, _ = check(inproc(slm_cluster(next_ms=NOW_MS - 5 * HOUR_MS)), "--slm")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - SLM policy 'nightly' missed its schedule (due 5h ago)")


def test_warn_slm_last_run_failed(inproc):
    failure = (NOW_MS - HOUR_MS, "nightly-2", "concurrent snapshot in progress")
    code, line, _ = check(inproc(slm_cluster(last_failure=failure)), "--slm")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - SLM policy 'nightly' last run failed 1h ago: "
                               "concurrent snapshot in progress")


def test_crit_slm_policy_not_found(inproc):
    code, line, out = check(inproc(slm_cluster()), "--slm", "--slm-policy", "weekly", "-v")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - SLM policy 'weekly' not found (+1 more)")
    assert "CRITICAL: repository 'b' holds no snapshot of policy 'weekly'" in out


@pytest.mark.parametrize("family, words", [("os1", f"--slm: OpenSearch {FAMILIES['os1'][1]} has no snapshot management"),
                                           ("es6", f"--slm: Elasticsearch {FAMILIES['es6'][1]} has no SLM")])
def test_ok_snapshot_verdict_stands_where_there_is_no_slm(inproc, family, words):
    code, line, out = check(inproc(slm_cluster(family)), "--slm", "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    assert any(line.startswith(f"note: {words} (") for line in out.splitlines()), out


def test_warn_health_repository_integrity_yellow(inproc):
    cluster = slm_cluster("es9")
    cluster.health["repository_integrity"] = ("yellow", "Detected [1] corrupted snapshot repository.")
    code, line, out = check(inproc(cluster), "--health", "-v")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - health repository_integrity is yellow: "
                               "Detected [1] corrupted snapshot repository.")
    assert "health slm: green - Snapshot Lifecycle Management is running" in out.splitlines()


def test_ok_snapshot_verdict_stands_where_there_is_no_health_report(inproc):
    code, line, out = check(inproc(slm_cluster("es7.17")), "--health", "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    assert (f"note: --health: Elasticsearch {FAMILIES['es7.17'][1]} has no health report (Elasticsearch 8.7 or later)"
            in out.splitlines())


# -- JSON -------------------------------------------------------------------------

def test_json_document_with_the_same_exit_code(inproc):
    now = NOW_MS
    cluster = Cluster("es8", {"b": [Snap("good", "SUCCESS", now - 3 * HOUR_MS),
                                    Snap("bad", "FAILED", now - HOUR_MS, reason="disk full", shards_failed=1)]})
    code, out, err = inproc.run("--url", inproc(cluster).url, "--format", "json")
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
    assert document["cluster"] == {"distribution": "elasticsearch", "version": FAMILIES["es8"][1]}


def test_json_when_the_cluster_cannot_be_reached():
    code, out, _ = run_check("--url", "http://127.0.0.1:9", "--format", "json")
    document = json.loads(out)
    assert code == 2 and document["state"] == "CRITICAL" and document["metrics"] == {}
    assert document["summary"] == "cannot read the cluster version at 127.0.0.1:9: connection refused"


# -- found by the mutation check (issue 15 item 8): boundaries a verdict turns on ----------

def test_warn_slm_policy_a_second_past_the_hour_of_grace(inproc):
    code, line, _ = check(inproc(slm_cluster(next_ms=NOW_MS - HOUR_MS - 1000)), "--slm")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - SLM policy 'nightly' missed its schedule (due 1h ago)")


def test_ok_slm_policy_last_success_half_an_hour_ago_is_no_clock_skew(inproc):
    cluster = slm_cluster(last_success=(NOW_MS - HOUR_MS // 2, "nightly-1"))
    code, line, _ = check(inproc(cluster), "--slm")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")


def test_ok_slm_without_policies_when_no_policy_is_named(inproc):
    cluster = slm_cluster()
    cluster.policies.clear()
    code, line, out = check(inproc(cluster), "--slm", "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    assert "not found" not in out


def test_verbose_lists_critical_before_warning(inproc):
    cluster = Cluster("es8", {
        "a": [Snap("a1", "FAILED", NOW_MS - HOUR_MS), Snap("a0", "SUCCESS", NOW_MS - 2 * HOUR_MS)],
        "b": [Snap("b1", "PARTIAL", NOW_MS - HOUR_MS, shards_failed=1), Snap("b0", "SUCCESS", NOW_MS - 2 * HOUR_MS)]})
    code, line, out = check(inproc(cluster), "-v")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - a1 FAILED 1h ago (repo a) (+1 more)")
    problems = [text for text in out.splitlines() if text.startswith(("CRITICAL:", "WARNING:"))]
    assert problems == ["CRITICAL: a1 FAILED 1h ago (repo a)",
                        "WARNING: b1 PARTIAL 1h ago, 1/5 shards failed (repo b)"]


# -- found by the mutation check of 2026-12-04: a verdict or a line at its boundary ------

def test_ok_slm_last_success_exactly_an_hour_ahead_is_within_the_tolerance(inproc):
    """More than an hour ahead is clock skew; exactly an hour is not yet."""
    cluster = slm_cluster(last_success=(NOW_MS + HOUR_MS, "nightly-1"))
    assert check(inproc(cluster), "--slm")[:2] == (0, "ES_SNAPSHOT OK - nightly-1 SUCCESS, 3h old (repo b)")
    cluster = slm_cluster(last_success=(NOW_MS + HOUR_MS + 1, "nightly-1"))
    assert check(inproc(cluster), "--slm")[:2] == (
        1, "ES_SNAPSHOT WARNING - SLM policy 'nightly' last success is 1h in the future: clock skew on the cluster?")


def test_warn_sm_deletion_failure_says_whole_seconds_ago(inproc):
    cluster = Cluster("os2", {"b": [Snap("daily-1", "SUCCESS", NOW_MS - 3 * HOUR_MS)]})
    cluster.sm_policies["daily"] = {"repository": "b", "next_ms": NOW_MS + 5 * HOUR_MS,
                                    "creation": ("SUCCESS", NOW_MS - 3 * HOUR_MS, "ok"),
                                    "deletion": ("FAILED", NOW_MS - 59_600, "cannot delete")}
    # 59.6 s is 59 whole seconds, not a rounded minute.
    assert check(inproc(cluster), "--slm")[:2] == (
        1, "ES_SNAPSHOT WARNING - SLM policy 'daily' last deletion failed 59s ago: cannot delete")


def test_verbose_shows_three_shard_failures_and_counts_the_rest(inproc):
    cluster = Cluster("es8", {"b": [Snap("ok-1", "SUCCESS", NOW_MS - 2 * HOUR_MS),
                                    Snap("p-1", "PARTIAL", NOW_MS - HOUR_MS, shards_failed=5),
                                    Snap("p-0", "PARTIAL", NOW_MS - 3 * HOUR_MS, shards_failed=3)]})
    lines = check(inproc(cluster), "-v")[2].splitlines()
    start = lines.index("repository b: 3 snapshot(s) read, newest 3:")
    shard = "    shard logs-1[{}]: IndexShardSnapshotFailedException[shard {} failed]"
    assert lines[start + 1:start + 8] == [
        "  p-1 PARTIAL 2024-05-01T11:00:00Z took 1m size 4.8MiB shards failed 5/5",
        *(shard.format(i, i) for i in range(3)),
        "    ... and 2 more shard failures",
        "  ok-1 SUCCESS 2024-05-01T10:00:00Z took 1m size 4.8MiB shards failed 0/5",
        "  p-0 PARTIAL 2024-05-01T09:00:00Z took 1m size 4.8MiB shards failed 3/5"]
    # Exactly three: all shown, no "... and 0 more"; and no "... and 0 older" line.
    assert lines[start + 8:start + 11] == [shard.format(i, i) for i in range(3)]
    assert not lines[start + 11].startswith(("    ...", "  ..."))


def test_ok_two_empty_repositories_name_the_first_when_no_snapshot_is_fine(inproc):
    code, line, _ = check(inproc(Cluster("es8", {"a": [], "b": []})), "--no-snapshots-state", "ok")
    assert (code, line) == (0, "ES_SNAPSHOT OK - repository 'a' holds no snapshot; 2 repositories OK")


# -- polish: what -v and usage errors say ------------------------------------------

def test_verbose_opensearch_without_policies_prints_no_empty_heading(inproc):
    cluster = Cluster("os2", {"b": [Snap("daily-1", "SUCCESS", NOW_MS - 3 * HOUR_MS)]})
    code, _, out = check(inproc(cluster), "--slm", "-v")
    assert code == 0
    assert not any(line.startswith("snapshot management") for line in out.splitlines()), out


def test_verbose_insecure_on_plain_http_has_no_tls_note(inproc):
    server = inproc(Cluster("es8", {"b": [Snap("daily-1", "SUCCESS", NOW_MS - HOUR_MS)]}))
    code, _, out = check(server, "--insecure", "-v")
    assert code == 0 and "TLS" not in out, out


@pytest.mark.parametrize("url", ["http://es.example:9200/es?x=1", "http://es.example:9200/?",
                                 "http://es.example:9200/es#top"])
def test_unknown_url_with_query_string_or_fragment(inproc, url):
    code, out, err = inproc.run("--url", url)
    assert (code, err) == (3, "")
    assert out.splitlines()[0] == ("ES_SNAPSHOT UNKNOWN - usage: --url takes no query string or fragment "
                                   "(http(s)://host[:port][/prefix])")


# -- names in other scripts ---------------------------------------------------------

def cjk_cluster(now):
    return Cluster("es8", {"备份": [Snap("快照-1", "FAILED", now - HOUR_MS, reason="disk")],
                           "备忘": [Snap("快照-2", "FAILED", now - HOUR_MS, reason="disk")]})


@pytest.mark.parametrize("lang", ["C.UTF-8", "en_US.utf8", "de_DE.UTF-8@euro"])
def test_crit_names_in_other_scripts_are_readable_under_a_utf8_locale(inproc, lang):
    code, out, err = inproc.run("--url", inproc(cjk_cluster(NOW_MS)).url, "-v", env={"LANG": lang})
    lines = out.splitlines()
    assert (code, err) == (2, "")
    assert "repository 备份: 1 snapshot(s) read, newest 1:" in lines
    assert "repository 备忘: 1 snapshot(s) read, newest 1:" in lines


@pytest.mark.parametrize("env", [{}, {"LANG": "C"}, {"LANG": "C.UTF-8", "LC_ALL": "POSIX"}])
def test_crit_names_in_other_scripts_stay_ascii_and_distinct_under_lang_c(serve, env):
    """The real script's bytes: under LANG=C (Python's UTF-8 mode makes its
    stdout UTF-8 all the same) each name is escaped, and two names stay two."""
    server = serve(cjk_cluster(now_ms()))
    result = subprocess.run([sys.executable, str(SCRIPT), "--url", server.url, "-v"], capture_output=True,
                            env={"PATH": os.environ["PATH"], **env}, timeout=30, stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stderr) == (2, b"")
    out = result.stdout.decode("ascii")  # raises on any byte above 127
    assert "repository %E5%A4%87%E4%BB%BD: 1 snapshot(s) read, newest 1:" in out.splitlines()
    assert "repository %E5%A4%87%E5%BF%98: 1 snapshot(s) read, newest 1:" in out.splitlines()
