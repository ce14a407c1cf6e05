"""Judgement of snapshots that overlap (ES >= 7.8 runs them concurrently),
end in the same millisecond, or hold no index: each first line exact, on the
window listing (ES >= 7.16) and the legacy one (7.10), in-process."""
import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import HOUR_MS, NOW_MS
from tests.fake_es import Cluster, Snap
from tests.incheck import perf, run, run_main

MIN_MS = 60_000
FAMILIES = ("es8", "es7.10")


def first_line(cluster, *args):
    code, out, _ = run_main(cluster, *args)
    return code, out.splitlines()[0].split(" | ")[0]


def full_failing_behind_hourlies(policy_full="", policy_hourly=""):
    """The issue's case: a full snapshot starts 5 h ago and FAILS 10 minutes
    ago; hourly snapshots that started after it succeeded."""
    full = Snap("full-0000", "FAILED", NOW_MS - 5 * HOUR_MS, duration_ms=5 * HOUR_MS - 10 * MIN_MS,
                reason="aborted", policy=policy_full)
    hourly = [Snap(f"hourly-0{h}00", "SUCCESS", NOW_MS - (5 - h) * HOUR_MS + MIN_MS, policy=policy_hourly)
              for h in range(1, 5)]
    return [full] + hourly


@pytest.mark.parametrize("family", FAMILIES)
def test_crit_failure_that_ended_after_later_started_successes(family):
    code, line = first_line(Cluster(family, {"backups": full_failing_behind_hourlies()}))
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - full-0000 FAILED 5h ago: aborted, ended 10m ago, "
                               "after the last success hourly-0400 (59m old) (repo backups)")


@pytest.mark.parametrize("family", FAMILIES)
def test_ok_failure_that_a_success_ended_after(family):
    """The same failure, but the hourly snapshot that ended last came after it."""
    snaps = full_failing_behind_hourlies()
    snaps[-1] = Snap("hourly-0400", "SUCCESS", NOW_MS - 30 * MIN_MS)  # ends 29 min ago, after the full one
    snaps[0] = snaps[0].__class__(**{**snaps[0].__dict__, "duration_ms": 5 * HOUR_MS - 40 * MIN_MS})
    code, line = first_line(Cluster(family, {"backups": snaps}))
    assert (code, line) == (0, "ES_SNAPSHOT OK - hourly-0400 SUCCESS, 30m old (repo backups)")


def test_crit_one_policy_success_never_hides_another_policy_failure():
    """The full policy failed 3 h ago; hourly successes of another policy ended after."""
    snaps = [Snap("full-1", "FAILED", NOW_MS - 4 * HOUR_MS, duration_ms=HOUR_MS, policy="full")]
    snaps += [Snap(f"hourly-{h}", "SUCCESS", NOW_MS - h * HOUR_MS, policy="hourly") for h in (1, 2)]
    code, line = first_line(Cluster("es8", {"backups": snaps}))
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - full-1 FAILED 4h ago, no success of policy 'full' "
                               "since (repo backups)")


def test_crit_snapshots_of_no_policy_are_a_group_of_their_own():
    """A nightly taken by a script (no policy) failed; SLM's hourly ones succeeded after."""
    snaps = [Snap("nightly-1", "FAILED", NOW_MS - 3 * HOUR_MS)]
    snaps += [Snap(f"hourly-{h}", "SUCCESS", NOW_MS - h * HOUR_MS, policy="hourly") for h in (1, 2)]
    code, line = first_line(Cluster("es8", {"backups": snaps}))
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - nightly-1 FAILED 3h ago, no success without a policy "
                               "since (repo backups)")


def test_ok_a_policy_failure_its_own_later_success_resolved():
    snaps = [Snap("full-1", "FAILED", NOW_MS - 30 * HOUR_MS, policy="full"),
             Snap("full-2", "SUCCESS", NOW_MS - 6 * HOUR_MS, policy="full"),
             Snap("hourly-1", "SUCCESS", NOW_MS - HOUR_MS, policy="hourly")]
    code, line = first_line(Cluster("es8", {"backups": snaps}))
    assert (code, line) == (0, "ES_SNAPSHOT OK - hourly-1 SUCCESS, 1h old (repo backups)")


