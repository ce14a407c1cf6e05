"""Issue 10, "No false OK, no false page": each case judged in-process with a
fixed clock, so lines with minute precision are exact.  The end-to-end twins
(the real script against the simulated cluster) are in test_no_false_ok_e2e.py."""
import json

import pytest

from plugin.options import UsageError, parse_settings
from tests.conftest import HOUR_MS, NOW_MS
from tests.fake_es import FAMILIES, Cluster, Override
from tests.incheck import perf, run, run_main, snap

S, MIN, DAY = 1000, 60_000, 24 * HOUR_MS


# -- 1. stuck snapshots anywhere ------------------------------------------------

@pytest.mark.parametrize("family", ["es8", "es7.15", "es7.10", "os2"])
def test_warn_stuck_snapshot_behind_newer_successes(family):
    check = run({"b": [snap("nightly-0412", "IN_PROGRESS", 2 * DAY + HOUR_MS),
                       snap("nightly-0413", age_ms=DAY), snap("nightly-0414", age_ms=HOUR_MS)]},
                "--running-warning", "12h", "--running-critical", "3d", family=family)
    assert (check.exitcode, check.summary_str) == (
        1, "nightly-0412 IN_PROGRESS for 2d1h, more than 12h (repo b)")
    assert perf(check)["running"].startswith(f"{(2 * DAY + HOUR_MS) // S}s;")


def test_crit_stuck_snapshot_started_before_the_window_on_es_7_16():
    # -c 1d: the window reaches back 1d1h; the stuck snapshot started 5d ago.
    cluster = Cluster("es9", {"b": [snap("stuck", "IN_PROGRESS", 5 * DAY), snap("fresh", age_ms=HOUR_MS)]})
    check = run(None, "-w", "12h", "-c", "1d", cluster=cluster)
    assert (check.exitcode, check.summary_str) == (2, "stuck IN_PROGRESS for 5d, more than 1d (repo b)")
    # The window, then the snapshots that lasted longer than it (a running
    # one, end time 0, is not among them); _current is sent while the listing
    # is under way (plan.py): either may arrive first.
    assert sorted(e["path"] for e in cluster.log) == ["/_snapshot", "/_snapshot/b/*", "/_snapshot/b/*",
                                                      "/_snapshot/b/_current"]
    current = [e for e in cluster.log if e["path"] == "/_snapshot/b/_current"]
    assert current[0]["loads"] == 0  # from the cluster state, no repository reads


def test_ok_running_snapshot_within_limits_is_named_with_the_last_success():
    check = run({"b": [snap("old", age_ms=HOUR_MS), snap("run", "IN_PROGRESS", 10 * MIN)]})
    assert (check.exitcode, check.summary_str) == (0, "run IN_PROGRESS for 10m, last success 1h old (repo b)")


# -- 2. a running retry does not hide a failure ---------------------------------------

def test_crit_newest_completed_failed_while_retry_runs():
    check = run({"b": [snap("ok", age_ms=3 * HOUR_MS), snap("f1", "FAILED", 2 * HOUR_MS, reason="disk full"),
                       snap("retry", "IN_PROGRESS", HOUR_MS)]})
    assert (check.exitcode, check.summary_str) == (2, "f1 FAILED 2h ago: disk full (repo b)")
    assert perf(check)["failed_streak"].startswith("1;")


def test_ok_once_the_retry_completed_successfully():
    check = run({"b": [snap("f1", "FAILED", 2 * HOUR_MS), snap("retry", age_ms=HOUR_MS)]})
    assert (check.exitcode, check.summary_str) == (0, "retry SUCCESS, 1h old (repo b)")


def test_crit_only_a_running_snapshot_and_no_completed_one():
    check = run({"b": [snap("first", "IN_PROGRESS", 10 * MIN)]}, family="os2")
    assert (check.exitcode, check.summary_str) == (2, "first IN_PROGRESS for 10m, no completed snapshot (repo b)")


