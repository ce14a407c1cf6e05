"""A snapshot that started before the look-back window (ES >= 7.16) and
ended inside it: a long full snapshot that FAILED after hourly ones
succeeded is judged, though the window listing (bounded by start time) never
lists it; one more request (sort=duration, pruned by the cluster) finds it.
fake_es answers that request as Elasticsearch does."""
import pytest

from tests.conftest import HOUR_MS, NOW_MS
from tests.fake_es import Cluster, Snap
from tests.incheck import run_main

MIN_MS = 60_000
DAY_MS = 24 * HOUR_MS


def first_line(cluster, *args):
    code, out, _ = run_main(cluster, *args)
    return code, out.splitlines()[0].split(" | ")[0]


def listings(cluster):
    return [e for e in cluster.log if e["path"].startswith("/_snapshot/") and not e["path"].endswith("_current")]


def duration_requests(cluster):
    return [e for e in cluster.log if e["params"].get("sort") == "duration"]


def full_failed_after_three_days(policy_full="", policy_hourly=""):
    """A full snapshot started 3 days ago (before the default 2d3h window)
    FAILED 10 minutes ago; hourly snapshots succeeded the whole time."""
    full = Snap("full-0000", "FAILED", NOW_MS - 3 * DAY_MS, duration_ms=3 * DAY_MS - 10 * MIN_MS,
                reason="aborted", policy=policy_full)
    hourly = [Snap(f"hourly-{h:03d}", "SUCCESS", NOW_MS - h * HOUR_MS, policy=policy_hourly)
              for h in range(1, 80)]
    return [full] + hourly


@pytest.mark.parametrize("family", ["es8", "es7.17", "es9"])
def test_crit_failure_that_started_before_the_window_and_ended_inside_it(family):
    cluster = Cluster(family, {"backups": full_failed_after_three_days()})
    code, line = first_line(cluster)
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - full-0000 FAILED 3d ago: aborted, ended 10m ago, "
                               "after the last success hourly-001 (1h old) (repo backups)")
    (asked,) = duration_requests(cluster)
    assert asked["params"]["order"] == "asc"
    # Window 2d2h + 1 h; the newest success ended 59 min ago.
    assert int(asked["params"]["from_sort_value"]) == (2 * DAY_MS + 3 * HOUR_MS) - 59 * MIN_MS
    assert asked["loads"] == 1  # the cluster loaded the long snapshot alone


def test_crit_short_window_from_running_critical_and_critical():
    """-c 6h --running-critical 8h: the window is 9 h; the full snapshot ran
    longer than --running-critical allows, but has ended: its failure decides."""
    cluster = Cluster("es8", {"backups": full_failed_after_three_days()})
    code, line = first_line(cluster, "-w", "2h", "-c", "6h", "--running-critical", "8h")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - full-0000 FAILED 3d ago: aborted, ended 10m ago, "
                               "after the last success hourly-001 (1h old) (repo backups)")
    (asked,) = duration_requests(cluster)
    assert int(asked["params"]["from_sort_value"]) == 9 * HOUR_MS - 59 * MIN_MS


def test_crit_long_failure_of_one_policy_behind_another_policy_successes():
    snaps = full_failed_after_three_days(policy_full="full", policy_hourly="hourly")
    code, line = first_line(Cluster("es8", {"backups": snaps}))
    assert code == 2 and line.startswith("ES_SNAPSHOT CRITICAL - full-0000 FAILED 3d ago"), line


def test_ok_long_failure_that_a_later_success_ended_after():
    """The long full snapshot failed 2 h ago; an hourly success ended after
    it: resolved, as for any other failure (the request still finds it)."""
    snaps = full_failed_after_three_days()
    snaps[0] = Snap("full-0000", "FAILED", NOW_MS - 3 * DAY_MS, duration_ms=3 * DAY_MS - 2 * HOUR_MS)
    cluster = Cluster("es8", {"backups": snaps})
    assert first_line(cluster) == (0, "ES_SNAPSHOT OK - hourly-001 SUCCESS, 1h old (repo backups)")
    assert len(duration_requests(cluster)) == 1


def test_ok_nothing_long_costs_one_request_more_and_no_load():
    """Hourly successes only: the duration request returns nothing, the
    cluster loads no metadata for it, and a check makes 4 requests
    (_snapshot, the window, the duration request, _current: no GET /)."""
    cluster = Cluster("es8", {"backups": full_failed_after_three_days()[1:]})
    assert first_line(cluster) == (0, "ES_SNAPSHOT OK - hourly-001 SUCCESS, 1h old (repo backups)")
    assert len(cluster.log) == 4
    (asked,) = duration_requests(cluster)
    assert asked["loads"] == 0