def test_crit_an_older_failure_behind_a_newer_partial_is_still_judged():
    """Every failure no success ended after is judged: the FAILED one decides."""
    snaps = [Snap("n-1", "SUCCESS", NOW_MS - 3 * HOUR_MS), Snap("n-2", "FAILED", NOW_MS - 2 * HOUR_MS),
             Snap("n-3", "PARTIAL", NOW_MS - HOUR_MS, shards_failed=1)]
    code, line = first_line(Cluster("es8", {"backups": snaps}))
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - n-2 FAILED 2h ago (repo backups)")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("failed, succeeded", [("a-full", "b-hourly"), ("b-full", "a-hourly")])
@pytest.mark.parametrize("sorted_listing", [True, False])
def test_crit_tie_in_the_same_millisecond_goes_to_the_worse_state(family, failed, succeeded, sorted_listing):
    snaps = [Snap(failed, "FAILED", NOW_MS - HOUR_MS), Snap(succeeded, "SUCCESS", NOW_MS - HOUR_MS)]
    for listed in (snaps, snaps[::-1]):
        cluster = Cluster(family, {"backups": listed}, sorted_listing=sorted_listing)
        assert first_line(cluster) == (2, f"ES_SNAPSHOT CRITICAL - {failed} FAILED 1h ago (repo backups)")


def test_warn_tie_partial_against_success_in_the_same_millisecond():
    snaps = [Snap("z-hourly", "SUCCESS", NOW_MS - HOUR_MS),
             Snap("a-full", "PARTIAL", NOW_MS - HOUR_MS, shards_failed=2)]
    assert first_line(Cluster("es8", {"backups": snaps})) == (
        1, "ES_SNAPSHOT WARNING - a-full PARTIAL 1h ago, 2/5 shards failed (repo backups)")


def test_crit_tie_across_repositories_names_the_failed_snapshot_in_the_perfdata():
    """duration/size/shards_failed are of the snapshot that ended last: at the
    same millisecond, the failed one of the other repository."""
    check = run({"a": [Snap("z-ok", "SUCCESS", NOW_MS - HOUR_MS, duration_ms=60_000)],
                 "b": [Snap("a-bad", "FAILED", NOW_MS - HOUR_MS, duration_ms=60_000, shards_failed=3)]})
    assert check.exitcode == 2
    assert perf(check)["shards_failed"] == "3;;;0"


def test_perfdata_duration_is_of_the_snapshot_that_ended_last():
    check = run({"backups": full_failing_behind_hourlies()})
    assert perf(check)["duration"] == f"{(5 * HOUR_MS - 10 * MIN_MS) // 1000}s;;;0"
    assert perf(check)["age"].startswith("3540s;")  # the success that started last


def test_ok_line_names_the_success_that_started_last_when_a_full_one_ended_later():
    snaps = [Snap("full-1", "SUCCESS", NOW_MS - 5 * HOUR_MS, duration_ms=5 * HOUR_MS - 10 * MIN_MS),
             Snap("hourly-1", "SUCCESS", NOW_MS - HOUR_MS)]
    code, line = first_line(Cluster("es8", {"backups": snaps}))
    assert (code, line) == (0, "ES_SNAPSHOT OK - hourly-1 SUCCESS, 1h old (repo backups)")


def test_failed_streak_counts_one_policy_not_broken_by_another_policy_success():
    snaps = []
    for run_ in range(3):  # the 6-hourly full fails three times running, hourlies succeed between
        snaps.append(Snap(f"full-{run_}", "FAILED", NOW_MS - (3 - run_) * 6 * HOUR_MS, policy="full"))
        snaps.append(Snap(f"hourly-{run_}", "SUCCESS", NOW_MS - (3 - run_) * 6 * HOUR_MS + HOUR_MS,
                          policy="hourly"))
    check = run({"backups": snaps}, "--failed-in-last", "4")
    assert check.exitcode == 2
    assert perf(check)["failed_streak"] == "3;;;0"
    assert perf(check)["failed_recent"] == "2;;;0"  # of the last 4 to end, whatever their policy


def test_failed_recent_counts_by_end_time():
    """The full snapshot that failed last is among the last 2 to end, though it started first."""
    check = run({"backups": full_failing_behind_hourlies()}, "--failed-in-last", "2")
    assert perf(check)["failed_recent"] == "1;;;0"


# -- a snapshot of no index ------------------------------------------------------------


def zero(name="s-zero", age_ms=0, **kw):
    return Snap(name, "SUCCESS", NOW_MS - age_ms, duration_ms=0, shards_total=0, size_bytes=0, indices=(), **kw)


@pytest.mark.parametrize("family", FAMILIES + ("os2",))
def test_warn_success_that_holds_no_index(family):
    assert first_line(Cluster(family, {"backups": [zero()]})) == (
        1, "ES_SNAPSHOT WARNING - s-zero SUCCESS, 0s old, holds no index (repo backups)")