# -- 3. clock skew ---------------------------------------------------------------

def test_ok_start_minutes_ahead_counts_as_age_zero():
    check = run({"b": [snap("ahead", age_ms=-10 * MIN)]})
    assert (check.exitcode, check.summary_str) == (0, "ahead SUCCESS, 0s old (repo b)")


def test_warn_snapshot_far_in_the_future_is_set_aside():
    check = run({"b": [snap("nightly-x", age_ms=-30 * DAY), snap("real", age_ms=3 * HOUR_MS)]})
    assert (check.exitcode, check.summary_str) == (
        1, "nightly-x starts 30d in the future: clock skew on the cluster? (repo b)")
    assert perf(check)["age"].startswith("10800s;")


def test_warn_names_the_snapshot_furthest_in_the_future():
    check = run({"b": [snap("two-days", age_ms=-2 * DAY), snap("five-days", age_ms=-5 * DAY),
                       snap("real", age_ms=3 * HOUR_MS)]})
    assert (check.exitcode, check.summary_str) == (
        1, "five-days starts 5d in the future: clock skew on the cluster? (repo b)")


def test_crit_future_success_does_not_hide_a_stale_backup():
    check = run({"b": [snap("nightly-x", age_ms=-2 * DAY), snap("real", age_ms=4 * DAY)]})
    assert (check.exitcode, check.summary_str) == (2, "newest success real is 4d old, more than 2d2h (repo b)")


def test_warn_slm_last_success_in_the_future():
    cluster = slm_cluster(last_success=(NOW_MS + 3 * DAY, "nightly-9"))
    check = run(None, "--slm", cluster=cluster)
    assert (check.exitcode, check.summary_str) == (
        1, "SLM policy 'nightly' last success is 3d in the future: clock skew on the cluster?")


# -- 4. unknown states are never hidden -------------------------------------------

def test_crit_stale_age_names_the_unrecognised_state_too():
    check = run({"b": [snap("old", age_ms=3 * DAY), snap("new", "EXPLODED", MIN)]}, "-w", "1d", "-c", "2d")
    assert (check.exitcode, check.summary_str) == (
        2, "newest success old is 3d old, more than 2d (repo b); new has unrecognised state 'EXPLODED' (repo b)")


def test_unknown_when_a_second_repository_has_an_unrecognised_state():
    """Mutation survivor 1 (RANK Unknown 1 -> 0): OK must not outrank UNKNOWN."""
    check = run({"a": [snap("a1")], "b": [snap("b0", age_ms=2 * HOUR_MS), snap("b1", "QUEUED", MIN)]})
    assert (check.exitcode, check.summary_str) == (3, "b1 has unrecognised state 'QUEUED' (repo b)")


# -- 5. --state-map ----------------------------------------------------------------

def test_ok_partial_mapped_to_ok_counts_as_success():
    partial = [snap(f"p{i}", "PARTIAL", (i + 1) * HOUR_MS, shards_failed=1) for i in range(3)]
    check = run({"b": partial}, "--state-map", "PARTIAL=ok")
    assert (check.exitcode, check.summary_str) == (0, "p0 PARTIAL 1h ago, 1/5 shards failed (repo b)")
    assert perf(check)["age"].startswith("3600s;") and perf(check)["failed_streak"].startswith("0;")


def test_crit_partial_mapped_to_ok_still_ages():
    check = run({"b": [snap("p", "PARTIAL", 3 * DAY, shards_failed=1)]}, "--state-map", "PARTIAL=ok")
    assert (check.exitcode, check.summary_str) == (2, "newest success p is 3d old, more than 2d2h (repo b)")


