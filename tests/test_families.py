"""Every version family: the same snapshots give the same verdict, at a cost
that does not grow with the repository where the cluster allows it."""
import pytest

from tests.conftest import HOUR_MS, NOW_MS, first_line
from tests.fake_es import FAMILIES, Cluster, Snap, _COMMON
from tests.incheck import judged

DAY_MS = 24 * HOUR_MS


def scenario(name, now):
    """Snapshots of repository 'backups' for a scenario, relative to now."""
    daily = [Snap(f"d{i}", "SUCCESS", now - 3 * HOUR_MS - i * DAY_MS, size_bytes=6_000_000) for i in range(5)]
    if name == "healthy":
        return daily
    if name == "failed":
        return daily + [Snap("bad", "FAILED", now - HOUR_MS, reason="bucket gone")]
    if name == "partial":
        return daily + [Snap("half", "PARTIAL", now - HOUR_MS, shards_failed=2)]
    if name == "running":
        return daily + [Snap("run", "IN_PROGRESS", now - 2 * HOUR_MS)]
    if name == "stale":
        return [Snap(f"d{i}", "SUCCESS", now - 5 * DAY_MS - i * DAY_MS) for i in range(3)]
    if name == "failing_for_days":
        return [Snap("ok", "SUCCESS", now - 4 * DAY_MS)] + [
            Snap(f"f{i}", "FAILED", now - i * DAY_MS - HOUR_MS) for i in range(3)]
    raise ValueError(name)


SCENARIOS = ["healthy", "failed", "partial", "running", "stale", "failing_for_days"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_verdict_on_every_family(inproc, name):
    servers = {family: inproc(Cluster(family, {"backups": scenario(name, NOW_MS)})) for family in FAMILIES}

    def verdict(family):
        code, out, err = inproc.run("--url", servers[family].url, "-r", "backups")
        assert err == ""
        perf_labels = sorted(p.split("=")[0] for p in out.splitlines()[0].split(" | ")[1].split()) \
            if " | " in out else []
        return code, first_line(out), perf_labels

    seen = {family: verdict(family) for family in FAMILIES}
    assert len(set(map(repr, seen.values()))) == 1, seen


def cost(family, count, *args, every_ms=HOUR_MS):
    """Requests and metadata loads of one check on a repository of ``count`` snapshots.

    The parameters are those of the requests other than ``_current``, in
    order: with -r it is sent ahead, next to the first listing (plan.py),
    and arrives before or after it."""
    snaps = [Snap(f"s{i:06d}", "SUCCESS", NOW_MS - 20 * 60_000 - i * every_ms) for i in range(count)]
    cluster = Cluster(family, {"backups": snaps})
    check = judged(cluster, *list(args))
    assert check.exitcode == 0, check.summary_str
    return len(cluster.log), cluster.metadata_loads, [e["params"] for e in cluster.log
                                                      if not e["path"].endswith("/_current")]


@pytest.mark.parametrize("count", [10, 1000, 20000])
def test_window_cost_is_flat_on_es_7_16_and_later(count):
    requests, loads, params = cost("es8", count, "-w", "2h", "-c", "4h")
    # _snapshot, the window, the snapshots that lasted longer than the window
    # (started before it, ended after its newest success: none here, so
    # nothing loaded), and the running snapshots from the cluster state (no
    # GET /: the cluster accepting the window says it is 7.16 or later)
    assert requests == 4 and loads <= 6
    (window,) = [p for p in params if p.get("sort") == "start_time"]
    assert window["order"] == "asc" and window["index_details"] == "true"
    (lasted,) = [p for p in params if p.get("sort") == "duration"]
    assert lasted["order"] == "asc"


def test_two_repositories_are_one_listing_on_es_7_16():
    cluster = Cluster("es9", {r: [Snap(f"{r}1", "SUCCESS", NOW_MS - HOUR_MS)] for r in ("a", "b")})
    judged(cluster)
    assert sorted(e["path"] for e in cluster.log) == ["/_snapshot", "/_snapshot/a,b/*", "/_snapshot/a,b/*",
                                                      "/_snapshot/a,b/_current"]


def test_whole_listing_on_es_7_14():
    """The newest alone settles nothing once snapshots overlap (judged by end
    time); the server loaded all for size=1 as well: the same loads."""
    requests, loads, params = cost("es7.15", 1000, "-w", "2h", "-c", "4h")
    # _snapshot, the 7.16 window refused (400, before any load), /, then its own
    # whole listing and _current (nothing is sent ahead once a connection is up)
    assert requests == 5 and "size" not in params[3]
    assert loads == 1000


@pytest.mark.parametrize("family", ["es5", "es7.10", "os2"])
def test_plain_listing_where_nothing_else_is_accepted(family):
    requests, loads, params = cost(family, 100)
    # _snapshot, the 7.16 window refused (400, before any load), /, then the plain listing
    assert set(params[3]) == {"filter_path"}  # ignore_unavailable only once a snapshot is named unreadable
    assert requests == 5 and loads == 100 + 5  # the listing, then _status of one 5-shard snapshot


def test_no_size_skips_status():
    requests, _, params = cost("es6", 100, "--no-size")
    assert requests == 4 and not any("index_details" in p for p in params)


def test_index_details_replace_status_on_7_13():
    requests, loads, params = cost("es7.13", 100)
    assert requests == 4 and params[3]["index_details"] == "true" and loads == 100


def test_falls_back_once_when_a_parameter_is_rejected():
    """A cluster that claims 8.x but rejects the 7.16 parameters (a proxy, a fork)."""
    snaps = [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]
    cluster = Cluster("es8", {"backups": snaps})
    cluster.accepts = lambda param: param in _COMMON
    check = judged(cluster)
    assert check.exitcode == 0
    # _snapshot, the 7.16 window refused, / (says 8.x), the window again, the plain listing;
    # _current, sent ahead next to each window, goes unused.
    log = [e for e in cluster.log if not e["path"].endswith("/_current")]
    assert [e["status"] for e in log] == [200, 400, 200, 400, 200]
    assert set(log[-1]["params"]) == {"filter_path"}


def test_window_widens_once_to_name_the_last_success():
    snaps = [Snap("old", "SUCCESS", NOW_MS - 5 * DAY_MS)]
    cluster = Cluster("es8", {"backups": snaps})
    check = judged(cluster, *["-w", "1d", "-c", "2d"])
    assert check.summary_str == "newest success old is 5d old, more than 2d (repo backups)"
    windows = [int(e["params"]["from_sort_value"]) for e in cluster.log if "from_sort_value" in e["params"]]
    assert [NOW_MS - w for w in windows] == [(2 * 86400 + 3600) * 1000, 8 * (2 * 86400 + 3600) * 1000]


def test_no_window_when_critical_is_no_upper_bound():
    requests, loads, params = cost("es8", 50, "-c", "@1h:2h")
    assert "from_sort_value" not in params[2] and loads == 50