@pytest.mark.parametrize("level, code, word", [("ok", 0, "OK"), ("warning", 1, "WARNING"),
                                               ("critical", 2, "CRITICAL"), ("unknown", 3, "UNKNOWN")])
def test_empty_snapshot_state_decides_its_level(level, code, word):
    cluster = Cluster("es8", {"backups": [Snap("older", "SUCCESS", NOW_MS - 2 * HOUR_MS), zero()]})
    assert first_line(cluster, "--empty-snapshot-state", level) == (
        code, f"ES_SNAPSHOT {word} - s-zero SUCCESS, 0s old, holds no index (repo backups)")


def test_ok_an_older_empty_success_followed_by_one_with_data():
    cluster = Cluster("es8", {"backups": [zero(age_ms=2 * HOUR_MS), Snap("data", "SUCCESS", NOW_MS - HOUR_MS)]})
    assert first_line(cluster) == (0, "ES_SNAPSHOT OK - data SUCCESS, 1h old (repo backups)")


def test_empty_success_counts_for_the_age():
    check = run({"backups": [Snap("old", "SUCCESS", NOW_MS - 30 * HOUR_MS), zero(age_ms=HOUR_MS)]})
    assert perf(check)["age"].startswith("3600s;")


def test_warn_empty_success_of_one_policy_beside_data_of_another():
    cluster = Cluster("es8", {"backups": [zero(age_ms=2 * HOUR_MS, policy="state-only"),
                                          Snap("data", "SUCCESS", NOW_MS - HOUR_MS, policy="nightly")]})
    assert first_line(cluster) == (
        1, "ES_SNAPSHOT WARNING - s-zero SUCCESS, 2h old, holds no index (repo backups)")


def test_unknown_empty_snapshot_state_typo_is_a_usage_error():
    code, out, _ = run_main(Cluster("es8", {}), "--empty-snapshot-state", "fine")
    assert code == 3 and out.startswith("ES_SNAPSHOT UNKNOWN - usage: argument --empty-snapshot-state")


# -- one set of facts for every view ---------------------------------------------------


def stuck_behind_a_success():
    """Stuck IN_PROGRESS for 30 h behind a newer success (issue 21)."""
    return {"backups": [Snap("stuck", "IN_PROGRESS", NOW_MS - 30 * HOUR_MS - 1000),
                        Snap("fresh", "SUCCESS", NOW_MS - HOUR_MS)],
            "logs": [Snap("l-1", "FAILED", NOW_MS - 2 * HOUR_MS), Snap("l-2", "SUCCESS", NOW_MS - 3 * HOUR_MS)]}


def exposition(repositories, *args):
    code, out, _ = run_main(Cluster("es8", repositories), "--format", "openmetrics", *args)
    return code, {(s.name, s.labels.get("repository")): s.value
                  for f in text_string_to_metric_families(out) for s in f.samples}


def test_openmetrics_running_is_the_longest_running_as_in_the_perfdata():
    check = run(stuck_behind_a_success())
    assert perf(check)["running"].startswith("108001s;") and perf(check)["backups_running"].startswith("108001s;")
    _, samples = exposition(stuck_behind_a_success())
    assert samples[("es_snapshot_running_seconds", "backups")] == 108001


def test_openmetrics_carries_failed_recent():
    _, samples = exposition(stuck_behind_a_success(), "--failed-in-last", "5")
    assert samples[("es_snapshot_failed_recent", "logs")] == 1
    assert samples[("es_snapshot_failed_recent", "backups")] == 0
    _, without = exposition(stuck_behind_a_success())
    assert not any(name == "es_snapshot_failed_recent" for name, _ in without)


def test_json_repositories_list_their_running_snapshots_and_facts():
    code, out, _ = run_main(Cluster("es8", stuck_behind_a_success()), "--format", "json", "--failed-in-last", "5")
    document = json.loads(out)
    backups, logs = document["repositories"]
    assert [s["name"] for s in backups["running"]] == ["stuck"] and logs["running"] == []
    assert backups["running"][0]["duration_s"] == 108001
    assert backups["facts"] == {"age": 3600, "duration": 60, "size": 5000000, "shards_failed": 0,
                                "running": 108001, "failed_streak": 0, "failed_recent": 0}
    assert logs["facts"]["failed_recent"] == 1 and logs["facts"]["failed_streak"] == 1