@pytest.mark.parametrize("entry, message", [
    ("PARITAL=ok", "--state-map 'PARITAL=ok': unknown state 'PARITAL' "
                   "(one of SUCCESS, PARTIAL, FAILED, INCOMPATIBLE)"),
    ("PARTIAL=okay", "--state-map 'PARTIAL=okay': use STATE=ok|warning|critical|unknown"),
    ("IN_PROGRESS=ok", "--state-map IN_PROGRESS: running snapshots are judged by "
                       "--running-warning/--running-critical"),
])
def test_unknown_state_map_typo_is_a_usage_error(entry, message):
    with pytest.raises(UsageError) as caught:
        parse_settings(["--state-map", entry], environ={})
    assert str(caught.value) == message


# -- 6. running thresholds -----------------------------------------------------------

def test_ok_nothing_running_with_a_lower_bounded_warning():
    check = run({"b": [snap("s", age_ms=4 * HOUR_MS)]}, "-w", "10800:", "-c", "3600:")
    assert (check.exitcode, check.summary_str) == (0, "s SUCCESS, 4h old (repo b)")
    assert perf(check)["running"] == "0s;;;0"  # no plain upper bound: no running default


def test_ok_running_defaults_follow_plain_w_and_c():
    check = run({"b": [snap("s", age_ms=HOUR_MS), snap("r", "IN_PROGRESS", 20 * MIN)]}, "-w", "1h", "-c", "2h")
    assert perf(check)["running"] == "1200s;3600;7200;0"


# -- 7. the age survives an outage ---------------------------------------------------------

@pytest.mark.parametrize("age_days, steps", [(20, 2), (300, 3)])
def test_crit_age_survives_an_outage(age_days, steps):
    cluster = Cluster("es8", {"b": [snap("last-good", age_ms=age_days * DAY), snap("older", age_ms=1500 * DAY)]})
    check = run(None, cluster=cluster)
    assert (check.exitcode, check.summary_str) == (
        2, f"newest success last-good is {age_days}d old, more than 2d2h (repo b)")
    assert perf(check)["age"] == f"{age_days * 86400}s;93600;180000;0"
    windows = [e for e in cluster.log if "from_sort_value" in e["params"]]
    assert len(windows) == 1 + steps  # the window, then pruned widening steps up to the success
    assert all(e["loads"] <= 1 for e in windows)  # the 1500-day-old snapshot is never loaded


def test_crit_failures_since_keep_the_age_of_the_last_success():
    cluster = Cluster("es8", {"b": [snap("last-good", age_ms=20 * DAY)]
                              + [snap(f"f{i}", "FAILED", i * DAY + HOUR_MS) for i in range(3)]})
    check = run(None, cluster=cluster)
    assert (check.exitcode, check.summary_str) == (2, "f0 FAILED 1h ago (repo b)")
    assert perf(check)["age"] == f"{20 * 86400}s;93600;180000;0"


def test_crit_no_success_at_all_says_how_far_the_check_looked():
    check = run({"b": [snap("f", "FAILED", HOUR_MS)]})
    assert (check.exitcode, check.summary_str) == (
        2, "f FAILED 1h ago, no successful snapshot in the last 2y358d (the check looks no further back) (repo b)")


# -- 8. several repositories: perfdata per repository ----------------------------------

def test_ok_two_repositories_add_labels_per_repository():
    check = run({"alpha": [snap("a1", age_ms=HOUR_MS, size_bytes=1000)],
                 "be ta": [snap("b0", age_ms=3 * HOUR_MS), snap("b1", "IN_PROGRESS", 10 * MIN)]})
    assert (check.exitcode, check.summary_str) == (0, "b1 IN_PROGRESS for 10m, last success 3h old (repo be_ta); "
                                                      "2 repositories OK")
    got = perf(check)
    assert got["age"] == "10800s;93600;180000;0" and got["running"] == "600s;93600;180000;0"
    assert got["alpha_age"] == "3600s;93600;180000;0" and got["be_ta_age"] == "10800s;93600;180000;0"
    assert got["alpha_size"] == "1000B;;;0" and got["be_ta_running"] == "600s;93600;180000;0"
    assert got["alpha_failed_streak"] == "0;;;0" and got["alpha_duration"] == "60s;;;0"