def test_ok_one_duration_request_for_several_repositories():
    """The bound is the smallest any repository needs: one request for all."""
    repos = {"a": full_failed_after_three_days()[1:],
             "b": [Snap(f"d-{h}", "SUCCESS", NOW_MS - h * HOUR_MS) for h in (5, 29)]}
    cluster = Cluster("es8", repos)
    code, _ = first_line(cluster)
    assert code == 0
    (asked,) = duration_requests(cluster)
    assert asked["path"] == "/_snapshot/a,b/*"
    assert int(asked["params"]["from_sort_value"]) == (2 * DAY_MS + 3 * HOUR_MS) - 5 * HOUR_MS + MIN_MS


def test_crit_long_failure_in_the_repository_with_the_later_bound():
    """Repository a's newest success ended 59 min ago, b's 4h59m ago: the
    request's bound is b's, and a's long failure (longer than a's bound)
    is still found and kept for a alone."""
    repos = {"a": full_failed_after_three_days(),
             "b": [Snap(f"d-{h}", "SUCCESS", NOW_MS - h * HOUR_MS) for h in (5, 29)]}
    code, line = first_line(Cluster("es8", repos))
    assert code == 2 and "full-0000 FAILED 3d ago" in line and "(repo a)" in line, line


def test_crit_no_duration_request_without_a_success_in_any_window():
    """No success in the window: the widening reads further back instead,
    and with none in the widest window either there is no bound to ask for."""
    cluster = Cluster("es8", {"backups": [Snap("f-1", "FAILED", NOW_MS - HOUR_MS)]})
    code, _ = first_line(cluster)
    assert code == 2
    assert duration_requests(cluster) == []


def test_crit_no_duration_request_for_a_success_found_by_the_widening():
    """The only success is 10 days old (found by the 17d widening): it is
    older than -c, CRITICAL by its age whatever a long failure would add,
    so no request bounded by days is sent for it."""
    snaps = [Snap("old-1", "SUCCESS", NOW_MS - 10 * DAY_MS),
             Snap("huge-1", "FAILED", NOW_MS - 20 * DAY_MS, duration_ms=15 * DAY_MS)]
    cluster = Cluster("es8", {"backups": snaps})
    assert first_line(cluster) == (2, "ES_SNAPSHOT CRITICAL - newest success old-1 is 10d old, more than 2d2h "
                                      "(repo backups)")
    assert duration_requests(cluster) == []


@pytest.mark.parametrize("family", ["es7.10", "es7.15", "os2"])
def test_ok_legacy_listings_send_no_duration_request(family):
    """Below 7.16 and on OpenSearch the whole listing already holds it."""
    cluster = Cluster(family, {"backups": full_failed_after_three_days()})
    code, line = first_line(cluster)
    assert code == 2 and "full-0000 FAILED 3d ago" in line, line
    assert duration_requests(cluster) == []


def test_running_snapshot_started_before_the_window_is_no_duration_answer():
    """A running snapshot has end time 0 on Elasticsearch: its duration is
    negative, so it never passes an ascending from_sort_value (it is read
    from _current and judged by --running-*)."""
    snaps = full_failed_after_three_days()[1:] + [Snap("full-run", "IN_PROGRESS", NOW_MS - 3 * DAY_MS)]
    cluster = Cluster("es8", {"backups": snaps})
    status, body, _ = cluster.handle("/_snapshot/backups/*", {"sort": "duration", "order": "asc",
                                                             "from_sort_value": "0"})
    assert status == 200 and "full-run" not in [s["snapshot"] for s in body["snapshots"]]


def test_fake_es_sorts_and_prunes_by_duration_both_ways():
    snaps = [Snap("s1", start_ms=NOW_MS - 5 * HOUR_MS, duration_ms=3 * MIN_MS),
             Snap("s2", start_ms=NOW_MS - 4 * HOUR_MS, duration_ms=1 * MIN_MS),
             Snap("s3", start_ms=NOW_MS - 3 * HOUR_MS, duration_ms=2 * MIN_MS)]
    cluster = Cluster("es8", {"r": snaps})

    def names(**query):
        status, body, loads = cluster.handle("/_snapshot/r/*", {"sort": "duration", **query})
        assert status == 200
        return [s["snapshot"] for s in body["snapshots"]], loads

    assert names(order="asc") == (["s2", "s3", "s1"], 3)
    assert names(order="desc") == (["s1", "s3", "s2"], 3)
    assert names(order="asc", from_sort_value=str(2 * MIN_MS)) == (["s3", "s1"], 2)
    assert names(order="desc", from_sort_value=str(2 * MIN_MS)) == (["s3", "s2"], 2)


@pytest.mark.parametrize("family", ["es7.15", "os2", "os3"])
def test_fake_es_refuses_from_sort_value_by_duration_where_elasticsearch_does(family):
    cluster = Cluster(family, {"r": [Snap("s1", start_ms=NOW_MS - HOUR_MS)]})
    status, body, _ = cluster.handle("/_snapshot/r/*", {"sort": "duration", "order": "asc",
                                                        "from_sort_value": "1"})
    assert status == 400 and "unrecognized parameter" in body["error"]["reason"]
    assert "[from_sort_value]" in body["error"]["reason"]