def test_crit_unreadable_repository_gets_no_invented_values():
    check = run({"a": [snap("a1")], "b": [snap("b1")]}, "-r", "a", "-r", "gone")
    labels = set(perf(check))
    assert check.exitcode == 2
    assert {"a_age", "a_running", "a_failed_streak"} <= labels
    assert not any(label.startswith("gone_") for label in labels)


def test_perfdata_labels_are_the_same_in_every_state():
    labels = set()
    for state in ("SUCCESS", "PARTIAL", "FAILED", "IN_PROGRESS"):
        check = run({"a": [snap("a0", age_ms=2 * HOUR_MS), snap("a1", state, MIN)],
                     "b": [snap("b0", age_ms=2 * HOUR_MS)]})
        labels.add(tuple(sorted(perf(check))))
    assert len(labels) == 1


# -- 9. repository lists --------------------------------------------------------------

def test_ok_comma_list_works_like_repeated_r():
    check = run({"alpha": [snap("a1")], "beta": [snap("b1")], "gamma": [snap("g1", "FAILED")]}, "-r", "alpha,beta")
    assert (check.exitcode, check.summary_str) == (0, "a1 SUCCESS, 1h old (repo alpha); 2 repositories OK")


def test_crit_missing_repository_lists_up_to_five_registered():
    check = run({f"r{i}": [snap(f"s{i}")] for i in range(7)}, "-r", "backups")
    assert (check.exitcode, check.summary_str) == (
        2, "repository 'backups' not found (registered: r0, r1, r2, r3, r4, ...)")


# -- 10. thresholds that cannot work -------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["-w", "2d", "-c", "1d"], "-w 2d is not below -c 1d: WARNING could never fire "
                               "(swap them: -w 1d -c 2d)"),
    (["--running-warning", "3h", "--running-critical", "3h"],
     "--running-warning 3h is not below --running-critical 3h: WARNING could never fire "
     "(give --running-warning a smaller age than --running-critical)"),
    (["--running-warning", "5h", "--running-critical", "3h"],
     "--running-warning 5h is not below --running-critical 3h: WARNING could never fire "
     "(swap them: --running-warning 3h --running-critical 5h)"),
])
def test_unknown_thresholds_that_cannot_work(args, message):
    with pytest.raises(UsageError) as caught:
        parse_settings(args, environ={})
    assert str(caught.value) == message


def test_explicit_ranges_stay_free():
    assert parse_settings(["-w", "@2d:3d", "-c", "1d"], environ={}).warning == "@172800:259200"


# -- 11. optional extras, OpenSearch snapshot management --------------------------------

def slm_cluster(family="es8", **policy):
    cluster = Cluster(family, {"b": [snap("nightly-1", age_ms=3 * HOUR_MS, policy="nightly")]})
    cluster.policies["nightly"] = {"repository": "b", "next_ms": NOW_MS + 20 * HOUR_MS,
                                   "last_success": (NOW_MS - 3 * HOUR_MS, "nightly-1"), **policy}
    return cluster


def sm_cluster(family="os2", **policy):
    cluster = Cluster(family, {"b": [snap("daily-1", age_ms=3 * HOUR_MS, policy="daily")]})
    cluster.sm_policies["daily"] = {"repository": "b", "next_ms": NOW_MS + 20 * HOUR_MS,
                                    "creation": ("SUCCESS", NOW_MS - 3 * HOUR_MS, "Snapshot created"), **policy}
    return cluster


def test_ok_opensearch_snapshot_management_policy_healthy():
    cluster = sm_cluster()
    check = run(None, "--slm", cluster=cluster)
    assert (check.exitcode, check.summary_str) == (0, "daily-1 SUCCESS, 3h old (repo b)")
    paths = [e["path"] for e in cluster.log]
    assert paths.index("/_plugins/_sm/policies") + 1 == paths.index("/_plugins/_sm/policies/daily/_explain")


@pytest.mark.parametrize("policy, line", [
    ({"enabled": False}, "SLM policy 'daily' is disabled: scheduled snapshots are not taken"),
    ({"creation": ("FAILED", NOW_MS - HOUR_MS, "repository is read-only")},
     "SLM policy 'daily' last run failed 1h ago: FAILED: repository is read-only"),
    ({"creation": ("TIME_LIMIT_EXCEEDED", NOW_MS - HOUR_MS, "")},
     "SLM policy 'daily' last run failed 1h ago: TIME_LIMIT_EXCEEDED"),
    ({"deletion": ("FAILED", NOW_MS - 2 * HOUR_MS, "access denied")},
     "SLM policy 'daily' last deletion failed 2h ago: access denied"),
    ({"next_ms": NOW_MS - 5 * HOUR_MS}, "SLM policy 'daily' missed its schedule (due 5h ago)"),
])
def test_warn_opensearch_snapshot_management_problem(policy, line):
    check = run(None, "--slm", cluster=sm_cluster(**policy))
    assert (check.exitcode, check.summary_str) == (1, line)


def test_crit_opensearch_named_policy_not_found():
    check = run(None, "--slm", "--slm-policy", "weekly", cluster=sm_cluster())
    assert check.exitcode == 2 and check.summary_str.startswith("SLM policy 'weekly' not found")


def test_ok_snapshot_verdict_stands_without_snapshot_management_in_json():
    from plugin.output import json_document as json_report
    cluster = sm_cluster("os1")
    check = run(None, "--slm", "--health", cluster=cluster)
    document = json.loads(json_report(check, check.resources[0]))
    assert (check.exitcode, check.summary_str) == (0, "daily-1 SUCCESS, 3h old (repo b)")
    assert document["notes"] == [
        f"--slm: OpenSearch {FAMILIES['os1'][1]} has no snapshot management (OpenSearch 2.1 or later)",
        f"--health: OpenSearch {FAMILIES['os1'][1]} has no health report (Elasticsearch 8.7 or later)"]


# -- the SLM mutation survivors and the grace --------------------------------------------

def test_ok_slm_policy_due_soon():
    """Mutation survivor 2: next run in 30 minutes is no missed schedule."""
    check = run(None, "--slm", cluster=slm_cluster(next_ms=NOW_MS + 30 * MIN))
    assert (check.exitcode, check.summary_str) == (0, "nightly-1 SUCCESS, 3h old (repo b)")


def test_ok_slm_policy_five_minutes_late():
    """The grace: a policy 5 minutes late has not missed its schedule."""
    check = run(None, "--slm", cluster=slm_cluster(next_ms=NOW_MS - 5 * MIN))
    assert (check.exitcode, check.summary_str) == (0, "nightly-1 SUCCESS, 3h old (repo b)")


def test_warn_slm_policy_61_minutes_late():
    check = run(None, "--slm", cluster=slm_cluster(next_ms=NOW_MS - 61 * MIN))
    assert (check.exitcode, check.summary_str) == (1, "SLM policy 'nightly' missed its schedule (due 1h1m ago)")


def test_ok_slm_old_failure_then_later_success():
    """Mutation survivor 3: a failure 30 h ago, a success since."""
    check = run(None, "--slm", cluster=slm_cluster(last_failure=(NOW_MS - 30 * HOUR_MS, "nightly-0", "boom")))
    assert (check.exitcode, check.summary_str) == (0, "nightly-1 SUCCESS, 3h old (repo b)")


# -- 12. readable reasons -------------------------------------------------------------

def test_warn_slm_failure_details_sent_as_json_are_readable():
    details = json.dumps({"type": "snapshot_exception", "reason": "[b:nightly-2] failed to create",
                          "stack_trace": "org.elasticsearch.snapshots.SnapshotException: ..."})
    check = run(None, "--slm", cluster=slm_cluster(last_failure=(NOW_MS - HOUR_MS, "nightly-2", details)))
    assert (check.exitcode, check.summary_str) == (
        1, "SLM policy 'nightly' last run failed 1h ago: snapshot_exception: [b:nightly-2] failed to create")


@pytest.mark.parametrize("age_s, line", [
    (93601, "newest success s is 1d3h old, more than 1d2h (repo b)"),
    (93660, "newest success s is 1d3h old, more than 1d2h (repo b)"),
    (97200, "newest success s is 1d3h old, more than 1d2h (repo b)"),
    (30 * 3600, "newest success s is 1d6h old, more than 1d2h (repo b)"),
])
def test_warn_age_shown_always_exceeds_the_limit_shown(age_s, line):
    check = run({"b": [snap("s", age_ms=age_s * S)]})
    assert (check.exitcode, check.summary_str) == (1, line)


def test_crit_failed_reason_is_cut_at_a_word_boundary():
    reason = ("[backups] failed to write snapshot metadata: access denied by the bucket policy "
              "of arn:aws:s3:::backups-prod for role es-snapshots")
    check = run({"b": [snap("ok", age_ms=2 * HOUR_MS), snap("nightly-7", "FAILED", 10 * MIN, reason=reason)]})
    assert (check.exitcode, check.summary_str) == (
        2, "nightly-7 FAILED 10m ago: [backups] failed to write snapshot metadata: access denied by the... "
           "(repo b)")
    assert len(check.summary_str) <= 120


# -- 15. -v shows history ----------------------------------------------------------------

def test_verbose_reads_the_last_ten_snapshots_with_one_more_pruned_request():
    daily = [snap(f"d{i:02d}", age_ms=i * DAY + HOUR_MS) for i in range(30)]
    cluster = Cluster("es8", {"b": daily})
    check = run(None, "-v", cluster=cluster)
    repo = check.resources[0].survey.repositories[0]
    assert [s.name for s in repo.snapshots[:10]] == [f"d{i:02d}" for i in range(10)]
    assert len(cluster.log) == 6  # /, _snapshot, window, long ones, _current, history
    history = cluster.log[-1]
    assert history["params"]["order"] == "desc" and history["params"]["size"] == "7"
    assert history["loads"] == 27  # only those started before the window, never the newer ones


def test_crit_failed_streak_says_when_it_could_not_count_further_back():
    failures = [snap(f"f{i}", "FAILED", i * HOUR_MS + MIN) for i in range(3)]
    cluster = Cluster("es8", {"b": failures + [snap("old-ok", age_ms=4000 * DAY)]})
    check = run(None, "--failed-streak-warning", "2", cluster=cluster)
    assert "at least 3 snapshots in a row not successful (older ones not read) (limit 2) (repo b)" in [
        r.hint for r in check.results]


def test_verbose_says_the_streak_is_a_lower_bound():
    """Twelve failures and the last success beyond the furthest look-back:
    -v says how many older ones it read and that the streak may be longer."""
    failures = [snap(f"f{i:02d}", "FAILED", i * HOUR_MS + MIN) for i in range(12)]
    cluster = Cluster("es8", {"b": failures + [snap("old-ok", age_ms=4000 * DAY)]})
    code, out, err = run_main(cluster, "-v", "--failed-streak-warning", "2")
    lines = out.splitlines()
    assert (code, err) == (2, "") and lines[0].startswith(
        "ES_SNAPSHOT CRITICAL - f00 FAILED 1m ago, no successful snapshot in the last 2y358d")
    assert lines[-3:-1] == ["  ... and 2 older", "  failed streak: at least 12; older snapshots were not read"]


def test_es_7_15_reads_every_snapshot_in_one_listing():
    """The newest alone settles nothing: an older snapshot may have ended
    (failed) after the newest success (tests/test_concurrent_judgement.py)."""
    cluster = Cluster("es7.15", {"b": [snap(f"d{i:02d}", age_ms=i * DAY + HOUR_MS) for i in range(30)]})
    check = run(None, "-v", cluster=cluster)
    repo = check.resources[0].survey.repositories[0]
    assert [s.name for s in repo.snapshots] == [f"d{i:02d}" for i in range(30)]
    assert [e["path"] for e in cluster.log] == ["/", "/_snapshot", "/_snapshot/b/_all", "/_snapshot/b/_current"]


def test_verbose_shows_opensearch_snapshot_management_policies():
    cluster = sm_cluster(deletion=("FAILED", NOW_MS - 2 * HOUR_MS, "access denied"))
    check = run(None, "--slm", "-v", cluster=cluster)
    lines = check.summary.verbose(check.results)
    assert "snapshot management (OpenSearch):" in lines
    assert any(line.startswith("  policy daily (repo b): last success ") and "last deletion failure" in line
               for line in lines), lines


# -- found by the mutation check (issue 15 item 8) -----------------------------------------

def test_crit_repository_the_listing_could_not_read():
    """ES >= 7.16 lists several repositories in one request; one it could not
    read comes back under "failures", not as an HTTP error."""
    cluster = Cluster("es8", {"a": [snap("a1")], "b": [snap("b1")]})
    good = {"snapshot": "a1", "repository": "a", "state": "SUCCESS", "start_time_in_millis": NOW_MS - HOUR_MS,
            "end_time_in_millis": NOW_MS - HOUR_MS + MIN, "duration_in_millis": MIN,
            "shards": {"total": 5, "failed": 0, "successful": 5}}
    body = {"snapshots": [good], "failures": {"b": {"type": "repository_exception",
                                                    "reason": "[b] could not read repository data"}}}
    cluster.overrides.append((r"^/_snapshot/a,b/\*$", Override(200, json.dumps(body).encode())))
    check = run(None, cluster=cluster)
    assert (check.exitcode, check.summary_str) == (
        2, "repository 'b' could not be read: [b] could not read repository data")


def test_crit_no_completed_snapshot_names_the_newest_running():
    check = run({"b": [snap("run-old", "IN_PROGRESS", 3 * HOUR_MS), snap("run-new", "IN_PROGRESS", HOUR_MS)]})
    assert (check.exitcode, check.summary_str) == (
        2, "run-new IN_PROGRESS for 1h, no completed snapshot in the last 2y358d (the check looks no further "
           "back) (repo b)")


def test_warn_recent_failures_count_only_the_snapshots_there_are():
    check = run({"b": [snap("s"), snap("f1", "FAILED", 2 * HOUR_MS), snap("f2", "FAILED", 3 * HOUR_MS)]},
                "--failed-in-last", "7", "--failed-recent-warning", "1")
    assert (check.exitcode, check.summary_str) == (1, "2 of the last 3 snapshots not successful (limit 1) (repo b)")


@pytest.mark.parametrize("family", ["es8", "es6"])  # from index_details, from _status
def test_ok_empty_snapshot_still_has_its_size_perfdata(family):
    check = run({"b": [snap("empty", size_bytes=0)]}, family=family)
    assert check.exitcode == 0
    assert perf(check)["size"] == "0B;;;0"


def test_crit_missing_repository_invents_no_failed_streak():
    check = run({"b": [snap("s")]}, "-r", "x")
    assert (check.exitcode, check.summary_str) == (2, "repository 'x' not found (registered: b)")
    assert perf(check) == {"failed_streak": "0;;;0", "running": "0s;93600;180000;0"}


def test_ok_opensearch_where_no_snapshot_management_policy_was_ever_created():
    """Before the first policy, OpenSearch has no config index: the policy
    list answers 404, which means "no policies", not a failure."""
    cluster = Cluster("os2", {"b": [snap("s")]})
    missing = {"error": {"type": "index_not_found_exception", "reason": "no such index [.opendistro-ism-config]"},
               "status": 404}
    cluster.overrides.append((r"^/_plugins/_sm/policies$", Override(404, json.dumps(missing).encode())))
    check = run(None, "--slm", cluster=cluster)
    assert (check.exitcode, check.summary_str) == (0, "s SUCCESS, 1h old (repo b)")
